"""绑定手机 end to end: an SMS-only volunteer later binds the same number in WeChat; the code travels by SMS
through the provider fake, and afterwards one person holds both channels and the SMS sign-ups."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from data import services as svc
from data.kv import MemoryStore
from data.models import ChannelIdentity, Signup, SignupStatus, Volunteer
from data.timeutil import utcnow
from tests.data.helpers import make_activity
from tests.drivers.sms import Phone, SmsHarness
from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN, WechatDriver, flask_transport
from tests.fakes.sms_android import FakeAndroidGateway


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAndroidGateway]:
    f = FakeAndroidGateway()
    yield f
    f.close()


@pytest.fixture
def harness(engine: Engine, fake: FakeAndroidGateway) -> Iterator[SmsHarness]:
    """Both channels in one app. The in-process store: the bind code goes out from the push layer's
    in-process queue, as in `make run`."""
    h = SmsHarness(engine, MemoryStore(), {
        "sms.providers": ["android"], "sms.outbound": "android", "sms.android.base_url": fake.url,
        "sms.android.password": fake.password, "sms.android.signing_key": fake.signing_key,
        "wechat.token": TOKEN, "wechat.app_id": APP_ID, "wechat.aes_key": AES_KEY,
        "wechat.reply_budget_seconds": 30.0, "wechat.accept_plaintext": True}, nlu=None)  # room for a busy machine: no late replies here
    yield h
    h.close()


def code_sent_to(fake: FakeAndroidGateway, number: str, seen: int) -> str:
    assert fake.wait_for(lambda: len(fake.texts_to(number)) > seen, timeout=15), "no code arrived by SMS"
    m = re.search(r"验证码是(\d{6})", fake.texts_to(number)[-1])
    assert m is not None, fake.texts_to(number)[-1]
    return m.group(1)


def test_binding_an_sms_number_in_wechat_moves_its_sign_ups(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    phone = Phone(harness, fake, "android")
    assert phone.send("你好")  # first contact by SMS creates the SMS-only record
    now = utcnow()
    with harness.rt.sessions() as s:
        sms_person = harness.identity(phone.number, s)
        assert sms_person is not None
        old_id = sms_person.volunteer_id
        act = make_activity(s, now, starts_in_h=72, capacity=5, title="短信报的活动")
        waiting_for = make_activity(s, now, starts_in_h=96, capacity=0, title="短信排队的活动")
        signed = svc.sign_up(s, volunteer_id=old_id, activity_id=act.id, now=now, channel="sms").signup.id
        queued = svc.sign_up(s, volunteer_id=old_id, activity_id=waiting_for.id, now=now, channel="sms").signup.id
        s.commit()

    wx = WechatDriver(flask_transport(harness.app.test_client()))
    assert "同意" in wx.event("subscribe").text
    wx.text("1")
    assert "手机" in wx.text("绑定手机").text
    seen = len(fake.texts_to(phone.number))
    assert phone.number[:3] + "****" + phone.number[-4:] in wx.text(phone.number).text
    code = code_sent_to(fake, phone.number, seen)
    done = wx.text(code).text
    assert "合到一起" in done, done

    with harness.rt.sessions() as s:
        me = s.scalars(select(Volunteer).join(ChannelIdentity).where(
            ChannelIdentity.channel == "wechat", ChannelIdentity.external_id == wx.openid)).one()
        assert me.id != old_id
        owners = {sid: s.get(Signup, sid).volunteer_id for sid in (signed, queued)}
        assert owners == {signed: me.id, queued: me.id}  # both sign-ups moved to the person who stays
        assert s.get(Signup, signed).status == SignupStatus.CONFIRMED
        assert s.get(Signup, queued).status == SignupStatus.WAITLISTED
        assert {i.channel for i in me.identities} == {"wechat", "sms"}
        assert s.get(Volunteer, old_id).deleted_at is not None
        left_behind = s.scalars(select(Signup.id).where(Signup.volunteer_id == old_id)).all()
        assert left_behind == []

    mine = wx.text("我的活动").text  # WeChat now shows what was booked by SMS ...
    assert "短信报的活动" in mine and "短信排队的活动" in mine, mine
    by_sms = "\n".join(phone.send("我的活动"))  # ... and so does the phone, which is now the same person
    assert "短信报的活动" in by_sms, by_sms
