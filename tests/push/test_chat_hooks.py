"""The hooks behind the coordinator chat commands: a review decided in the chat tells the volunteer once,
and `通知 <队>：<内容>` becomes a team notice that fans out like one made in the admin pages."""

from __future__ import annotations

from sqlalchemy import select

from bot.push import PushService
from data.models import Coordinator, Signup, SignupStatus
from data.models_push import Notice
from data.review import decide
from data.timeutil import utcnow
from tests.data.helpers import make_activity
from tests.fakes.push_apis import FakeApis

from .helpers import new_team, person


def test_signup_reviewed_tells_the_volunteer_once(push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    with push.rt.sessions() as s:
        act = make_activity(s, now, needs_review=True, capacity=5)
        v = person(s, push.rt, now, "报名者", openid="oR", in_window=True)
        su = Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.PENDING, party_size=1,
                    created_at=now, updated_at=now)
        s.add(su)
        s.flush()
        decide(s, su.id, True, None, now)
        s.commit()
        sid = su.id
    push.ctx.senders["wechat"].api.note_inbound("oR")  # type: ignore[attr-defined]
    push.signup_reviewed(sid, True)
    push.signup_reviewed(sid, True)  # a repeated hook is not a second message
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("custom", "oR")] == 1
    with push.rt.sessions() as s:
        notice = s.scalars(select(Notice).where(Notice.key == f"review-result:{sid}")).one()
        assert notice.kind == "review_result" and "已确认" in notice.body


def test_send_team_notice_fans_out_to_the_team(push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    with push.rt.sessions() as s:
        team = new_team(s, "聊天通知测试队")
        person(s, push.rt, now, "甲", openid="oT1", team=team)
        person(s, push.rt, now, "乙", phone="13800000011", team=team)
        person(s, push.rt, now, "丙", openid="oT3", notices_off=True, team=team)
        person(s, push.rt, now, "外人", openid="oX")
        coord = Coordinator(name="队长", contact_phone="13900004444")
        s.add(coord)
        s.commit()
        team_id, cid = team.id, coord.id
    push.send_team_notice(cid, team_id, "明天早上8点服务站集合，请带手套。")
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("template", "oT1")] == 1 and fake.sent[("sms", "13800000011")] == 1
    assert not any(addr in ("oT3", "oX") for _, addr in fake.sent)
    with push.rt.sessions() as s:
        notice = s.scalars(select(Notice).where(Notice.team_id == team_id)).one()
        assert (notice.title, notice.created_by, notice.audience) == (
            "聊天通知测试队通知", cid, {"kind": "team", "team_id": team_id})
        progress = push.progress(s, notice.id)
        assert progress.counts == {"sent": 2, "skipped": 1}
