"""Voice messages without WeChat's transcript, end to end through /wechat: real speech (espeak-ng → AMR), the
fake media API serving it, our decoding, a loopback recognizer checking the audio, and the reply."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.channels import asr, wechat_api
from bot.config import ConfigError, load_config
from bot.runtime import Runtime
from bot.web import runtime_of
from bot.web.wechat import WechatChannel
from data.models import MessageLog
from tests.drivers.wechat import APP_ID, WechatDriver, flask_transport
from tests.drivers.wechat_app import channel, wechat_service
from tests.fakes.asr import FakeOpenAIRecognizer, FakeTencentAsr, Heard
from tests.fakes.wechat_api import APP_SECRET, FakeWechatAPI
from tests.voice.audio import amr, spoken_seconds

MODEL = "paraformer-zh"
_ids = iter(range(7_000_000_000, 8_000_000_000))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechatAPI]:
    server = FakeWechatAPI(APP_ID, APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def recognizer() -> Iterator[FakeOpenAIRecognizer]:
    server = FakeOpenAIRecognizer(MODEL, api_key="team-key")
    yield server
    server.close()


@pytest.fixture(scope="module")
def tencent() -> Iterator[FakeTencentAsr]:
    server = FakeTencentAsr()
    yield server
    server.close()


@pytest.fixture(scope="module", params=["sqlite-memory", "postgres-redis"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake: FakeWechatAPI,
        recognizer: FakeOpenAIRecognizer) -> Iterator[Flask]:
    """The whole service with YINLING_ASR_URL pointing at the loopback OpenAI-compatible recognizer."""
    asr = {"asr.url": recognizer.url, "asr.model": MODEL, "asr.api_key": "team-key"}
    with wechat_service(request, tmp_path_factory, fake.url, asr) as flask_app:
        yield flask_app


@pytest.fixture
def rt(app: Flask, fake: FakeWechatAPI, recognizer: FakeOpenAIRecognizer) -> Iterator[Runtime]:
    fake.reset()
    recognizer.heard.clear()
    recognizer.script.clear()
    recognizer.errors.clear()
    recognizer.delay = 0.0
    recognizer.release.clear()
    recognizer.started.clear()
    original = channel(app).recognizer
    yield runtime_of(app)
    channel(app).recognizer = original


def driver(app: Flask) -> WechatDriver:
    return WechatDriver(flask_transport(app.test_client()), mode="safe")


def speak_to(fake: FakeWechatAPI, said: str) -> str:
    """Real Mandarin speech of `said` as AMR, served by the fake media API; its media_id."""
    media_id = f"voice-{uuid.uuid4().hex[:12]}"
    fake.add_media(media_id, amr(said))
    return media_id


def voice(d: WechatDriver, media_id: str, msg_id: int | None = None) -> dict[str, Any]:
    """A voice message as WeChat sends it once Recognition is retired: no transcript."""
    return d._fields("voice", MediaId=media_id, Format="amr", Recognition="",
                     MsgId=msg_id if msg_id is not None else next(_ids))


def real_speech(heard: Heard, said: str) -> None:
    """The recognizer got 16 kHz mono 16-bit audio as long as the speech, and not silence."""
    assert (heard.rate, heard.channels, heard.width) == (16000, 1, 2)
    assert abs(heard.seconds - spoken_seconds(said)) < 0.1, (heard.seconds, spoken_seconds(said))
    assert heard.peak > 1000


def last_in(rt: Runtime, openid: str) -> str:
    with rt.sessions() as s:
        return str(s.scalars(select(MessageLog.text).where(MessageLog.address == openid,
                                                           MessageLog.direction == "in")
                             .order_by(MessageLog.id.desc())).first())


def numbered(text: str) -> bool:
    return "1." in text or "1、" in text or "1）" in text


# -- the OpenAI-compatible recognizer (a team's own FunASR / faster-whisper server) --------------------
def test_voice_is_heard_and_answered_as_if_typed(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                 recognizer: FakeOpenAIRecognizer,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    said = "明天有什么活动"
    recognizer.say(said)
    spoken, typed = driver(app), driver(app)
    with caplog.at_level(logging.DEBUG):
        reply = spoken.send(voice(spoken, speak_to(fake, said)))
    assert any("recognized" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if said in r.getMessage()]  # logs never carry what people said
    assert len(recognizer.heard) == 1
    real_speech(recognizer.heard[0], said)
    assert recognizer.heard[0].model == MODEL
    assert reply.text == typed.text(said).text  # the same turn a typed message gets
    assert numbered(reply.text) and "活动" in reply.text
    assert last_in(rt, spoken.openid) == said


def test_misheard_place_and_spoken_numbers_still_work(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                      recognizer: FakeOpenAIRecognizer) -> None:
    """The recognizer writes 杨光社区 for 阳光社区 and the person then picks 第二个: the turn reads both."""
    d, typed = driver(app), driver(app)
    recognizer.say("杨光社区最近有什么活动", "第二个")
    first = d.send(voice(d, speak_to(fake, "阳光社区最近有什么活动")))
    assert first.text == typed.text("阳光社区最近有什么活动").text
    assert last_in(rt, d.openid) == "阳光社区最近有什么活动"  # what the dialogs read: the place put right
    second = d.send(voice(d, speak_to(fake, "第二个")))
    assert second.text == typed.text("2").text
    assert len(recognizer.heard) == 2


def test_misheard_category_word_is_put_right(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                             recognizer: FakeOpenAIRecognizer) -> None:
    """扫雪 heard as 少雪 (sh/s): the search still looks for snow clearing (环境保护), as for the typed word."""
    d, typed = driver(app), driver(app)
    for who in (d, typed):
        who.event("subscribe")
        who.text("1")  # agreed to the privacy note
    recognizer.say("下周有没有少雪的活动")
    reply = d.send(voice(d, speak_to(fake, "下周有没有扫雪的活动")))
    assert reply.text == typed.text("下周有没有扫雪的活动").text
    assert last_in(rt, d.openid) == "下周有没有扫雪的活动"


def test_recognizer_errors_get_the_kind_answer(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                               recognizer: FakeOpenAIRecognizer) -> None:
    d = driver(app)
    recognizer.fail_next(lambda r: FakeOpenAIRecognizer.error(500, "The server had an error", "server_error"))
    reply = d.send(voice(d, speak_to(fake, "我要报名")))
    assert numbered(reply.text) and "语音" in reply.text
    assert not recognizer.heard  # the failed request never reached the recognizer's ears
    assert last_in(rt, d.openid) == "[voice:]"


def test_a_wrong_key_is_refused_by_the_server_and_answered_kindly(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                                  recognizer: FakeOpenAIRecognizer) -> None:
    cfg = load_config(overrides={"asr.url": recognizer.url, "asr.model": MODEL, "asr.api_key": "wrong"})
    channel(app).recognizer = asr.build(cfg)
    d = driver(app)
    reply = d.send(voice(d, speak_to(fake, "我要报名")))
    assert numbered(reply.text) and "语音" in reply.text and not recognizer.heard


def test_media_that_is_gone_or_not_audio_is_answered_kindly(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                            recognizer: FakeOpenAIRecognizer) -> None:
    d = driver(app)
    reply = d.send(voice(d, "expired-three-days-ago"))  # media/get answers errcode 40007
    assert numbered(reply.text) and "语音" in reply.text
    fake.add_media("broken", b"#!AMR\n" + b"\x00garbage" * 20)
    reply = d.send(voice(d, "broken"))
    assert numbered(reply.text) and "语音" in reply.text
    assert not recognizer.heard


def test_media_download_refreshes_a_rejected_token_once(app: Flask, rt: Runtime, fake: FakeWechatAPI) -> None:
    api = channel(app).api
    media_id = speak_to(fake, "你好")
    api.current_token()
    fake.expire_token()  # the shared token WeChat gave earlier is now rejected with 42001
    api._local_token = None
    calls = len(fake.token_calls)
    data, ctype = api.get_media(media_id)
    assert data.startswith(b"#!AMR\n") and ctype == "audio/amr"
    assert len(fake.token_calls) == calls + 1  # one refresh
    assert fake.requests.count("media/get") == 2 and fake.media_downloads == [media_id]
    with pytest.raises(wechat_api.WechatAPIError) as err:
        api.get_media("no-such-media")
    assert err.value.errcode == 40007 and err.value.retry_after is None
    fake.fail("media/get", errcode=-1)  # 系统繁忙
    with pytest.raises(wechat_api.WechatAPIError) as err:
        api.get_media(media_id)
    assert err.value.errcode == -1 and err.value.retry_after
    fake.fail("media/get", status=502)
    with pytest.raises(wechat_api.WechatAPIError) as err:
        api.get_media(media_id)
    assert err.value.http_status == 502
    assert api.get_media(media_id)[0] == data


def test_no_recognizer_configured_downloads_nothing(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                    recognizer: FakeOpenAIRecognizer) -> None:
    channel(app).recognizer = asr.build(load_config(overrides={"asr.url": None}))
    assert channel(app).recognizer is None
    d = driver(app)
    reply = d.send(voice(d, speak_to(fake, "明天有什么活动")))
    assert numbered(reply.text) and "语音" in reply.text
    assert not fake.media_downloads and not recognizer.heard


# -- the 5-second window -----------------------------------------------------------------------------------
def test_slow_recognizer_moves_the_reply_to_a_message_and_a_retry_is_not_heard_twice(
        app: Flask, rt: Runtime, fake: FakeWechatAPI, recognizer: FakeOpenAIRecognizer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ch = channel(app)
    monkeypatch.setattr(ch.cfg, "reply_budget_seconds", 0.3)
    said = "明天有什么活动"
    recognizer.say(said)
    recognizer.delay = 10.0  # far past the budget, until released
    d = driver(app)
    d.event("subscribe")
    fields = voice(d, speak_to(fake, said))
    first = d.send(fields)
    assert first.empty and not fake.custom  # WeChat got its empty answer in time
    assert recognizer.started.wait(5)
    retry = d.send(fields)  # WeChat retries the same MsgId while the recognizer still thinks
    assert retry.empty
    recognizer.release.set()
    sent = _deliver(rt, ch, fake, 1)
    assert len(sent) == 1 and sent[0]["touser"] == d.openid and "活动" in sent[0]["text"]["content"]
    assert d.send(fields).empty  # a third delivery after the reply went out: still nothing new
    assert len(recognizer.heard) == 1 and fake.media_downloads == [fields["MediaId"]]
    assert last_in(rt, d.openid) == said
    time.sleep(0.3)
    assert len(fake.custom) == 1


def _deliver(rt: Runtime, ch: WechatChannel, fake: FakeWechatAPI, count: int) -> list[dict[str, Any]]:
    """Wait for `count` late replies; with Redis, a real RQ worker (burst) sends them."""
    if rt.redis is None:
        return fake.wait_for_custom(count)
    from rq import SimpleWorker

    queue = ch._rq_queue()
    deadline = time.monotonic() + 15
    while len(fake.custom) < count and time.monotonic() < deadline:
        if queue.count:
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
        else:
            time.sleep(0.05)
    return list(fake.custom)


# -- Tencent Cloud 一句话识别 ---------------------------------------------------------------------------
def tencent_config(server: FakeTencentAsr, secret_key: str | None = None) -> Any:
    return load_config(overrides={
        "asr.provider": "tencent", "asr.tencent.secret_id": server.secret_id,
        "asr.tencent.secret_key": secret_key or server.secret_key, "asr.tencent.endpoint": server.host,
        "asr.tencent.scheme": "http"})


def test_tencent_recognizes_signed_requests(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                            tencent: FakeTencentAsr) -> None:
    channel(app).recognizer = asr.build(tencent_config(tencent))
    said = "我想报名扫雪"
    tencent.say("明天有什么活动")
    d, typed = driver(app), driver(app)
    reply = d.send(voice(d, speak_to(fake, said)))
    assert tencent.heard, "the fake refused the request (signature, action or parameters)"
    real_speech(tencent.heard[-1], said)
    assert tencent.requests_seen[-1]["EngSerViceType"] == "16k_zh"
    assert reply.text == typed.text("明天有什么活动").text


def test_tencent_with_a_wrong_secret_is_refused_and_answered_kindly(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                                    tencent: FakeTencentAsr) -> None:
    channel(app).recognizer = asr.build(tencent_config(tencent, secret_key="not-the-key"))
    before = len(tencent.heard)
    d = driver(app)
    reply = d.send(voice(d, speak_to(fake, "我想报名")))
    assert len(tencent.heard) == before  # the signature did not check out
    assert numbered(reply.text) and "语音" in reply.text


# -- configuration ----------------------------------------------------------------------------------------
def test_recognizer_choice_from_config() -> None:
    assert asr.build(load_config(overrides={"asr.url": None})) is None
    assert asr.build(load_config(env={"YINLING_ASR_URL": "http://10.0.0.5:8000"})).name == "openai"
    assert asr.build(load_config(overrides={"asr.provider": "none", "asr.url": "http://x"})) is None
    with pytest.raises(ConfigError, match="asr.url"):
        asr.build(load_config(overrides={"asr.provider": "openai", "asr.url": None}))
    with pytest.raises(ConfigError, match="asr.provider"):
        asr.build(load_config(overrides={"asr.provider": "baidu"}))
    with pytest.raises(ConfigError, match="TENCENT_ASR_SECRET_ID"):
        asr.build(load_config(env={}, overrides={"asr.provider": "tencent"}))
    with pytest.raises(ConfigError, match="asr.api_key"):
        load_config(path=_yaml_with_secret())


def _yaml_with_secret() -> str:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as f:
        f.write("asr:\n  api_key: abc\n")
    return f.name
