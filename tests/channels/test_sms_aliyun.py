"""Aliyun SMS: batch pushes in (answered before the turns run, duplicates once), SendSms out via an ACS3-checking fake."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.channels.sms import SmsChannel
from data.kv import Store
from tests.drivers.sms import Phone, SmsHarness, new_phone
from tests.fakes.sms_aliyun import FakeAliyunSms

VARS = {"p1": 35, "p2": 35, "p3": 35, "p4": 35}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAliyunSms]:
    f = FakeAliyunSms(templates={"SMS_100": VARS, "SMS_200": {"code": 6}})
    yield f
    f.close()


def overrides(fake: FakeAliyunSms, **extra: object) -> dict[str, object]:
    return {"sms.providers": ["aliyun"], "sms.outbound": "aliyun", "sms.aliyun.endpoint": fake.host,
            "sms.aliyun.scheme": "http", "sms.aliyun.access_key_id": fake.key_id,
            "sms.aliyun.access_key_secret": fake.key_secret, "sms.aliyun.sign_name": "银龄志愿",
            "sms.aliyun.templates": {"reply": {"id": "SMS_100", "vars": VARS},
                                     "code": {"id": "SMS_200", "vars": {"code": 6}}}, **extra}


@pytest.fixture
def harness(engine: Engine, store: Store, fake: FakeAliyunSms) -> Iterator[SmsHarness]:
    fake.errors.clear()
    h = SmsHarness(engine, store, overrides(fake))
    yield h
    h.close()


def test_batch_push_answered_before_the_turns_each_processed_once(harness: SmsHarness, fake: FakeAliyunSms,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Aliyun wants the push acknowledged at once: the turns are held until both pushes were answered, so a
    webhook that waited for them could not answer in time. How fast it answers: bench/ack_bench.py."""
    import bot.pipeline

    real, release = bot.pipeline.respond, threading.Event()

    def held(turn: Any) -> Any:
        release.wait(8)
        return real(turn)

    monkeypatch.setattr(bot.pipeline, "respond", held)
    a, b = new_phone(), new_phone()
    body = fake.push_body([(a, "你好"), (b, "找活动")])
    for _ in range(2):  # Aliyun may push the same batch again
        resp = fake.post_push(harness.url("aliyun"), body)
        assert resp.status_code == 200 and resp.json()["code"] == 0
    assert [m for m in fake.sent if m["phone"] in (a, b)] == []  # answered before any turn finished
    release.set()
    harness.settle()
    for number in (a, b):
        assert harness.log_count(number, "in") == 1
        sent = [m for m in fake.sent if m["phone"] == number]
        assert len(sent) == 1 and all(len(v) <= 35 for v in sent[0]["params"].values())


def test_wrong_token_malformed_and_bad_numbers(harness: SmsHarness, fake: FakeAliyunSms) -> None:
    number = new_phone()
    r = fake.post_push(harness.url("aliyun", token="x"), fake.push_body([(number, "1")]))
    assert r.status_code == 403 and r.json()["code"] == 1
    assert fake.post_push(harness.url("aliyun"), b'{"phone_number": "1"}').status_code == 400
    assert fake.post_push(harness.url("aliyun"), b"\xff\xfe").status_code == 400
    # one unknown number in the batch: refused whole, nothing half-written
    r = fake.post_push(harness.url("aliyun"), fake.push_body([(number, "1"), ("+44 20 7946 0000", "hi")]))
    assert r.status_code == 400 and r.json()["code"] == 1
    harness.settle()
    assert harness.identity(number) is None


def test_conversation_replies_fit_template_variables(harness: SmsHarness, fake: FakeAliyunSms) -> None:
    phone = Phone(harness, fake, "aliyun")
    for text in ("你好", "1", "0"):
        texts = phone.send(text)
        assert len(texts) == 1 and texts[0]
    assert all(len(v) <= 35 for m in fake.sent if m["phone"] == phone.number for v in m["params"].values())


def test_provider_errors(engine: Engine, store: Store, fake: FakeAliyunSms) -> None:
    h = SmsHarness(engine, store, overrides(fake, **{"sms.aliyun.access_key_secret": "wrong"}))
    try:
        res = SmsChannel(h.rt, h.service.provider("aliyun"), sleep=lambda s: None).send_code(new_phone(), "123456")
        assert res.status == "failed" and "SignatureDoesNotMatch" in res.reason
    finally:
        h.close()
    h = SmsHarness(engine, store, overrides(fake))
    try:
        channel = SmsChannel(h.rt, h.service.provider("aliyun"), sleep=lambda s: None)
        number = new_phone()
        assert channel.send_code(number, "123456").ok
        assert fake.sent[-1]["params"] == {"code": "123456"}
        fake.limited.add(number)
        res = channel.send_code(number, "654321")
        assert res.status == "retry" and res.retry_after == 60.0
        fake.limited.discard(number)
        fake.fail_next(lambda r: fake.error("isp.SYSTEM_ERROR", status=500))
        assert channel.send_code(number, "999999").ok
        fake.fail_next(lambda r: fake.error("isv.DAY_LIMIT_CONTROL"))
        assert channel.send_code(number, "888888").status == "unreachable"
    finally:
        h.close()
