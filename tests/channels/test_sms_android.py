"""SMS Gateway for Android: signed webhooks in, /messages out, through a loopback fake of the app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from werkzeug.wrappers import Response

from bot.channels.sms import SmsChannel
from bot.web.sms import OPT_OUT_CONFIRM, RESUME_CONFIRM
from data.kv import MemoryStore, Store
from tests.drivers.sms import Phone, SmsHarness, fits, new_phone
from tests.fakes.sms_android import FakeAndroidGateway
from tests.fakes.sms_base import json_response


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAndroidGateway]:
    f = FakeAndroidGateway()
    yield f
    f.close()


@pytest.fixture
def harness(engine: Engine, store: Store, fake: FakeAndroidGateway) -> Iterator[SmsHarness]:
    fake.errors.clear()
    h = SmsHarness(engine, store, {
        "sms.providers": ["android"], "sms.outbound": "android",
        "sms.android.base_url": fake.url, "sms.android.password": fake.password,
        "sms.android.signing_key": fake.signing_key})
    h.service.provider("android")
    yield h
    h.close()


@pytest.fixture
def checking(engine: Engine, fake: FakeAndroidGateway) -> Iterator[SmsHarness]:
    """For refusals nothing is queued, so the in-process store is enough (keeps the suite quick)."""
    h = SmsHarness(engine, MemoryStore(), {
        "sms.providers": ["android"], "sms.outbound": "android",
        "sms.android.base_url": fake.url, "sms.android.password": fake.password,
        "sms.android.signing_key": fake.signing_key})
    yield h
    h.close()


def test_webhook_answered_then_reply_sent_in_fitting_parts(harness: SmsHarness, fake: FakeAndroidGateway,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook answers before the turn runs (the gateway's timeout is short); the reply follows.

    The turn is held until the webhook has answered: a webhook that waited for it would answer only after
    the hold ran out and the reply had gone (or time out). How fast it answers: bench/ack_bench.py."""
    import bot.pipeline

    real, release = bot.pipeline.respond, threading.Event()

    def held(turn: Any) -> Any:
        release.wait(8)
        return real(turn)

    monkeypatch.setattr(bot.pipeline, "respond", held)
    phone = Phone(harness, fake, "android")
    resp = fake.deliver(harness.url("android", None), phone.number, "你好")
    assert resp.status_code == 204
    assert fake.texts_to(phone.number) == []  # answered while the turn is still held
    release.set()
    harness.settle()
    texts = fake.texts_to(phone.number)
    assert texts and fits(texts)
    assert [m["priority"] for m in fake.sent if m["phone"] == phone.number] == \
        sorted((m["priority"] for m in fake.sent if m["phone"] == phone.number), reverse=True)
    assert harness.log_count(phone.number, "in") == 1 and harness.log_count(phone.number, "out") == 1


def test_wrong_signature_refused_and_nothing_written(checking: SmsHarness, fake: FakeAndroidGateway) -> None:
    number = new_phone()
    body = fake.webhook_body(number, "1")
    assert fake.post_webhook(checking.url("android", None), body, key="wrong").status_code == 403
    old = int(time.time()) - 3600
    assert fake.post_webhook(checking.url("android", None), body, timestamp=old).status_code == 403
    tampered = body.replace(b'"1"', b'"2"')
    ts = str(int(time.time()))
    import hashlib
    import hmac

    import requests

    sig = hmac.new(fake.signing_key.encode(), body + ts.encode(), hashlib.sha256).hexdigest()
    r = requests.post(checking.url("android", None), data=tampered, timeout=5,
                      headers={"X-Signature": sig, "X-Timestamp": ts})
    assert r.status_code == 403
    checking.settle()
    assert fake.texts_to(number) == [] and checking.identity(number) is None


@pytest.mark.parametrize("body,status", [(b"not json", 400), (b'{"event": "sms:received", "payload": {}}', 400),
                                         (b'{"event": "sms:received"}', 400)])
def test_malformed_body(checking: SmsHarness, fake: FakeAndroidGateway, body: bytes, status: int) -> None:
    assert fake.post_webhook(checking.url("android", None), body).status_code == status


def test_unknown_number_format_refused(checking: SmsHarness, fake: FakeAndroidGateway) -> None:
    r = fake.deliver(checking.url("android", None), "10086", "1")
    assert r.status_code == 400 and "number" in r.json()["message"]


def test_other_events_acknowledged(checking: SmsHarness, fake: FakeAndroidGateway) -> None:
    body = fake.webhook_body(new_phone(), "x", event="sms:delivered")
    assert fake.post_webhook(checking.url("android", None), body).status_code == 204


def test_duplicate_webhook_processed_once(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    number = new_phone()
    body = fake.webhook_body(number, "找活动", event_id="evt-dup-" + number)
    for _ in range(3):
        assert fake.post_webhook(harness.url("android", None), body).status_code == 204
    harness.settle()
    assert harness.log_count(number, "in") == 1
    # The same words again later (a new event) are a new message.
    fake.deliver(harness.url("android", None), number, "找活动 ")
    harness.settle()
    assert harness.log_count(number, "in") == 2


def test_opt_out_confirmed_once_and_still_answered(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    phone = Phone(harness, fake, "android")
    phone.send("你好")
    assert phone.send("TD") == [OPT_OUT_CONFIRM]
    ident = harness.identity(phone.number)
    assert ident is not None and ident.opted_out_at is not None and ident.opted_out_reason == "keyword:TD"
    channel = SmsChannel(harness.rt, harness.service.provider("android"))
    with harness.rt.sessions() as s:
        assert channel.can_notify(s, phone.number) is False
    result = channel.send_notice(phone.number, "活动提醒", "明天上午9点")
    assert result.status == "unreachable" and result.reason == "opted_out"
    assert phone.send("退订") == []  # confirmed once only
    answer = phone.send("1")  # any later message is still answered
    assert answer and fits(answer)
    assert phone.send("订阅") == [RESUME_CONFIRM]
    with harness.rt.sessions() as s:
        assert channel.can_notify(s, phone.number) is True
    assert channel.send_notice(phone.number, "活动提醒", "明天上午9点在幸福里社区").ok
    assert harness.log_count(phone.number, "in") == 5


def test_notices_off_elsewhere_blocks_sms_notices(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    """A volunteer who turned notices off (in WeChat, or on an imported record) gets no notice by SMS either,
    though their SMS number itself never opted out; their own messages are still answered."""
    from data.models import ChannelIdentity, Volunteer
    from data.profiles import set_notices
    from data.timeutil import utcnow

    phone = Phone(harness, fake, "android")
    phone.send("你好")
    channel = SmsChannel(harness.rt, harness.service.provider("android"))
    with harness.rt.sessions() as s:
        ident = harness.identity(phone.number, s)
        assert ident is not None and ident.opted_out_at is None
        volunteer = ident.volunteer
        s.add(ChannelIdentity(volunteer_id=volunteer.id, channel="wechat", external_id="o" + phone.number,
                              created_at=utcnow()))
        s.flush()
        s.refresh(volunteer)
        set_notices(s, volunteer, "wechat", False, utcnow())  # said 退订 in WeChat
        s.commit()
        assert harness.identity(phone.number, s).opted_out_at is None  # the SMS identity is untouched
    before = len(fake.texts_to(phone.number))
    result = channel.send_notice(phone.number, "活动提醒", "明天上午9点")
    assert (result.status, result.reason) == ("unreachable", "notices_off")
    with harness.rt.sessions() as s:
        assert channel.can_notify(s, phone.number) is False
    assert len(fake.texts_to(phone.number)) == before  # nothing reached the phone
    assert phone.send("1")  # a conversation is still answered
    # An imported record with this number and notices off, before the person ever wrote by SMS.
    number = new_phone()
    with harness.rt.sessions() as s:
        s.add(Volunteer(name="导入的", created_at=utcnow(), skills=[], categories=[], availability=0, max_load=2,
                        phone_hash=harness.rt.vault.lookup_hash(number), notices_opt_out=True))
        s.commit()
    assert channel.send_notice(number, "活动提醒", "明天上午9点").reason == "notices_off"
    assert fake.texts_to(number) == []
    with harness.rt.sessions() as s:
        ident = harness.identity(phone.number, s)
        assert ident is not None
        set_notices(s, ident.volunteer, "wechat", True, utcnow())  # 订阅 again
        s.commit()
    assert channel.send_notice(phone.number, "活动提醒", "明天上午9点").ok
    assert fake.texts_to(phone.number)[-1] == "活动提醒：明天上午9点"


def test_a_nul_character_in_a_text_is_answered_normally(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    """A phone or gateway may put U+0000 into a text (JSON carries it); PostgreSQL refuses it in text columns,
    so the turn failed and every such message got the apology. (Found by the dialog property test.)"""
    phone = Phone(harness, fake, "android")
    answer = "\n".join(phone.send("你好\x00"))
    assert answer and "出了点小问题" not in answer and "同意" in answer, answer
    assert harness.log_count(phone.number, "in") == 1


def test_outbound_errors_map_to_send_results(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    channel = SmsChannel(harness.rt, harness.service.provider("android"), sleep=lambda s: None)
    number = new_phone()
    fake.fail_next(lambda r: json_response({"message": "busy"}, 503))
    assert channel.send_notice(number, "通知", "测试一").ok  # retried, then sent
    assert fake.texts_to(number) == ["通知：测试一"]
    fake.fail_next(*[lambda r: Response("down", 500)] * 3)
    res = channel.send_notice(number, "通知", "测试二")
    assert res.status == "retry"
    fake.fail_next(lambda r: json_response({"message": "Unauthorized"}, 401))
    assert channel.send_notice(number, "通知", "测试三").status == "failed"
    assert channel.send_notice("12345", "通知", "x").status == "failed"


def test_loop_guard_stops_identical_texts(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    channel = SmsChannel(harness.rt, harness.service.provider("android"))
    number = new_phone()
    results = [channel.send_code(number, "123456").status for _ in range(22)]
    assert results[:20] == ["sent"] * 20 and results[20:] == ["failed", "failed"]
    assert len(fake.texts_to(number)) == 20


def test_flood_from_one_number_is_limited(harness: SmsHarness, fake: FakeAndroidGateway) -> None:
    number = new_phone()
    for i in range(harness.rt.config.sms.rate_per_minute + 4):
        fake.deliver(harness.url("android", None), number, f"消息{i}")
    harness.settle()
    assert harness.log_count(number, "in") == harness.rt.config.sms.rate_per_minute
    assert any("太快" in t for t in fake.texts_to(number))
