"""Who a notice goes to: a team, a place subtree, an activity's participants, interests, or named people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from data.errors import InvalidInput
from data.models import (
    LIVE_SIGNUP,
    Activity,
    ChannelIdentity,
    Consent,
    Place,
    Signup,
    SignupStatus,
    Team,
    TeamMember,
    Volunteer,
)

# Kinds that are about the person's own business; "notices_opt_out" does not stop them.
TRANSACTIONAL = {"reminder_day", "reminder_2h", "promoted", "review", "review_leader", "review_result",
                 "handoff", "bind_code", "cancelled", "records_due", "changed", "family", "family_copy"}


def audience_select(session: Session, audience: dict[str, Any]) -> Select[Any]:
    """The audience's volunteer ids as a SELECT (one column `id`, possibly repeated) to build on in SQL."""
    kind = audience.get("kind")
    live = Volunteer.deleted_at.is_(None)
    if kind == "team":
        return (select(Volunteer.id).join(TeamMember, TeamMember.volunteer_id == Volunteer.id)
                .where(TeamMember.team_id == int(audience["team_id"]), live))
    if kind == "place":
        place = session.get(Place, int(audience["place_id"]))
        if place is None:
            raise InvalidInput("没有这个地方")
        sub = select(Place.id).where(Place.path.startswith(place.path))
        return select(Volunteer.id).where(Volunteer.home_place_id.in_(sub), live)
    if kind == "activity":
        statuses = [SignupStatus(s) for s in audience.get("statuses") or [s.value for s in LIVE_SIGNUP]]
        return (select(Volunteer.id).join(Signup, Signup.volunteer_id == Volunteer.id)
                .where(Signup.activity_id == int(audience["activity_id"]), Signup.status.in_(statuses), live)
                .distinct())
    if kind == "interests":
        # Only people whose latest recommendations decision is "yes" (consents are kept as history: someone
        # who said 不要推荐 and later 恢复推荐 is in again) and who have not turned recommendations off.
        latest = (select(Consent.granted)
                  .where(Consent.volunteer_id == Volunteer.id, Consent.kind == "recommendations")
                  .order_by(Consent.at.desc(), Consent.id.desc()).limit(1).scalar_subquery())
        stmt = select(Volunteer.id).where(live, Volunteer.recommend_opt_out.is_(False), latest.is_(True))
        ids = list(session.scalars(stmt))
        cats = set(audience.get("categories") or [])
        mask = int(audience.get("availability_mask") or 0)
        if not ids:
            return select(Volunteer.id).where(Volunteer.id.in_([]))
        rows = session.execute(select(Volunteer.id, Volunteer.categories, Volunteer.availability,
                                      Volunteer.home_place_id).where(Volunteer.id.in_(ids))).all()
        allowed_places: set[int] | None = None
        if audience.get("place_id"):
            place = session.get(Place, int(audience["place_id"]))
            allowed_places = set(session.scalars(select(Place.id).where(Place.path.startswith(place.path)))) \
                if place else set()
        keep = [r.id for r in rows
                if (not cats or cats & set(r.categories or []))
                and (not mask or (r.availability or 0) & mask)
                and (allowed_places is None or r.home_place_id in allowed_places)]
        return select(Volunteer.id).where(Volunteer.id.in_(keep))
    if kind == "volunteers":
        return select(Volunteer.id).where(Volunteer.id.in_([int(i) for i in audience.get("ids", [])]), live)
    if kind == "phone":
        return select(Volunteer.id).where(Volunteer.id == int(audience["volunteer_id"]))
    raise InvalidInput(f"unknown audience kind {kind!r}")


def volunteer_ids(session: Session, audience: dict[str, Any]) -> list[int]:
    """Volunteer ids of an audience, ascending (coordinator audiences have none)."""
    if audience.get("kind") == "coordinators":
        return []
    return sorted(set(session.scalars(audience_select(session, audience))))


def coordinator_ids(audience: dict[str, Any]) -> list[int]:
    if audience.get("kind") != "coordinators":
        return []
    return sorted({int(i) for i in audience.get("ids", [])})


@dataclass
class Preview:
    """What the coordinator sees before sending: how many, how many can be reached and how."""

    total: int
    opted_out: int
    no_contact: int
    wechat: int
    sms_only: int
    by_name: list[str] = field(default_factory=list)  # first few names, to check the group is right

    @property
    def will_try(self) -> int:
        return self.total - self.opted_out - self.no_contact


def preview(session: Session, audience: dict[str, Any], kind: str = "notice") -> Preview:
    """Count the audience in SQL (fast for 100,000 people)."""
    ids_sel = audience_select(session, audience).subquery()
    base = select(func.count()).select_from(Volunteer).where(Volunteer.id.in_(select(ids_sel.c.id)))
    total = int(session.scalar(base) or 0)
    opted = 0 if kind in TRANSACTIONAL else int(
        session.scalar(base.where(Volunteer.notices_opt_out.is_(True))) or 0)
    usable = and_(ChannelIdentity.volunteer_id == Volunteer.id, ChannelIdentity.opted_out_at.is_(None))
    has_wechat = exists().where(usable, ChannelIdentity.channel == "wechat")
    has_sms = exists().where(usable, ChannelIdentity.channel == "sms")
    not_opted = Volunteer.notices_opt_out.is_(False) if kind not in TRANSACTIONAL else Volunteer.id.isnot(None)
    wechat = int(session.scalar(base.where(not_opted, has_wechat)) or 0)
    sms_only = int(session.scalar(base.where(not_opted, ~has_wechat, has_sms | Volunteer.phone_enc.isnot(None)))
                   or 0)
    names = list(session.scalars(select(Volunteer.name).where(Volunteer.id.in_(select(ids_sel.c.id)),
                                                              Volunteer.name.isnot(None)).limit(5)))
    return Preview(total, opted, total - opted - wechat - sms_only, wechat, sms_only, names)


def describe(session: Session, audience: dict[str, Any]) -> str:
    """`阳光社区志愿服务队全体队员`, `赛罕区的志愿者`, `「陪老人聊天」的报名者` …"""
    kind = audience.get("kind")
    if kind == "team":
        team = session.get(Team, int(audience["team_id"]))
        return f"{team.name if team else '?'}全体队员"
    if kind == "place":
        place = session.get(Place, int(audience["place_id"]))
        return f"住在{place.name if place else '?'}的志愿者"
    if kind == "activity":
        act = session.get(Activity, int(audience["activity_id"]))
        return f"「{act.title if act else '?'}」的报名者"
    if kind == "interests":
        cats = "、".join(audience.get("categories") or []) or "各类"
        return f"愿意接收推荐、关心{cats}活动的志愿者"
    if kind == "coordinators":
        return "协调员"
    n = len(audience.get("ids", [])) or 1
    return f"{n}位志愿者"
