"""Speech for replies read aloud: each backend against real audio (espeak-ng itself, loopback fakes that
answer espeak-ng's WAV), the AMR-NB WeChat plays, and what is spoken."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.channels import tts
from bot.config import ConfigError, TtsConfig, TtsTencentConfig, load_config
from tests.fakes.sms_base import json_response
from tests.fakes.tts import FakeSpeechServer, FakeTencentTts, amr_seconds, espeak_wav

MENU = "请问您想做什么？请回复数字：\n1. 找活动\n2. 给我推荐活动\n3. 我报名的活动\n4. 我的服务时长\n回复9找人工。"


@pytest.fixture(scope="module")
def speech() -> Iterator[FakeSpeechServer]:
    f = FakeSpeechServer(api_key="sk-test")
    yield f
    f.close()


@pytest.fixture(scope="module")
def tencent() -> Iterator[FakeTencentTts]:
    f = FakeTencentTts()
    yield f
    f.close()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


# -- what is spoken ------------------------------------------------------------------------------
def test_options_and_lines_become_spoken_pauses() -> None:
    spoken = tts.speakable(MENU)
    assert spoken == "请问您想做什么？请回复数字：1，找活动。2，给我推荐活动。3，我报名的活动。4，我的服务时长。回复9找人工。"


def test_long_text_is_cut_at_sentence_ends() -> None:
    text = "".join(f"第{i}句话说的是一件事情。" for i in range(40))
    pieces = tts.chunks(text, 60)
    assert "".join(pieces) == text
    assert all(len(p) <= 60 for p in pieces)
    assert all(p.endswith("。") for p in pieces)


# -- AMR-NB -----------------------------------------------------------------------------------------
def test_wav_becomes_amr_nb_that_plays_as_long() -> None:
    wav = espeak_wav("您好，我把上面的话念给您听。")
    voices = tts.to_amr(wav)
    assert len(voices) == 1
    amr = voices[0].amr
    assert amr.startswith(tts.AMR_MAGIC)
    played = amr_seconds(amr)
    assert abs(played - wav_seconds(wav)) < 0.05  # whole 20 ms frames: at most one frame of padding
    assert abs(played - voices[0].seconds) < 0.05  # the encoder may flush one more frame


def test_speech_longer_than_wechat_takes_is_split() -> None:
    wav = espeak_wav("一二三四五六七八九十。" * 6)
    total = wav_seconds(wav)
    voices = tts.to_amr(wav, max_seconds=5.0)
    assert len(voices) >= 2 and all(v.seconds <= 5.0 for v in voices)
    assert abs(sum(amr_seconds(v.amr) for v in voices) - total) < 0.05 * len(voices)


def test_not_audio_is_a_tts_error() -> None:
    with pytest.raises(tts.TtsError):
        tts.to_amr(b"RIFF not really a wave file")


# -- espeak-ng, for real ------------------------------------------------------------------------------
def test_espeak_speaks_the_menu() -> None:
    voices = tts.Speaker(TtsConfig(backend="espeak", fallback="off")).voices(MENU)
    assert 1 <= len(voices) <= 2
    seconds = sum(amr_seconds(v.amr) for v in voices)
    # ~60 characters of Mandarin at 140 words a minute: some seconds, less than WeChat's minute
    assert 10 < seconds < 60


def test_espeak_missing_is_an_error_and_off_speaks_nothing() -> None:
    with pytest.raises(tts.TtsError):
        tts.Speaker(TtsConfig(backend="espeak", fallback="off", espeak_path="/nonexistent/espeak")).voices("你好")
    assert not tts.Speaker(TtsConfig(backend="off", fallback="off")).enabled


# -- OpenAI-compatible /v1/audio/speech -----------------------------------------------------------------
def openai_cfg(speech: FakeSpeechServer, **kw: object) -> TtsConfig:
    return replace(TtsConfig(backend="openai", fallback="off", url=speech.url, api_key="sk-test"), **kw)


def test_openai_compatible_server_speaks(speech: FakeSpeechServer) -> None:
    before = len(speech.sent)
    voices = tts.Speaker(openai_cfg(speech, voice="zh-female")).voices("您好！\n1. 找活动")
    assert speech.sent[before:] == [{"text": "您好！1，找活动。", "voice": "zh-female"}]
    assert len(voices) == 1 and 1.0 < amr_seconds(voices[0].amr) < 20


def test_openai_errors_say_whether_to_retry(speech: FakeSpeechServer) -> None:
    speaker = tts.Speaker(openai_cfg(speech))
    speech.fail_next(lambda r: json_response({"error": {"message": "overloaded"}}, 503))
    with pytest.raises(tts.TtsError) as busy:
        speaker.voices("你好")
    assert busy.value.retry
    with pytest.raises(tts.TtsError) as refused:
        tts.Speaker(openai_cfg(speech, api_key="wrong")).voices("你好")
    assert not refused.value.retry and "401" in refused.value.reason
    speech.fail_next(lambda r: json_response({"not": "audio"}))
    with pytest.raises(tts.TtsError):
        speaker.voices("你好")


def test_a_failing_backend_falls_back_to_espeak(speech: FakeSpeechServer) -> None:
    speech.fail_next(lambda r: json_response({"error": {"message": "down"}}, 500))
    voices = tts.Speaker(openai_cfg(speech, fallback="espeak")).voices("您好")
    assert voices and amr_seconds(voices[0].amr) > 0.3


# -- Tencent Cloud TTS ----------------------------------------------------------------------------------
def tencent_cfg(fake: FakeTencentTts, secret_key: str | None = None) -> TtsConfig:
    t = TtsTencentConfig(secret_id=fake.secret_id, secret_key=secret_key or fake.secret_key,
                         endpoint=fake.host, scheme="http")
    return TtsConfig(backend="tencent", fallback="off", tencent=t)


def test_tencent_signed_request_speaks_in_pieces_of_150(tencent: FakeTencentTts) -> None:
    before = len(tencent.sent)
    text = "。".join(["今天上午九点在阳光社区活动室陪老人聊天"] * 12)  # ~230 characters
    voices = tts.Speaker(replace(tencent_cfg(tencent), max_chars=200, max_messages=3)).voices(text)
    calls = tencent.sent[before:]
    assert len(calls) == 2 and all(len(c["text"]) <= 150 for c in calls)
    assert calls[0]["voice_type"] == 101001 and calls[0]["speed"] == -1.0
    assert voices and all(v.amr.startswith(tts.AMR_MAGIC) for v in voices)


def test_tencent_wrong_key_is_refused_by_the_signature_check(tencent: FakeTencentTts) -> None:
    before = len(tencent.sent)
    with pytest.raises(tts.TtsError) as err:
        tts.Speaker(tencent_cfg(tencent, secret_key="not-the-key")).voices("你好")
    assert "AuthFailure.SignatureFailure" in err.value.reason and not err.value.retry
    assert len(tencent.sent) == before


# -- configuration ----------------------------------------------------------------------------------------
def test_config_from_environment_and_secrets_only_there(tmp_path: pytest.TempPathFactory) -> None:
    cfg = load_config(env={"YINLING_TTS_BACKEND": "openai", "YINLING_TTS_URL": "http://10.0.0.5:8000",
                           "YINLING_TTS_API_KEY": "sk-1", "TENCENT_TTS_SECRET_ID": "AKID"})
    assert (cfg.tts.backend, cfg.tts.url, cfg.tts.api_key, cfg.tts.tencent.secret_id) == \
        ("openai", "http://10.0.0.5:8000", "sk-1", "AKID")
    with pytest.raises(ConfigError, match="tts.backend"):
        load_config(env={"YINLING_TTS_BACKEND": "festival"})
    bad = tmp_path / "c.yaml"  # type: ignore[operator]
    bad.write_text("tts:\n  api_key: sk-in-the-file\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="YINLING_TTS_API_KEY"):
        load_config(bad, env={})


def test_tencent_tts_uses_the_sms_account_unless_given_its_own() -> None:
    shared = load_config(env={"TENCENT_SECRET_ID": "AKIDsms", "TENCENT_SECRET_KEY": "k1"})
    assert (shared.tts.tencent.secret_id, shared.tts.tencent.secret_key) == ("AKIDsms", "k1")
    own = load_config(env={"TENCENT_SECRET_ID": "AKIDsms", "TENCENT_SECRET_KEY": "k1",
                           "TENCENT_TTS_SECRET_ID": "AKIDtts", "TENCENT_TTS_SECRET_KEY": "k2"})
    assert (own.tts.tencent.secret_id, own.tts.tencent.secret_key) == ("AKIDtts", "k2")
