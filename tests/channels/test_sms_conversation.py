"""A phone-only volunteer, the whole way by SMS: search → details → sign up → cancel, every SMS fitting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from data.kv import Store
from data.models import Signup, SignupStatus
from tests.drivers.sms import Phone, SmsHarness, fits
from tests.fakes.sms_android import FakeAndroidGateway


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAndroidGateway]:
    f = FakeAndroidGateway()
    yield f
    f.close()


@pytest.fixture
def harness(engine: Engine, store: Store, fake: FakeAndroidGateway) -> Iterator[SmsHarness]:
    h = SmsHarness(engine, store, {
        "sms.providers": ["android"], "sms.outbound": "android", "sms.android.base_url": fake.url,
        "sms.android.password": fake.password, "sms.android.signing_key": fake.signing_key}, nlu=None)
    yield h
    h.close()


def test_search_details_sign_up_cancel(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    phone = Phone(harness, fake, "android")

    def say(text: str) -> str:
        parts = phone.send(text)
        assert parts and fits(parts), (text, parts)
        if text.isdigit():
            assert len(parts) <= 2, (text, parts)  # a digit gets at most two SMS back
        return "\n".join(parts)

    first = say("你好")
    if "同意" in first:  # first contact asks for consent, then optionally the community
        say("1")
        say("跳过")
    listing = say("找活动")
    assert "1." in listing
    details = say("1")
    assert "报名" in details
    assert "确认" in say("1")
    assert "报好了" in say("1")
    mine = say("我的活动")
    assert "1." in mine
    assert "取消" in say("1")
    assert "确定取消" in say("1")  # confirm before anything is committed
    assert "已取消" in say("1")
    with harness.rt.sessions() as s:
        ident = harness.identity(phone.number, s)
        assert ident is not None
        statuses = list(s.scalars(select(Signup.status).where(Signup.volunteer_id == ident.volunteer_id)))
    assert statuses == [SignupStatus.CANCELLED]
    assert harness.log_count(phone.number, "in") == harness.log_count(phone.number, "out") >= 8
