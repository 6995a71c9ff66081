"""data.handoffs: how a team's people can be reached (the order of routes), where a hand-off goes, one row
per request, and who may see and mark it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from data import handoffs
from data.models import ChannelIdentity, Coordinator, Team, TeamCoordinator, TeamKind, TeamMember
from data.models_push import HandoffStatus

from .helpers import make_activity, make_volunteer


def _team(s: Session, name: str, webhook: str | None = None) -> Team:
    t = Team(name=name, kind=TeamKind.COMMUNITY, wecom_webhook=webhook)
    s.add(t)
    s.flush()
    return t


def _coord(s: Session, team: Team, name: str, phone: str, *, wechat: str | None = None, leader: bool = False,
           now: datetime, opted_out: bool = False) -> Coordinator:
    linked = None
    if wechat:
        linked = make_volunteer(s, now, name)
        s.add(ChannelIdentity(volunteer_id=linked.id, channel="wechat", external_id=wechat, created_at=now,
                              opted_out_at=now if opted_out else None))
    c = Coordinator(name=name, contact_phone=phone, volunteer_id=linked.id if linked else None)
    s.add(c)
    s.flush()
    s.add(TeamCoordinator(team_id=team.id, coordinator_id=c.id, is_leader=leader))
    s.flush()
    return c


def test_routes_in_order_wechat_mobile_robot_waiting(session: Session, seed_now: datetime) -> None:
    t = _team(session, "测试转人工队", webhook="http://127.0.0.1:9/robot")
    landline = _coord(session, t, "座机", "0471-1234567", leader=True, now=seed_now)
    r = handoffs.reach(session, t)
    assert (r.route, r.coordinator) == ("wecom", landline) and r.promises_call  # the robot, leader named
    t.wecom_webhook = None
    r = handoffs.reach(session, t)
    assert (r.route, r.coordinator) == ("waiting", landline) and not r.promises_call
    _coord(session, t, "退订了微信", "0471-7654321", wechat="oOut", opted_out=True, now=seed_now)
    assert handoffs.reach(session, t).route == "waiting"  # an opted-out WeChat reaches nobody
    mobile = _coord(session, t, "手机", "139 0000 1111", now=seed_now)
    assert (handoffs.reach(session, t).route, handoffs.reach(session, t).coordinator) == ("sms", mobile)
    wechat = _coord(session, t, "微信", "0471-2222222", wechat="oCo", now=seed_now)
    r = handoffs.reach(session, t)
    assert (r.route, r.coordinator) == ("sms", mobile)  # coordinators in order: the first reachable one
    session.execute(TeamCoordinator.__table__.delete().where(TeamCoordinator.coordinator_id == mobile.id))
    session.expire_all()
    assert (handoffs.reach(session, t).route, handoffs.reach(session, t).coordinator) == ("wechat", wechat)


def test_team_of_activity_then_home_team_then_default(session: Session, seed_now: datetime) -> None:
    v = make_volunteer(session, seed_now, "孙大妈")
    act = make_activity(session, seed_now)
    other = _team(session, "孙大妈的队")
    _coord(session, other, "队长", "13900002222", leader=True, now=seed_now)
    session.add(TeamMember(team_id=other.id, volunteer_id=v.id, joined_at=seed_now))
    session.flush()
    r, on_screen = handoffs.route_handoff(session, v, [act.id])
    assert r.team is not None and r.team.id == act.team_id and on_screen is not None and on_screen.id == act.id
    r, on_screen = handoffs.route_handoff(session, v, [])
    assert r.team is not None and r.team.id == other.id and on_screen is None
    # A list of activities of two teams names no one team: the home team answers.
    act2 = make_activity(session, seed_now, title="别队的活动")
    act2.team_id = other.id if act.team_id != other.id else act.team_id
    session.flush()
    r, on_screen = handoffs.route_handoff(session, v, [act.id, act2.id])
    assert r.team is not None and r.team.id == other.id and on_screen is None


def test_one_row_per_request_and_who_may_mark_it(session: Session, seed_now: datetime) -> None:
    v = make_volunteer(session, seed_now, "孙大妈")
    mine, theirs = _team(session, "我的队"), _team(session, "别人的队")
    me = _coord(session, mine, "我", "0471-1111111", now=seed_now)
    them = _coord(session, theirs, "别人", "0471-2222222", now=seed_now)
    r = handoffs.reach(session, mine)
    first = handoffs.record(session, v.id, r, None, seed_now)
    again = handoffs.record(session, v.id, r, None, seed_now + timedelta(minutes=5))
    assert again.id == first.id  # pressing 9 again is the same request
    later = handoffs.record(session, v.id, r, None, seed_now + timedelta(hours=2))
    assert later.id != first.id
    mine_ids, their_ids = [mine.id], [theirs.id]
    assert [h.id for h in handoffs.waiting_for(session, me, mine_ids)] == [first.id, later.id]
    assert handoffs.waiting_for(session, them, their_ids) == []
    assert handoffs.mark_contacted(session, first.id, them, their_ids, seed_now) is None
    done = handoffs.mark_contacted(session, first.id, me, mine_ids, seed_now + timedelta(hours=3))
    assert done is not None and done.status == HandoffStatus.CONTACTED and done.contacted_by == me.id
    assert [h.id for h in handoffs.waiting_for(session, me, mine_ids)] == [later.id]
    # Team-less requests go to the coordinator named on them, and to the operator.
    loose = handoffs.record(session, v.id, handoffs.Reach(None, them, "waiting"), None, seed_now + timedelta(hours=5))
    assert [h.id for h in handoffs.waiting_for(session, them, their_ids)] == [loose.id]
    ops = Coordinator(name="运营", contact_phone="0471-0000000", is_operator=True)
    session.add(ops)
    session.flush()
    all_ids = list(session.scalars(select(Team.id)))
    assert {later.id, loose.id} <= {h.id for h in handoffs.waiting_for(session, ops, all_ids)}


def test_without_sms_a_mobile_reaches_nobody(session: Session, seed_now: datetime) -> None:
    """A WeChat-only deployment (no SMS provider) cannot text a coordinator's mobile: the next route counts
    (a WeChat-linked coordinator, the robot), else the waiting list, so the dialog promises no call."""
    t = _team(session, "只有微信的队")
    mobile = _coord(session, t, "手机", "139 0000 2222", leader=True, now=seed_now)
    assert handoffs.reach(session, t).route == "sms"
    r = handoffs.reach(session, t, sms=False)
    assert (r.route, r.coordinator) == ("waiting", mobile) and not r.promises_call
    t.wecom_webhook = "http://127.0.0.1:9/robot"
    assert handoffs.reach(session, t, sms=False).route == "wecom"
    wechat = _coord(session, t, "微信", "0471-3333333", wechat="oCoWx", now=seed_now)
    assert (handoffs.reach(session, t, sms=False).route, handoffs.reach(session, t, sms=False).coordinator) == (
        "wechat", wechat)
    assert handoffs.reach(session, None, fallback=mobile, sms=False).route != "sms"
