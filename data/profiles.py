"""Volunteer-profile helpers the conversation needs: consent, places, contacts, merge and forget.

Like the services, these flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from .models import (
    LIVE_SIGNUP,
    Activity,
    ChannelIdentity,
    Consent,
    Coordinator,
    MessageLog,
    Place,
    PlaceLevel,
    ServiceRecord,
    Signup,
    SignupStatus,
    Team,
    TeamCoordinator,
    TeamMember,
    Volunteer,
)

# -- consent ------------------------------------------------------------------------------------
_CONSENTS = "consents_recorded"  # session.info: {(volunteer id, kind): granted} recorded in this session


def consent_state(session: Session, volunteer_id: int, kind: str) -> bool | None:
    """The latest decision of this kind: True granted, False withdrawn, None never asked."""
    recorded = session.info.get(_CONSENTS, {}).get((volunteer_id, kind))
    if recorded is not None:  # decided in this session (this turn): the latest, no need to read it back
        return bool(recorded)
    row = session.scalars(
        select(Consent)
        .where(Consent.volunteer_id == volunteer_id, Consent.kind == kind)
        .order_by(Consent.at.desc(), Consent.id.desc())
        .limit(1)
    ).first()
    return None if row is None else row.granted


def record_consent(
    session: Session, volunteer_id: int, kind: str, granted: bool, channel: str | None, now: datetime
) -> None:
    """Record a decision; written with the next flush (two decisions in a row: one statement)."""
    session.add(Consent(volunteer_id=volunteer_id, kind=kind, granted=granted, channel=channel, at=now))
    session.info.setdefault(_CONSENTS, {})[(volunteer_id, kind)] = granted


# -- places -------------------------------------------------------------------------------------
def find_place(session: Session, name: str) -> Place | None:
    """A place by exact name; when several share it, the most specific (deepest) one."""
    rows = list(session.scalars(select(Place).where(Place.name == name)))
    if not rows:
        return None
    return max(rows, key=lambda p: (p.path.count("/"), -p.id))


def ancestors(session: Session, place: Place) -> list[Place]:
    """The place's chain from the top (盟/市) down to the place itself."""
    ids = [int(x) for x in place.path.strip("/").split("/") if x]
    if not ids:
        return [place]
    found = {p.id: p for p in session.scalars(select(Place).where(Place.id.in_(ids)))}
    return [found[i] for i in ids if i in found] or [place]


def ancestor_at(session: Session, place: Place, level: PlaceLevel) -> Place | None:
    return next((p for p in ancestors(session, place) if p.level == level), None)


# -- contacts -----------------------------------------------------------------------------------
def team_contact(session: Session, team_id: int) -> Coordinator | None:
    """The team's leader, or any of its coordinators."""
    row = session.execute(
        select(Coordinator)
        .join(TeamCoordinator, TeamCoordinator.coordinator_id == Coordinator.id)
        .where(TeamCoordinator.team_id == team_id)
        .order_by(TeamCoordinator.is_leader.desc(), Coordinator.id)
        .limit(1)
    ).scalar_one_or_none()
    return row


def coordinator_for(
    session: Session, volunteer: Volunteer, activity: Activity | None = None
) -> tuple[Coordinator | None, Team | None]:
    """Who answers this volunteer: the activity's team, else the nearest team above their home place."""
    if activity is not None:
        coord = team_contact(session, activity.team_id)
        if coord is not None:
            return coord, session.get(Team, activity.team_id)
    home = session.get(Place, volunteer.home_place_id) if volunteer.home_place_id else None
    if home is not None:
        chain = ancestors(session, home)
        depth = {p.id: i for i, p in enumerate(chain)}
        teams = [t for t in session.scalars(select(Team).where(Team.place_id.in_(list(depth)))).all()]
        teams.sort(key=lambda t: (-depth.get(t.place_id or 0, -1), t.id))
        for team in teams:
            coord = team_contact(session, team.id)
            if coord is not None:
                return coord, team
        area = session.scalars(
            select(Coordinator).where(Coordinator.area_place_id.in_(list(depth))).order_by(Coordinator.id)
        ).all()
        if area:
            best = max(area, key=lambda c: depth.get(c.area_place_id or 0, -1))
            return best, None
    member_team = session.scalars(
        select(Team).join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.volunteer_id == volunteer.id).order_by(Team.id).limit(1)
    ).first()
    if member_team is not None:
        coord = team_contact(session, member_team.id)
        if coord is not None:
            return coord, member_team
    fallback = session.scalars(
        select(Coordinator).order_by(Coordinator.is_operator.desc(), Coordinator.id).limit(1)
    ).first()
    return fallback, None


# -- the conversation log -------------------------------------------------------------------------
LOG_QUEUE = "message_log_queue"  # session.info: this turn's message_log rows, not yet written
# Core, executed with dicts of values: compiled once, cached; no unit of work to flush.
_LOG_INSERT = insert(MessageLog.__table__)  # type: ignore[arg-type]


def queue_log(session: Session, row: dict[str, Any]) -> None:
    """Keep a message_log row (a dict of its columns) to be written with the turn's other lines in one
    statement (`write_queued_log`), or earlier by whatever reads or changes the log in between."""
    session.info.setdefault(LOG_QUEUE, []).append(row)


def write_queued_log(session: Session, *more: dict[str, Any]) -> None:
    """Write the queued message_log rows and `more`, in one statement (none when there are none)."""
    rows = [*session.info.pop(LOG_QUEUE, ()), *more]
    if rows:
        session.execute(_LOG_INSERT, rows)


def recent_transcript(session: Session, volunteer_id: int, limit: int = 12) -> list[str]:
    """The volunteer's last messages both ways, oldest first, as `in: …` / `out: …` lines."""
    write_queued_log(session)  # the message that asked for a person belongs in it
    rows = list(
        session.scalars(
            select(MessageLog)
            .where(MessageLog.volunteer_id == volunteer_id)
            .order_by(MessageLog.created_at.desc(), MessageLog.id.desc())
            .limit(limit)
        )
    )
    rows.reverse()
    return [f"{r.direction}: {r.text}" for r in rows]


def join_team(session: Session, volunteer_id: int, team_id: int, now: datetime) -> bool:
    """Add the volunteer to the team; False when the team does not exist. Idempotent."""
    if session.get(Team, team_id) is None:
        return False
    if session.get(TeamMember, (team_id, volunteer_id)) is None:
        session.add(TeamMember(team_id=team_id, volunteer_id=volunteer_id, joined_at=now))
        session.flush()
    return True


# -- opt-out, forget, merge ---------------------------------------------------------------------
def set_notices(session: Session, volunteer: Volunteer, channel: str, on: bool, now: datetime,
                reason: str = "user") -> None:
    """Turn notices on or off for the volunteer, marking their identities on this channel."""
    volunteer.notices_opt_out = not on
    for ident in volunteer.identities:
        if ident.channel == channel:
            ident.opted_out_at = None if on else now
            ident.opted_out_reason = None if on else reason
    record_consent(session, volunteer.id, "notices", on, channel, now)


def forget_volunteer(session: Session, volunteer: Volunteer, channel: str | None, now: datetime) -> list[Signup]:
    """删除我的信息 / unfollowing: delete everything that leads back to the person.

    Gone: name, phone (ciphertext, keyed hash, masked form), home, preferences, position, every channel
    identity (openid, the SMS number's hash: the next message starts a new record, nothing re-links),
    the conversation log, consents, team memberships, notice deliveries and pending verification codes.
    Kept, without a way back: sign-ups and service records (志愿服务记录按规定保存) on the emptied record.
    Upcoming live sign-ups are cancelled (nobody can be reminded of them any more); they are returned so
    the caller can promote the waitlist. `channel` is where the request came from (for the caller's log).
    """
    from .models_push import Delivery, Notice

    vid = volunteer.id
    volunteer.name = None
    volunteer.gender = None
    volunteer.birth_year = None
    volunteer.home_place_id = None
    volunteer.phone_enc = None
    volunteer.phone_hash = None
    volunteer.phone_masked = None
    volunteer.skills = []
    volunteer.categories = []
    volunteer.availability = 0
    volunteer.last_lat = None
    volunteer.last_lon = None
    volunteer.notices_opt_out = True
    volunteer.read_aloud = False
    volunteer.recommend_opt_out = True
    volunteer.deleted_at = now
    for ident in list(volunteer.identities):
        volunteer.identities.remove(ident)
        session.delete(ident)
    session.flush()
    write_queued_log(session)
    session.execute(delete(MessageLog).where(MessageLog.volunteer_id == vid))
    session.execute(delete(Consent).where(Consent.volunteer_id == vid))
    session.info.pop(_CONSENTS, None)
    session.execute(delete(TeamMember).where(TeamMember.volunteer_id == vid))
    session.execute(delete(Delivery).where(Delivery.volunteer_id == vid))
    session.execute(delete(Notice).where(Notice.kind == "bind_code", Notice.key.startswith(f"bind:{vid}:")))
    session.execute(update(Coordinator).where(Coordinator.volunteer_id == vid).values(volunteer_id=None))
    from .family import forget as forget_family  # family links of either side (亲情助手)

    forget_family(session, vid)
    session.expire(volunteer, ["consents", "identities"])
    cancelled = list(
        session.scalars(
            select(Signup).join(Activity, Activity.id == Signup.activity_id).where(
                Signup.volunteer_id == vid, Signup.status.in_(LIVE_SIGNUP), Activity.starts_at > now
            )
        )
    )
    for s in cancelled:
        s.status = SignupStatus.CANCELLED
        s.cancelled_at = now
        s.updated_at = now
    session.flush()
    return cancelled


RETENTION_DAYS = 730  # 隐私说明：您不再参加后保存两年


def enforce_retention(session: Session, now: datetime, days: int = RETENTION_DAYS) -> dict[str, int]:
    """保存两年: forget every volunteer with no sign-up, message or record for `days`, and delete
    conversation lines and verification-code notices older than that. Idempotent; flushes, never commits.
    """
    from .models_push import Notice

    cutoff = now - timedelta(days=days)
    last_message = (select(ChannelIdentity.volunteer_id).where(ChannelIdentity.last_inbound_at >= cutoff))
    last_signup = select(Signup.volunteer_id).where(Signup.updated_at >= cutoff)
    last_record = select(ServiceRecord.volunteer_id).where(ServiceRecord.recorded_at >= cutoff)
    stale = list(session.scalars(select(Volunteer).where(
        Volunteer.deleted_at.is_(None), Volunteer.created_at < cutoff,
        Volunteer.id.not_in(last_message), Volunteer.id.not_in(last_signup),
        Volunteer.id.not_in(last_record.where(ServiceRecord.volunteer_id.is_not(None))),
        ~exists().where(Coordinator.volunteer_id == Volunteer.id))))
    for volunteer in stale:
        forget_volunteer(session, volunteer, None, now)
    write_queued_log(session)
    lines: CursorResult[Any] = session.execute(delete(MessageLog).where(MessageLog.created_at < cutoff))  # type: ignore[assignment]
    codes: CursorResult[Any] = session.execute(delete(Notice).where(  # type: ignore[assignment]
        Notice.kind == "bind_code", Notice.created_at < now - timedelta(days=1)))
    session.flush()
    return {"volunteers": len(stale), "messages": int(lines.rowcount or 0), "codes": int(codes.rowcount or 0)}


def merge_volunteers(session: Session, keep: Volunteer, other: Volunteer, now: datetime) -> None:
    """Move identities, sign-ups, service records, memberships and consents of `other` onto `keep`.

    Used when a phone is bound that already belongs to another record (for example an SMS-only one).
    When both hold a live sign-up for the same activity, `other`'s duplicate is cancelled.
    `other` is left empty and marked deleted.
    """
    if keep.id == other.id:
        return
    keep_live = set(
        session.scalars(
            select(Signup.activity_id).where(Signup.volunteer_id == keep.id, Signup.status.in_(LIVE_SIGNUP))
        )
    )
    for s in session.scalars(select(Signup).where(Signup.volunteer_id == other.id)):
        if s.status in LIVE_SIGNUP and s.activity_id in keep_live:
            s.status = SignupStatus.CANCELLED
            s.cancelled_at = now
            s.updated_at = now
            session.flush()
        s.volunteer_id = keep.id
    session.flush()
    session.execute(
        update(ServiceRecord).where(ServiceRecord.volunteer_id == other.id).values(volunteer_id=keep.id)
    )
    write_queued_log(session)
    session.execute(update(MessageLog).where(MessageLog.volunteer_id == other.id).values(volunteer_id=keep.id))
    session.execute(update(Consent).where(Consent.volunteer_id == other.id).values(volunteer_id=keep.id))
    session.info.pop(_CONSENTS, None)
    session.execute(
        update(Coordinator).where(Coordinator.volunteer_id == other.id).values(volunteer_id=keep.id)
    )
    keep_teams = set(session.scalars(select(TeamMember.team_id).where(TeamMember.volunteer_id == keep.id)))
    for m in list(session.scalars(select(TeamMember).where(TeamMember.volunteer_id == other.id))):
        if m.team_id not in keep_teams:
            session.add(TeamMember(team_id=m.team_id, volunteer_id=keep.id, joined_at=m.joined_at))
        session.delete(m)
    session.flush()
    session.execute(
        update(ChannelIdentity).where(ChannelIdentity.volunteer_id == other.id).values(volunteer_id=keep.id)
    )
    for attr in ("name", "gender", "birth_year", "home_place_id"):
        if getattr(keep, attr) is None and getattr(other, attr) is not None:
            setattr(keep, attr, getattr(other, attr))
    if not keep.categories and other.categories:
        keep.categories = list(other.categories)
    if not keep.skills and other.skills:
        keep.skills = list(other.skills)
    if not keep.availability and other.availability:
        keep.availability = other.availability
    other.phone_hash = None
    other.phone_enc = None
    other.phone_masked = None
    other.name = None
    other.deleted_at = now
    session.flush()
    session.expire(keep, ["identities"])
    session.expire(other, ["identities"])


def volunteer_by_phone_hash(session: Session, phone_hash: str | Sequence[str]) -> Volunteer | None:
    """The volunteer with this keyed phone hash (or any of these: the current and old keys' during a rotation)."""
    hashes = [phone_hash] if isinstance(phone_hash, str) else list(phone_hash)
    return session.scalars(select(Volunteer).where(Volunteer.phone_hash.in_(hashes))).first()
