"""Hand-offs to a person: whose team answers, how its people can be reached now, and the record of each
request (the admin page's list of people waiting to be contacted).

A call is promised only on a route that reaches a person at once: a coordinator's WeChat (a coordinator
linked to a volunteer with a WeChat identity), a coordinator's mobile (SMS), then the team's WeCom robot.
Otherwise the route is `waiting`: the request is only on the admin page, and the dialog asks for a number
or a good time to call instead of promising one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from . import profiles
from .crypto import normalize_phone
from .errors import InvalidInput
from .models import Activity, ChannelIdentity, Coordinator, Team, TeamCoordinator, TeamMember, Volunteer
from .models_push import Handoff, HandoffStatus

# Routes, best first. `waiting` is the admin page only.
PERSONAL = ("wechat", "sms")
ROUTES = ("wechat", "sms", "wecom", "waiting")


@dataclass(frozen=True)
class Reach:
    """How one team's (or the deployment's) people can be reached at this moment."""

    team: Team | None
    coordinator: Coordinator | None  # whom the volunteer is told about (name, number); may be None
    route: str  # wechat | sms | wecom | waiting

    @property
    def promises_call(self) -> bool:
        """A person is told now, so the dialog may say someone will call."""
        return self.route != "waiting"


def coordinator_route(session: Session, coord: Coordinator, sms: bool = True) -> str | None:
    """`wechat` when the coordinator's own volunteer record has a WeChat identity that has not opted out,
    else `sms` when their contact number is a mobile and the deployment sends SMS (`sms`), else None (a
    landline, or a mobile with no SMS provider, reaches nobody by message)."""
    if coord.volunteer_id is not None:
        openid = session.scalar(select(ChannelIdentity.id).where(
            ChannelIdentity.volunteer_id == coord.volunteer_id, ChannelIdentity.channel == "wechat",
            ChannelIdentity.opted_out_at.is_(None)).limit(1))
        if openid is not None:
            return "wechat"
    if not sms:
        return None
    try:
        normalize_phone(coord.contact_phone or "")
    except InvalidInput:
        return None
    return "sms"


def _team_coordinators(session: Session, team_id: int) -> list[Coordinator]:
    return list(session.scalars(
        select(Coordinator).join(TeamCoordinator, TeamCoordinator.coordinator_id == Coordinator.id)
        .where(TeamCoordinator.team_id == team_id)
        .order_by(TeamCoordinator.is_leader.desc(), Coordinator.id)))


def default_coordinator(session: Session) -> Coordinator | None:
    """The deployment's default: an operator first, else the first coordinator."""
    return session.scalars(select(Coordinator).order_by(Coordinator.is_operator.desc(), Coordinator.id)
                           .limit(1)).first()


def reach(session: Session, team: Team | None, fallback: Coordinator | None = None, sms: bool = True) -> Reach:
    """How this team's people can be reached: its first coordinator (leader first) with a WeChat or a
    mobile, else its WeCom robot, else the waiting list. Without a team: `fallback` (else the deployment's
    default coordinator) on their own route, else by one of their teams, else the waiting list. `sms`: whether
    the deployment can send a text message at all (a WeChat-only deployment cannot)."""
    if team is None:
        coord = fallback or default_coordinator(session)
        if coord is None:
            return Reach(None, None, "waiting")
        route = coordinator_route(session, coord, sms)
        if route is not None:
            return Reach(None, coord, route)
        # Not reachable in person: their own teams' people are the next best (leader's teams first).
        for team_id in session.scalars(select(TeamCoordinator.team_id).where(
                TeamCoordinator.coordinator_id == coord.id).order_by(TeamCoordinator.is_leader.desc(),
                                                                     TeamCoordinator.team_id)):
            r = reach(session, session.get(Team, team_id), sms=sms)
            if r.promises_call:
                return r
        return Reach(None, coord, "waiting")
    coords = _team_coordinators(session, team.id)
    for coord in coords:
        route = coordinator_route(session, coord, sms)
        if route is not None:
            return Reach(team, coord, route)
    first = coords[0] if coords else None
    if team.wecom_webhook:
        return Reach(team, first, "wecom")
    return Reach(team, first, "waiting")


def home_team(session: Session, volunteer: Volunteer) -> tuple[Team | None, Coordinator | None]:
    """The team the person belongs to (the earliest joined), else the nearest team above their home
    place; with neither, the area coordinator or default found by `profiles.coordinator_for`."""
    member = session.scalars(
        select(Team).join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.volunteer_id == volunteer.id).order_by(TeamMember.joined_at, Team.id).limit(1)).first()
    if member is not None:
        return member, None
    coord, team = profiles.coordinator_for(session, volunteer, None)
    return team, (coord if team is None else None)


def team_for(session: Session, volunteer: Volunteer, activity_ids: list[int]) -> tuple[Team | None, Activity | None]:
    """The team of the activity being discussed: the one on screen (a single id), or the one team all
    listed activities belong to. (None, None) when the screen does not name one team."""
    if not activity_ids:
        return None, None
    acts = list(session.scalars(select(Activity).where(Activity.id.in_(activity_ids[:20]))))
    teams = {a.team_id for a in acts}
    if len(teams) != 1:
        return None, None
    act = acts[0] if len(acts) == 1 else None
    return session.get(Team, teams.pop()), act


def route_handoff(session: Session, volunteer: Volunteer, activity_ids: list[int],
                  sms: bool = True) -> tuple[Reach, Activity | None]:
    """Where a hand-off goes: the team of the activity being discussed, else the person's home team, else the
    deployment's default coordinator; and how it reaches a person there."""
    team, act = team_for(session, volunteer, activity_ids)
    fallback = None
    if team is None:
        team, fallback = home_team(session, volunteer)
    return reach(session, team, fallback, sms=sms), act


# A second request within this time, to the same team and still waiting, is the same request (an older
# person pressing 9 again is asking again, not asking twice): one row, one notice.
SAME_REQUEST_MINUTES = 30


def record(session: Session, volunteer_id: int, r: Reach, activity_id: int | None, now: datetime) -> Handoff:
    """The hand-off row, flushed (its id is known); the caller commits. A repeat of a request still
    waiting (same team, within SAME_REQUEST_MINUTES) returns that row, brought up to date."""
    team_id = r.team.id if r.team else None
    coord_id = r.coordinator.id if r.coordinator else None
    row = latest_waiting(session, volunteer_id, now - timedelta(minutes=SAME_REQUEST_MINUTES))
    if row is not None and row.team_id == team_id:
        row.activity_id = activity_id or row.activity_id
        row.coordinator_id, row.route = coord_id, r.route
        session.flush()
        return row
    row = Handoff(volunteer_id=volunteer_id, team_id=team_id, activity_id=activity_id, coordinator_id=coord_id,
                  route=r.route, status=HandoffStatus.WAITING, created_at=now)
    session.add(row)
    session.flush()
    return row


def latest_waiting(session: Session, volunteer_id: int, since: datetime) -> Handoff | None:
    """The person's most recent hand-off still waiting, made at or after `since`."""
    return session.scalars(select(Handoff).where(
        Handoff.volunteer_id == volunteer_id, Handoff.status == HandoffStatus.WAITING, Handoff.created_at >= since)
        .order_by(Handoff.id.desc()).limit(1)).first()


def set_callback(row: Handoff, *, phone_enc: str | None = None, masked: str | None = None,
                 note: str | None = None) -> None:
    """A number to call on (encrypted) or a good time to call, as the person gave it."""
    if phone_enc is not None:
        row.callback_enc, row.callback_masked = phone_enc, masked
    if note is not None:
        row.callback_note = note.strip()[:200]


def visible_to(coord: Coordinator, team_ids: list[int]) -> ColumnElement[bool]:
    """The hand-offs a coordinator answers for: their teams', and team-less ones addressed to them (the
    operator, who has every team, also sees every team-less one)."""
    if coord.is_operator:
        return or_(Handoff.team_id.in_(team_ids), Handoff.team_id.is_(None))
    return or_(Handoff.team_id.in_(team_ids), Handoff.coordinator_id == coord.id)


def waiting_for(session: Session, coord: Coordinator, team_ids: list[int], limit: int = 200) -> list[Handoff]:
    """People waiting to be contacted, oldest first."""
    return list(session.scalars(select(Handoff).where(
        Handoff.status == HandoffStatus.WAITING, visible_to(coord, team_ids))
        .order_by(Handoff.created_at, Handoff.id).limit(limit)))


def mark_contacted(session: Session, handoff_id: int, coord: Coordinator, team_ids: list[int],
                   now: datetime) -> Handoff | None:
    """Mark one hand-off contacted; None when it is not this coordinator's to mark (or does not exist).
    Marking twice keeps the first time and person."""
    row = session.scalars(select(Handoff).where(
        Handoff.id == handoff_id, visible_to(coord, team_ids))).first()
    if row is None:
        return None
    if row.status != HandoffStatus.CONTACTED:
        row.status, row.contacted_at, row.contacted_by = HandoffStatus.CONTACTED, now, coord.id
    return row
