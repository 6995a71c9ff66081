"""念给我听 through the /wechat webhook, end to end: the passive text first, then speech (an OpenAI-compatible
loopback server answering real WAV) → AMR-NB → media/upload → a customer-service voice message; the
preference kept in the database; WeChat's errors answered politely. SQLite/PostgreSQL, memory/Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from bot.channels import wechat_api
from bot.push import read_aloud
from bot.push.texts import READ_ALOUD_FAILED
from bot.runtime import Runtime
from bot.web import runtime_of
from data.models import ChannelIdentity, Volunteer
from dialogs import texts as T
from tests.drivers.wechat import APP_ID, WechatDriver, flask_transport
from tests.drivers.wechat_app import channel, wechat_service
from tests.fakes.sms_base import json_response
from tests.fakes.tts import FakeSpeechServer, FakeWechatMedia, amr_seconds
from tests.fakes.wechat_api import APP_SECRET


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechatMedia]:
    server = FakeWechatMedia(APP_ID, APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def speech() -> Iterator[FakeSpeechServer]:
    server = FakeSpeechServer()
    yield server
    server.close()


@pytest.fixture(scope="module", params=["sqlite-memory", "sqlite-redis", "postgres-redis"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake: FakeWechatMedia,
        speech: FakeSpeechServer) -> Iterator[Flask]:
    tts = {"tts.backend": "openai", "tts.url": speech.url, "tts.fallback": "espeak"}
    with wechat_service(request, tmp_path_factory, fake.url, tts) as flask_app:
        yield flask_app


@pytest.fixture
def rt(app: Flask, fake: FakeWechatMedia, speech: FakeSpeechServer) -> Runtime:
    fake.reset()
    fake.gate = None
    speech.errors.clear()
    return runtime_of(app)


def person(app: Flask) -> WechatDriver:
    """A follower who has agreed to the privacy note and sits at the main menu."""
    d = WechatDriver(flask_transport(app.test_client()))
    first = d.text("你好")
    if "同意" in first.text:
        d.text("1")
        d.text("0")
    return d


def spoken(rt: Runtime, app: Flask) -> None:
    """Let every reading scheduled so far finish: a real RQ worker (burst) with Redis, else the threads."""
    if rt.redis is not None:
        from rq import SimpleWorker

        queue = channel(app)._rq_queue()
        while queue.count:
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
        return
    for t in threading.enumerate():
        if t.name == "wechat-read-aloud":
            t.join(60)


def read_aloud_pref(rt: Runtime, openid: str) -> bool:
    with rt.sessions() as s:
        return bool(s.scalar(select(Volunteer.read_aloud).join(ChannelIdentity).where(
            ChannelIdentity.channel == "wechat", ChannelIdentity.external_id == openid)))


# -- 念给我听 --------------------------------------------------------------------------------------------
def test_read_aloud_sends_the_last_reply_as_a_valid_amr_voice(app: Flask, rt: Runtime, fake: FakeWechatMedia,
                                                              speech: FakeSpeechServer) -> None:
    d = person(app)
    listing = d.text("找活动").text
    assert "1." in listing
    rt.store.delete(read_aloud._media_key(read_aloud.speaker(rt.config.tts), listing))  # spoken afresh
    asked = len(speech.sent)
    reply = d.text("念给我听").text
    assert reply.startswith(T.READ_ALOUD_COMING)
    assert listing.splitlines()[0] in reply  # the list again as text: nobody has to scroll back
    spoken(rt, app)
    voices = fake.voices()
    assert len(voices) >= 1 and all(v["touser"] == d.openid for v in voices)
    media = [v["voice"]["media_id"] for v in voices]
    assert set(media) <= set(fake.uploads)
    amr = fake.uploads[media[0]]
    assert amr.startswith(b"#!AMR\n")
    seconds = sum(amr_seconds(fake.uploads[m]) for m in media)
    assert 3.0 < seconds <= 2 * 60  # a list read at espeak's pace: seconds, within two voice messages
    said = "".join(x["text"] for x in speech.sent[asked:])
    assert T.READ_ALOUD_COMING not in said  # the list is read, not our own note about reading it
    assert listing.splitlines()[0][:8] in said
    assert fake.texts() == []  # nothing went wrong: no apology


def test_the_passive_reply_does_not_wait_for_the_voice(app: Flask, rt: Runtime, fake: FakeWechatMedia) -> None:
    d = person(app)
    fake.gate = threading.Event()  # the upload hangs until the webhook has answered
    try:
        reply = d.text("读给我听")
        assert reply.text.startswith(T.READ_ALOUD_COMING)
        assert fake.voices() == []
    finally:
        fake.gate.set()
    spoken(rt, app)
    assert len(fake.voices()) == 1


def test_a_retried_message_is_read_once(app: Flask, rt: Runtime, fake: FakeWechatMedia) -> None:
    d = person(app)
    fields = d._fields("text", Content="我看不清 念出来", MsgId=int(uuid.uuid4().int % 10**15))
    first = d.send(fields)
    again = d.send(fields)  # WeChat retries the same MsgId
    assert first.text == again.text
    spoken(rt, app)
    assert len(fake.voices()) == 1


@pytest.mark.parametrize("errcode", [40004, 45009])
def test_an_upload_wechat_refuses_gets_one_polite_line(app: Flask, rt: Runtime, fake: FakeWechatMedia,
                                                       errcode: int) -> None:
    d = person(app)
    fake.fail("media/upload", errcode)  # 40004 invalid media type, 45009 daily API quota
    reply = d.text("念一下")
    assert reply.text.startswith(T.READ_ALOUD_COMING)  # the text itself is with the person already
    spoken(rt, app)
    assert fake.voices() == []
    assert fake.texts() == [READ_ALOUD_FAILED]


def test_system_busy_on_upload_is_tried_once_more(app: Flask, rt: Runtime, fake: FakeWechatMedia) -> None:
    d = person(app)
    fake.fail("media/upload", -1)
    d.text("念给我听")
    spoken(rt, app)
    assert len(fake.voices()) == 1 and fake.texts() == []


def test_speech_server_down_falls_back_to_espeak(app: Flask, rt: Runtime, fake: FakeWechatMedia,
                                                 speech: FakeSpeechServer) -> None:
    d = person(app)
    speech.fail_next(lambda r: json_response({"error": {"message": "down"}}, 502))
    d.text("念给我听")
    spoken(rt, app)
    voices = fake.voices()
    assert len(voices) == 1 and amr_seconds(fake.uploads[voices[0]["voice"]["media_id"]]) > 1.0


def test_outside_the_48_hour_window_nothing_is_uploaded(app: Flask, rt: Runtime, fake: FakeWechatMedia) -> None:
    d = person(app)
    rt.store.set(wechat_api.unreachable_key(d.openid), "outside_48h_window", 3600)
    api = channel(app).api
    api.note_inbound = lambda openid: None  # type: ignore[method-assign] # the message itself does not reopen it
    try:
        d.text("念给我听")
    finally:
        del api.note_inbound
    spoken(rt, app)
    assert "media/upload" not in fake.requests and fake.custom == []


# -- 以后都念给我听 / 不用念了 ------------------------------------------------------------------------------
def test_always_on_is_saved_reads_every_reply_and_turns_off(app: Flask, rt: Runtime,
                                                            fake: FakeWechatMedia) -> None:
    d = person(app)
    assert not read_aloud_pref(rt, d.openid)
    on = d.text("以后都念给我听").text
    assert on.startswith(T.READ_ALOUD_ON)  # says what changed
    assert read_aloud_pref(rt, d.openid)
    spoken(rt, app)
    heard = len(fake.voices())
    assert heard >= 1  # the confirmation itself is read
    d.text("找活动")
    spoken(rt, app)
    assert len(fake.voices()) > heard  # a list may take two voice messages
    heard = len(fake.voices())
    again = d.text("每次都读出来").text
    assert again.startswith(T.READ_ALOUD_ALREADY_ON)
    spoken(rt, app)
    assert len(fake.voices()) > heard
    heard = len(fake.voices())
    off = d.text("不用念了").text
    assert off.startswith(T.READ_ALOUD_OFF)
    assert not read_aloud_pref(rt, d.openid)
    d.text("找活动")
    assert d.text("别念了").text.startswith(T.READ_ALOUD_ALREADY_OFF)
    spoken(rt, app)
    assert len(fake.voices()) == heard  # text only from "不用念了" on
    assert fake.texts() == []


def test_read_aloud_before_the_privacy_answer_reads_the_question(app: Flask, rt: Runtime,
                                                                 fake: FakeWechatMedia) -> None:
    d = WechatDriver(flask_transport(app.test_client()))
    welcome = d.text("你好").text
    assert "同意" in welcome
    reply = d.text("念给我听").text
    assert reply.startswith(T.READ_ALOUD_COMING) and "同意" in reply
    spoken(rt, app)
    assert len(fake.voices()) >= 1
    assert not read_aloud_pref(rt, d.openid)


def test_a_late_turn_sends_the_text_then_the_voice(app: Flask, rt: Runtime, fake: FakeWechatMedia) -> None:
    d = person(app)
    d.text("找活动")
    cfg = channel(app).cfg
    budget = cfg.reply_budget_seconds
    cfg.reply_budget_seconds = 0.0  # every turn misses the window: answered empty, delivered later
    try:
        assert d.text("念给我听").empty
        deadline = time.monotonic() + 30
        while (not fake.texts() or not fake.voices()) and time.monotonic() < deadline:
            spoken(rt, app)  # the late turn queues its text and its voice when it ends
            time.sleep(0.05)
    finally:
        cfg.reply_budget_seconds = budget
    texts = fake.texts()
    assert len(texts) == 1 and texts[0].startswith(T.READ_ALOUD_COMING)
    assert len(fake.voices()) >= 1


def test_a_menu_button_reads_aloud_too(app: Flask, rt: Runtime, fake: FakeWechatMedia) -> None:
    d = person(app)
    d.text("找活动")
    reply = d.event("CLICK", key="MENU_READ").text
    assert reply.startswith(T.READ_ALOUD_COMING)
    spoken(rt, app)
    assert len(fake.voices()) >= 1
