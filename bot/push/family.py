"""亲情助手 copies: a parent's reminders, changes, review results and activity notices also go to the parent's
active family helpers, as extra deliveries of the same notice with their own text ("您母亲张桂兰：…")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from data.family import parent_title
from data.models import Volunteer
from data.models_family import FamilyLink, LinkState
from data.models_push import Delivery, Notice

from . import texts

D = Delivery.__table__
# About the parent's own activities; a coordinator's notice only when it is about one activity.
COPY_KINDS = frozenset({"reminder_day", "reminder_2h", "promoted", "review_result", "changed", "cancelled",
                        "notice"})


def add_copies(s: Session, notice: Notice, now: datetime, batch_size: int) -> int:
    """Delivery rows for the helpers of the notice's recipients (idempotent: one row per notice and
    person, so a helper who is also a recipient keeps their own message). Returns rows added."""
    if notice.kind not in COPY_KINDS or notice.audience.get("kind") == "coordinators":
        return 0
    if notice.kind == "notice" and notice.activity_id is None:
        return 0
    recipients = select(D.c.volunteer_id).where(D.c.notice_id == notice.id, D.c.volunteer_id.isnot(None),
                                                D.c.status != "skipped")
    rows = s.execute(select(FamilyLink, Volunteer).join(Volunteer, Volunteer.id == FamilyLink.parent_id).where(
        FamilyLink.state == LinkState.ACTIVE, FamilyLink.helper_id.isnot(None),
        FamilyLink.parent_id.in_(recipients)).order_by(FamilyLink.id)).all()
    if not rows:
        return 0
    have = set(s.scalars(select(D.c.volunteer_id).where(D.c.notice_id == notice.id, D.c.volunteer_id.isnot(None))))
    n = int(s.scalar(select(func.count()).select_from(D).where(D.c.notice_id == notice.id)) or 0)
    new: list[dict[str, object]] = []
    for link, parent in rows:
        if link.helper_id in have:
            continue
        have.add(link.helper_id)
        body = texts.family_copy(parent_title(parent, link), parent.name or "", notice.body)
        new.append({"notice_id": notice.id, "volunteer_id": link.helper_id, "coordinator_id": None,
                    "batch": n // batch_size, "status": "queued", "reason": None, "attempts": 0, "body": body,
                    "updated_at": now})
        n += 1
    if new:
        s.execute(insert(D), new)
    return len(new)


def ring_helpers(s: Session, parent_id: int) -> list[tuple[int, str]]:
    """A parent asked for a person (`9`): the helpers the parent chose to tell, with the words for each."""
    rows = s.execute(select(FamilyLink, Volunteer).join(Volunteer, Volunteer.id == FamilyLink.parent_id).where(
        FamilyLink.parent_id == parent_id, FamilyLink.state == LinkState.ACTIVE,
        FamilyLink.ring_on_handoff.is_(True), FamilyLink.helper_id.isnot(None)).order_by(FamilyLink.id)).all()
    return [(int(link.helper_id), texts.family_handoff(parent_title(parent, link), parent.name or ""))
            for link, parent in rows if link.helper_id is not None]
