"""Tencent Cloud SMS: reply callbacks in, SendSms templates out, against a TC3-checking loopback fake."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.channels.sms import SmsChannel
from bot.web.sms import OPT_OUT_CONFIRM
from data.kv import Store
from tests.drivers.sms import Phone, SmsHarness, new_phone
from tests.fakes.sms_base import json_response
from tests.fakes.sms_tencent import FakeTencentSms

TEMPLATES = {"2000001": [20] * 6, "2000002": [20] * 3, "2000003": [6]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTencentSms]:
    f = FakeTencentSms(templates=TEMPLATES)
    yield f
    f.close()


def overrides(fake: FakeTencentSms, **extra: object) -> dict[str, object]:
    return {"sms.providers": ["tencent"], "sms.outbound": "tencent", "sms.tencent.endpoint": fake.host,
            "sms.tencent.scheme": "http", "sms.tencent.secret_id": fake.secret_id,
            "sms.tencent.secret_key": fake.secret_key, "sms.tencent.sdk_app_id": fake.sdk_app_id,
            "sms.tencent.sign_name": "银龄志愿",
            "sms.tencent.templates": {
                "reply": {"id": "2000001", "vars": {f"p{i}": 20 for i in range(1, 7)}},
                "notice": {"id": "2000002", "vars": {"a": 20, "b": 20, "c": 20}},
                "code": {"id": "2000003", "vars": {"code": 6}}}, **extra}


@pytest.fixture
def harness(engine: Engine, store: Store, fake: FakeTencentSms) -> Iterator[SmsHarness]:
    fake.errors.clear()
    h = SmsHarness(engine, store, overrides(fake))
    yield h
    h.close()


def test_callback_answered_and_reply_sent_as_template(harness: SmsHarness, fake: FakeTencentSms) -> None:
    number = new_phone()
    for as_list in (True, False):
        resp = fake.post_callback(harness.url("tencent"), fake.callback_body(number, f"你好{as_list}",
                                                                             as_list=as_list))
        assert resp.status_code == 200 and resp.json() == {"result": 0, "errmsg": "OK"}
    harness.settle()
    sent = [m for m in fake.sent if m["phone"] == number]
    assert len(sent) == 2 and all(m["template"] == "2000001" for m in sent)
    assert all(len(p) <= 20 for m in sent for p in m["params"])
    assert harness.log_count(number, "in") == 2


def test_wrong_token_and_bad_bodies(harness: SmsHarness, fake: FakeTencentSms) -> None:
    number = new_phone()
    r = fake.post_callback(harness.url("tencent", token="nope"), fake.callback_body(number, "1"))
    assert r.status_code == 403 and r.json()["result"] == 1
    r = fake.post_callback(harness.url("tencent", token=None), fake.callback_body(number, "1"))
    assert r.status_code == 403
    assert fake.post_callback(harness.url("tencent"), b"[{]").status_code == 400
    assert fake.post_callback(harness.url("tencent"), b'[{"mobile": 1}]').status_code == 400
    foreign = json.dumps([{"mobile": "2025550123", "nationcode": "1", "text": "hi", "time": 1}]).encode()
    assert fake.post_callback(harness.url("tencent"), foreign).status_code == 400
    harness.settle()
    assert harness.identity(number) is None and fake.texts_to(number) == []


def test_duplicate_callback_processed_once(harness: SmsHarness, fake: FakeTencentSms) -> None:
    number = new_phone()
    body = fake.callback_body(number, "找活动", at=int(time.time()))
    for _ in range(3):
        assert fake.post_callback(harness.url("tencent"), body).json()["result"] == 0
    harness.settle()
    assert harness.log_count(number, "in") == 1 and len(fake.texts_to(number)) == 1


def test_blacklist_is_a_provider_opt_out(harness: SmsHarness, fake: FakeTencentSms) -> None:
    phone = Phone(harness, fake, "tencent")
    assert phone.send("你好")
    fake.blacklist.add(phone.number)
    channel = harness.service.channel("tencent")
    result = channel.send_replies(phone.number, [])
    assert result.status == "unreachable" and result.reason == "opted_out"
    ident = harness.identity(phone.number)
    assert ident is not None and ident.opted_out_at is not None and ident.opted_out_reason.startswith("tencent")
    assert channel.send_notice(phone.number, "提醒", "明天活动").reason == "opted_out"
    fake.blacklist.discard(phone.number)


def test_opt_out_keyword_by_template(harness: SmsHarness, fake: FakeTencentSms) -> None:
    phone = Phone(harness, fake, "tencent")
    texts = phone.send("退订")
    assert len(texts) == 1 and texts[0].replace(" ", "") == OPT_OUT_CONFIRM.replace(" ", "")[:120]


def test_provider_errors(engine: Engine, store: Store, fake: FakeTencentSms) -> None:
    h = SmsHarness(engine, store, overrides(fake, **{"sms.tencent.secret_key": "wrong"}))
    try:
        channel = SmsChannel(h.rt, h.service.provider("tencent"), sleep=lambda s: None)
        res = channel.send_notice(new_phone(), "提醒", "x")
        assert res.status == "failed" and "AuthFailure.SignatureFailure" in res.reason
    finally:
        h.close()
    h = SmsHarness(engine, store, overrides(fake))
    try:
        channel = SmsChannel(h.rt, h.service.provider("tencent"), sleep=lambda s: None)
        number = new_phone()
        fake.fail_next(lambda r: fake.error("InternalError.Timeout"))
        assert channel.send_code(number, "654321").ok
        assert fake.sent[-1]["params"] == ["654321"]
        fake.fail_next(*[lambda r: fake.error("LimitExceeded.PhoneNumberThirtySecondLimit")] * 3)
        res = channel.send_code(number, "111111")
        assert res.status == "retry" and res.retry_after == 30.0
        fake.fail_next(lambda r: fake.error("LimitExceeded.PhoneNumberDailyLimit"))
        assert channel.send_code(number, "222222").status == "unreachable"
        fake.fail_next(lambda r: json_response({"oops": True}, 502))
        assert channel.send_code(number, "333333").ok  # 502 retried
    finally:
        h.close()
