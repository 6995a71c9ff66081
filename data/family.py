"""Family helpers (亲情助手): codes, the parent's yes, unlinking and who may act for whom.

A parent asks for a code; a helper sends it from their own WeChat (the code is then used up); the parent
says yes (recorded as consent with its time and channel) and only then the link is active. At most
`MAX_HELPERS` helpers per parent; a helper may have several parents. Flushes, never commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from .errors import InvalidInput, NotFound, YinlingError
from .models import Consent, Signup, Volunteer
from .models_family import FamilyLink, LinkState

MAX_HELPERS = 3
CODE_TTL = timedelta(hours=24)
CODE_DIGITS = 6
Digest = Callable[[str], str]


class TooManyHelpers(YinlingError):
    code = "too_many_helpers"


def plain_digest(code: str) -> str:
    """Without a configured secret (a console without a vault): still never the code itself."""
    return hashlib.sha256(f"family-code:{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def active_count(session: Session, parent_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(FamilyLink).where(
        FamilyLink.parent_id == parent_id, FamilyLink.state == LinkState.ACTIVE)) or 0)


def issue_code(session: Session, parent_id: int, now: datetime, digest: Digest, relation: str | None = None,
               helper_name: str | None = None) -> tuple[FamilyLink, str]:
    """A fresh code for the parent (an earlier unused one stops working). Raises TooManyHelpers."""
    if active_count(session, parent_id) >= MAX_HELPERS:
        raise TooManyHelpers(f"volunteer {parent_id} has {MAX_HELPERS} helpers")
    session.execute(update(FamilyLink).where(
        FamilyLink.parent_id == parent_id, FamilyLink.state == LinkState.PENDING,
        FamilyLink.helper_id.is_(None)).values(state=LinkState.UNLINKED, code_hash=None, ended_at=now))
    for _ in range(20):
        code = new_code()
        hashed = digest(code)
        if session.scalar(select(FamilyLink.id).where(FamilyLink.code_hash == hashed)) is None:
            break
    else:  # pragma: no cover - a million codes and twenty collisions in a row
        raise InvalidInput("no free family code")
    link = FamilyLink(parent_id=parent_id, relation=relation, helper_name=helper_name, state=LinkState.PENDING,
                      code_hash=hashed, code_expires_at=now + CODE_TTL, ring_on_handoff=False, created_at=now)
    session.add(link)
    session.flush()
    return link, code


@dataclass(frozen=True)
class Claim:
    link: FamilyLink | None
    problem: str | None = None  # unknown | self | already | full


def find_code(session: Session, code: str, now: datetime, digest: Digest) -> FamilyLink | None:
    """The open link this code belongs to, if it is live (nothing changes)."""
    link = session.scalars(select(FamilyLink).where(
        FamilyLink.code_hash == digest(code), FamilyLink.state == LinkState.PENDING,
        FamilyLink.helper_id.is_(None))).first()
    if link is None or link.code_expires_at is None or link.code_expires_at <= now:
        return None
    return link


def claim(session: Session, code: str, helper_id: int, now: datetime, digest: Digest) -> Claim:
    """A helper sent a code: the link waits for the parent's yes; the code is used up either way."""
    link = session.scalars(select(FamilyLink).where(
        FamilyLink.code_hash == digest(code), FamilyLink.state == LinkState.PENDING,
        FamilyLink.helper_id.is_(None))).first()
    if link is None or link.code_expires_at is None or link.code_expires_at <= now:
        if link is not None:
            link.code_hash, link.state, link.ended_at = None, LinkState.UNLINKED, now
            session.flush()
        return Claim(None, "unknown")
    link.code_hash = None  # single use
    if link.parent_id == helper_id:
        link.state, link.ended_at = LinkState.UNLINKED, now
        session.flush()
        return Claim(None, "self")
    if between(session, helper_id, link.parent_id) is not None:
        link.state, link.ended_at = LinkState.UNLINKED, now
        session.flush()
        return Claim(None, "already")
    link.helper_id, link.claimed_at = helper_id, now
    session.flush()
    return Claim(link)


def request_by_phone(session: Session, parent: Volunteer, helper_id: int, now: datetime,
                     elder_word: str | None = None) -> Claim:
    """A helper names the parent by phone number (a parent with a basic phone): a link waiting for the
    parent's yes, asked by SMS. Same rules as a code: not oneself, not twice, at most MAX_HELPERS."""
    if parent.id == helper_id:
        return Claim(None, "self")
    if between(session, helper_id, parent.id) is not None:
        return Claim(None, "already")
    if active_count(session, parent.id) >= MAX_HELPERS:
        return Claim(None, "full")
    link = FamilyLink(parent_id=parent.id, helper_id=helper_id, state=LinkState.PENDING, elder_word=elder_word,
                      claimed_at=now, ring_on_handoff=False, created_at=now)
    session.add(link)
    session.flush()
    return Claim(link)


def awaiting(session: Session, parent_id: int) -> FamilyLink | None:
    """The latest link a helper has claimed and the parent has not answered yet."""
    return session.scalars(select(FamilyLink).where(
        FamilyLink.parent_id == parent_id, FamilyLink.state == LinkState.PENDING,
        FamilyLink.helper_id.is_not(None)).order_by(FamilyLink.id.desc())).first()


def decide(session: Session, link_id: int, parent_id: int, yes: bool, channel: str, now: datetime) -> FamilyLink:
    """The parent's answer: yes makes the link active and records the consent; no ends it."""
    link = session.get(FamilyLink, link_id)
    if link is None or link.parent_id != parent_id or link.state != LinkState.PENDING or link.helper_id is None:
        raise NotFound(f"family link {link_id}")
    if yes:
        if active_count(session, parent_id) >= MAX_HELPERS:
            raise TooManyHelpers(f"volunteer {parent_id} has {MAX_HELPERS} helpers")
        link.state, link.consent_at, link.consent_channel = LinkState.ACTIVE, now, channel
    else:
        link.state, link.ended_at, link.ended_by = LinkState.UNLINKED, now, parent_id
    session.add(Consent(volunteer_id=parent_id, kind="family", granted=yes, channel=channel, at=now))
    session.flush()
    return link


def unlink(session: Session, link_id: int, by_id: int, now: datetime) -> FamilyLink:
    """Either side ends an active (or waiting) link; the consent is withdrawn when the parent ends it."""
    link = session.get(FamilyLink, link_id)
    if link is None or by_id not in (link.parent_id, link.helper_id) or link.state == LinkState.UNLINKED:
        raise NotFound(f"family link {link_id}")
    link.state, link.ended_at, link.ended_by, link.code_hash = LinkState.UNLINKED, now, by_id, None
    if by_id == link.parent_id:
        session.add(Consent(volunteer_id=by_id, kind="family", granted=False, channel=None, at=now))
    session.flush()
    return link


def set_ring(session: Session, link_id: int, parent_id: int, on: bool) -> FamilyLink:
    """The parent's choice: a hand-off (`9`) also tells this helper."""
    link = session.get(FamilyLink, link_id)
    if link is None or link.parent_id != parent_id or link.state != LinkState.ACTIVE:
        raise NotFound(f"family link {link_id}")
    link.ring_on_handoff = on
    session.flush()
    return link


def helpers_of(session: Session, parent_id: int) -> list[FamilyLink]:
    return list(session.scalars(select(FamilyLink).where(
        FamilyLink.parent_id == parent_id, FamilyLink.state == LinkState.ACTIVE).order_by(FamilyLink.id)))


def parents_of(session: Session, helper_id: int) -> list[FamilyLink]:
    return list(session.scalars(select(FamilyLink).where(
        FamilyLink.helper_id == helper_id, FamilyLink.state == LinkState.ACTIVE).order_by(FamilyLink.id)))


def links_of(session: Session, volunteer_id: int) -> list[FamilyLink]:
    """Active links on either side."""
    return list(session.scalars(select(FamilyLink).where(
        or_(FamilyLink.parent_id == volunteer_id, FamilyLink.helper_id == volunteer_id),
        FamilyLink.state == LinkState.ACTIVE).order_by(FamilyLink.id)))


def between(session: Session, helper_id: int, parent_id: int) -> FamilyLink | None:
    """The active link that lets `helper_id` act for `parent_id`, or None."""
    return session.scalars(select(FamilyLink).where(
        FamilyLink.helper_id == helper_id, FamilyLink.parent_id == parent_id,
        FamilyLink.state == LinkState.ACTIVE)).first()


def mark_made_by(session: Session, signup_id: int, helper_id: int, parent_id: int) -> Signup:
    """家人代报: the sign-up is the parent's, made by this linked helper."""
    signup = session.get(Signup, signup_id)
    if signup is None or signup.volunteer_id != parent_id or between(session, helper_id, parent_id) is None:
        raise NotFound(f"signup {signup_id}")
    signup.made_by_helper_id = helper_id
    session.flush()
    return signup


def contacts(session: Session, parent_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """Family contacts for a roster: parent id → [(the parent's word for the helper, masked phone)], only
    helpers who left a number; never the full number."""
    out: dict[int, list[tuple[str, str]]] = {}
    if not parent_ids:
        return out
    rows = session.execute(select(FamilyLink.parent_id, FamilyLink.relation, Volunteer.phone_masked)
                           .join(Volunteer, Volunteer.id == FamilyLink.helper_id)
                           .where(FamilyLink.parent_id.in_(parent_ids), FamilyLink.state == LinkState.ACTIVE,
                                  Volunteer.phone_masked.is_not(None))
                           .order_by(FamilyLink.id)).all()
    for parent_id, relation, masked in rows:
        out.setdefault(parent_id, []).append((relation or "家人", masked or ""))
    return out


def forget(session: Session, volunteer_id: int) -> list[int]:
    """删除我的信息 on either side: every link of the person is removed; returns who was on the other side
    of an active link (to be told)."""
    rows = session.execute(select(FamilyLink.parent_id, FamilyLink.helper_id).where(
        or_(FamilyLink.parent_id == volunteer_id, FamilyLink.helper_id == volunteer_id),
        FamilyLink.state == LinkState.ACTIVE)).all()
    others = sorted({p if h == volunteer_id else h for p, h in rows if h is not None} - {volunteer_id})
    session.execute(delete(FamilyLink).where(
        or_(FamilyLink.parent_id == volunteer_id, FamilyLink.helper_id == volunteer_id)))
    session.execute(update(Signup).where(Signup.made_by_helper_id == volunteer_id).values(made_by_helper_id=None))
    session.flush()
    return others


def parent_title(parent: Volunteer, link: FamilyLink | None = None) -> str:
    """How a helper's copy names the parent: the helper's own word (母亲), else by gender, else 家人."""
    if link is not None and link.elder_word:
        return link.elder_word
    return {"女": "母亲", "男": "父亲"}.get(parent.gender or "", "家人")
