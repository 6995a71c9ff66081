"""念给我听 by SMS: a basic phone cannot get a voice message; the answer says so politely and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from data.kv import Store
from data.models import Volunteer
from dialogs import texts as T
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


def test_read_aloud_by_sms_is_answered_politely_and_stores_nothing(harness: SmsHarness,
                                                                    fake: FakeAndroidGateway) -> None:
    phone = Phone(harness, fake, "android")
    first = "\n".join(phone.send("你好"))
    if "同意" in first:
        phone.send("1")
        phone.send("跳过")
    for words in ("念给我听", "以后都念给我听"):
        parts = phone.send(words)
        assert fits(parts), parts
        assert "\n".join(parts) == T.READ_ALOUD_SMS_SHORT
    with harness.rt.sessions() as s:
        ident = harness.identity(phone.number, s)
        assert ident is not None
        assert s.scalar(select(Volunteer.read_aloud).where(Volunteer.id == ident.volunteer_id)) is False
