"""Review of pending sign-ups (审核), the database part: the admin pages, the escalation job and the
coordinator chat all decide through `decide`; telling the volunteer is the push layer's job."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from .errors import InvalidInput
from .models import Activity, ActivityStatus, Signup, SignupStatus
from .models_push import ReviewEscalation
from .services import promote_waitlist


@dataclass
class ReviewResult:
    signup: Signup
    promoted: list[Signup] = field(default_factory=list)  # a decline frees a place: the waitlist moves up


def decide(session: Session, signup_id: int, approve: bool, coordinator_id: int | None, now: datetime,
           outcome: str | None = None) -> ReviewResult:
    """Approve or decline a pending sign-up and record the decision on the review ladder. No commit."""
    signup = session.get(Signup, signup_id)
    if signup is None or signup.status != SignupStatus.PENDING:
        raise InvalidInput("这个报名已经处理过了")
    act = signup.activity
    signup.status = SignupStatus.CONFIRMED if approve else SignupStatus.CANCELLED
    signup.updated_at = now
    signup.reviewed_by = coordinator_id
    if approve:
        signup.confirmed_at = now
    else:
        signup.cancelled_at = now
    esc = session.get(ReviewEscalation, signup_id) or ReviewEscalation(signup_id=signup_id)
    esc.decided_at, esc.outcome = now, outcome or ("approved" if approve else "declined")
    session.add(esc)
    session.flush()
    promoted = promote_waitlist(session, act, now) if not approve and act.starts_at > now else []
    return ReviewResult(signup, promoted)


def pending_signups(session: Session, team_ids: Iterable[int], now: datetime) -> list[Signup]:
    """Pending sign-ups of these teams' upcoming published activities, oldest first."""
    ids = list(team_ids)
    if not ids:
        return []
    return list(session.scalars(
        select(Signup).join(Activity, Activity.id == Signup.activity_id)
        .options(joinedload(Signup.activity).joinedload(Activity.place), joinedload(Signup.volunteer))
        .where(Signup.status == SignupStatus.PENDING, Activity.team_id.in_(ids),
               Activity.status == ActivityStatus.PUBLISHED, Activity.starts_at > now)
        .order_by(Signup.created_at, Signup.id)).unique())
