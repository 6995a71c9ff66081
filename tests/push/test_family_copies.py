"""亲情助手 in the push layer: the parent's reminder reaches the parent and the active family helper (the copy
naming the parent), never an unlinked one; the dialogs' tell_family hook reaches the person it names."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.push import PushService
from bot.push.scheduled import send_reminders
from data import family
from data.models import Signup, SignupStatus
from data.models_push import Delivery
from data.timeutil import LOCAL, to_utc
from tests.data.helpers import make_activity
from tests.fakes.push_apis import FakeApis

from .helpers import person


def _now() -> datetime:
    return to_utc(datetime(2031, 3, 5, 10, 0, tzinfo=LOCAL))  # a Wednesday morning, far from the day-before hour


def test_reminder_reaches_parent_and_helper_not_after_unlinking(push: PushService, fake: FakeApis) -> None:
    now = _now()
    digest = family.plain_digest
    with push.rt.sessions() as s:
        soon = make_activity(s, now, starts_in_h=1.5, title="送棉衣")
        later = make_activity(s, now, starts_in_h=3.5, title="读报")
        mum = person(s, push.rt, now, "张桂兰", openid="oMum")
        son = person(s, push.rt, now, "李明", openid="oSon")
        stranger = person(s, push.rt, now, "路人", openid="oStranger")
        for act in (soon, later):
            s.add(Signup(activity_id=act.id, volunteer_id=mum.id, status=SignupStatus.CONFIRMED, party_size=1,
                         created_at=now, updated_at=now))
        _, code = family.issue_code(s, mum.id, now, digest, relation="儿子")
        link = family.claim(s, code, son.id, now, digest).link
        assert link is not None
        family.decide(s, link.id, mum.id, True, "wechat", now)
        link.elder_word = "母亲"
        s.commit()
        link_id, mum_id, son_id, soon_id = link.id, mum.id, son.id, soon.id
        assert stranger.id
    assert send_reminders(push, now) == 1
    push.ctx.clock = lambda: now
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("template", "oMum")] == 1 and fake.sent[("template", "oSon")] == 1
    assert ("template", "oStranger") not in fake.sent
    with push.rt.sessions() as s:
        rows = {d.volunteer_id: d for d in s.scalars(select(Delivery))}
        assert rows[son_id].body is not None and rows[son_id].body.startswith("您母亲张桂兰：")
        assert "送棉衣" in rows[son_id].body
        assert rows[mum_id].body is None  # the parent's own text is the notice's
        family.unlink(s, link_id, mum_id, now)
        s.commit()
    later_now = now + timedelta(hours=2)
    assert send_reminders(push, later_now) == 1  # 读报, two hours before
    push.ctx.clock = lambda: later_now
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("template", "oMum")] == 2 and fake.sent[("template", "oSon")] == 1
    assert soon_id


def test_tell_family_reaches_the_person(push: PushService, fake: FakeApis) -> None:
    now = _now()
    with push.rt.sessions() as s:
        mum = person(s, push.rt, now, "张桂兰", openid="oMum2", in_window=True)
        s.commit()
        mum_id = mum.id
    push.tell_family([mum_id], "家人代报", "您的儿子（李明）帮您报了名：送棉衣。不想去，请在10分钟内回复“撤销”。",
                     "signup:1:x")
    push.ctx.clock = lambda: now
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert sum(v for (_, addr), v in fake.sent.items() if addr == "oMum2") == 1


def test_a_hand_off_tells_the_helpers_the_parent_chose(push: PushService, fake: FakeApis) -> None:
    now = _now()
    with push.rt.sessions() as s:
        mum = person(s, push.rt, now, "张桂兰", openid="oMum3", in_window=True)
        told = person(s, push.rt, now, "李明", openid="oTold", in_window=True)
        quiet = person(s, push.rt, now, "李亮", openid="oQuiet", in_window=True)
        for helper, ring in ((told, True), (quiet, False)):
            _, code = family.issue_code(s, mum.id, now, family.plain_digest)
            link = family.claim(s, code, helper.id, now, family.plain_digest).link
            assert link is not None
            family.decide(s, link.id, mum.id, True, "wechat", now)
            family.set_ring(s, link.id, mum.id, ring)
        s.commit()
        mum_id = mum.id
    push.handoff_requested(mum_id, None, ["9"])
    push.ctx.clock = lambda: now
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    sent = {addr for (_, addr), v in fake.sent.items() if v}
    assert "oTold" in sent and "oQuiet" not in sent and "oMum3" not in sent


def test_the_family_code_comes_as_a_qr_code_too(push: PushService, fake: FakeApis) -> None:
    now = _now()
    with push.rt.sessions() as s:
        mum = person(s, push.rt, now, "张桂兰", openid="oMumQR", in_window=True)
        s.commit()
        mum_id = mum.id
    push.ctx.senders["wechat"].api.note_inbound("oMumQR")  # type: ignore[attr-defined]  # she just wrote
    push.offer_family_qr(mum_id, "family_123456")
    push.ctx.clock = lambda: now
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert [q["action_info"]["scene"]["scene_str"] for q in fake.qrcodes] == ["family_123456"]
    assert fake.qrcodes[0]["expire_seconds"] == 86400
    sent = [body for kind, body in fake.requests if body.get("to") == "oMumQR"]
    assert len(sent) == 1 and "showqrcode?ticket=" in json.dumps(sent[0], ensure_ascii=False)


def test_no_qr_code_when_wechat_refuses(push: PushService, fake: FakeApis) -> None:
    now = _now()
    with push.rt.sessions() as s:
        mum = person(s, push.rt, now, "张桂兰", openid="oMumQR2", in_window=True)
        s.commit()
        mum_id = mum.id
    push.offer_family_qr(mum_id, "family_" + "9" * 70)  # too long a scene: WeChat answers errcode 40053
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.qrcodes == [] and not [b for _, b in fake.requests if b.get("to") == "oMumQR2"]
