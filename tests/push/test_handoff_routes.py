"""A hand-off goes out by the route recorded on its row: the team's WeCom robot (through the loopback fake
speaking the robot's protocol), a coordinator's WeChat, or nothing at all for the waiting list."""

from __future__ import annotations

from sqlalchemy import select

from bot.push import PushService
from data import handoffs
from data.models import Coordinator, TeamCoordinator
from data.models_push import Handoff, HandoffStatus, Notice
from data.timeutil import utcnow
from tests.fakes.push_apis import FakeApis

from .helpers import new_team, person


def _row(push: PushService, *, robot: str | None, coordinator: str | None) -> tuple[int, int, int | None]:
    """A team (robot optional, one coordinator: `wechat`, `landline` or none), a volunteer, the hand-off row
    as the dialog records it (data.handoffs.reach decides the route)."""
    now = utcnow()
    with push.rt.sessions() as s:
        team = new_team(s, webhook=robot)
        v = person(s, push.rt, now, "孙大妈", openid="oSun")
        cid = None
        if coordinator is not None:
            linked = person(s, push.rt, now, "协调员本人", openid="oCoordH", in_window=True) \
                if coordinator == "wechat" else None
            coord = Coordinator(name="王协调", contact_phone="0471-6281234",
                                volunteer_id=linked.id if linked else None)
            s.add(coord)
            s.flush()
            s.add(TeamCoordinator(team_id=team.id, coordinator_id=coord.id, is_leader=True))
            cid = coord.id
        s.flush()
        reach = handoffs.reach(s, team)
        row = handoffs.record(s, v.id, reach, None, now)
        s.commit()
        return row.id, v.id, cid


def test_wecom_only_team_posts_to_its_robot(push: PushService, fake: FakeApis) -> None:
    hid, vid, cid = _row(push, robot=f"{fake.url}/cgi-bin/webhook/send?key=ROBOTH", coordinator="landline")
    with push.rt.sessions() as s:
        assert s.get(Handoff, hid).route == "wecom"  # type: ignore[union-attr]
    push.handoff_requested(vid, cid, ["in: 我想找个人问问"], hid)
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("wecom", "ROBOTH")] == 1
    text = [b for k, b in fake.requests if k == "wecom"][0]["text"]["content"]
    assert text.startswith("【测试推送队】志愿者找人工") and "孙大妈" in text and "我想找个人问问" in text
    with push.rt.sessions() as s:
        notice = s.scalars(select(Notice).where(Notice.kind == "handoff")).one()
        assert notice.wecom_status == "已发到工作群"


def test_coordinator_wechat_route_reaches_the_coordinator(push: PushService, fake: FakeApis) -> None:
    hid, vid, cid = _row(push, robot=None, coordinator="wechat")
    with push.rt.sessions() as s:
        assert s.get(Handoff, hid).route == "wechat"  # type: ignore[union-attr]
    push.handoff_requested(vid, cid, ["in: 9"], hid)
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert sum(n for (kind, to), n in fake.sent.items() if to == "oCoordH") == 1 and not [k for k, _ in fake.requests if k == "wecom"]


def test_waiting_list_sends_nothing(push: PushService, fake: FakeApis) -> None:
    hid, vid, cid = _row(push, robot=None, coordinator="landline")
    with push.rt.sessions() as s:
        row = s.get(Handoff, hid)
        assert row is not None and row.route == "waiting" and row.status == HandoffStatus.WAITING
    push.handoff_requested(vid, cid, ["in: 9"], hid)
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert not fake.requests
    with push.rt.sessions() as s:
        assert s.scalars(select(Notice).where(Notice.kind == "handoff")).first() is None
