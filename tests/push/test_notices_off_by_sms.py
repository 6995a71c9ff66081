"""Notices off, SMS route: someone who turns notices off after a notice was queued for them gets no SMS.

The fan-out skips people whose notices are off when it writes the delivery rows; between that and the
send, the SMS channel itself must refuse (it is the last guard, and the only one for late changes)."""

from __future__ import annotations

from sqlalchemy import select

from bot.push import PushService
from bot.push.jobs import fanout
from data.models import Volunteer
from data.models_push import Delivery
from data.profiles import set_notices
from data.timeutil import utcnow
from tests.fakes.push_apis import FakeApis

from .helpers import new_team, person


def test_notices_turned_off_after_queueing_stop_the_sms(push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    push.ctx.clock = lambda: now
    with push.rt.sessions() as s:
        team = new_team(s, "短信通知队")
        stays = person(s, push.rt, now, "留着通知", phone="13800000011", team=team)
        leaves = person(s, push.rt, now, "刚关通知", phone="13800000012", team=team)
        team_id, stays_id, leaves_id = team.id, stays.id, leaves.id
        s.commit()
    with push.rt.sessions() as s:
        notice = push.create(s, title="停水通知", body="明天上午停水，活动照常。",
                             audience={"kind": "team", "team_id": team_id}, now=now, team_id=team_id)
        assert notice is not None
        push.queue(s, notice, now)
        nid = notice.id
        s.commit()
    fanout(nid)  # the fan-out job: delivery rows written, batches queued
    with push.rt.sessions() as s:
        queued = {d.volunteer_id: d.status.value for d in s.scalars(select(Delivery).where(Delivery.notice_id == nid))}
    assert queued == {stays_id: "queued", leaves_id: "queued"}
    with push.rt.sessions() as s:  # meanwhile she says 不要通知 (in WeChat or to a coordinator): not by SMS
        v = s.get(Volunteer, leaves_id)
        assert v is not None
        set_notices(s, v, "wechat", False, now)
        s.commit()
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("sms", "13800000011")] == 1
    assert fake.sent[("sms", "13800000012")] == 0
    with push.rt.sessions() as s:
        rows = {d.volunteer_id: d for d in s.scalars(select(Delivery).where(Delivery.notice_id == nid))}
    assert rows[stays_id].status.value == "sent"
    assert rows[leaves_id].status.value == "unreachable" and "notices_off" in (rows[leaves_id].reason or "")
