"""bot.channels.audio and the recognizers on their own: real speech decoded, lengths kept, bad input refused,
and each recognizer's answers and errors as its service gives them."""

from __future__ import annotations

import io
from collections.abc import Iterator

import av
import pytest

from bot.channels import asr, audio
from bot.config import load_config
from tests.fakes.asr import FakeOpenAIRecognizer, FakeTencentAsr
from tests.voice.audio import amr, encode, read_wav, speak, spoken_seconds

SAID = "阳光社区明天有什么活动"


def test_amr_decodes_to_16k_mono_of_the_spoken_length() -> None:
    data = amr(SAID)
    assert data.startswith(b"#!AMR\n")  # the AMR-NB file header WeChat's media API serves
    pcm = audio.decode(data)
    assert pcm.rate == 16000
    assert abs(pcm.seconds - spoken_seconds(SAID)) < 0.1
    samples = memoryview(pcm.data).cast("h")
    assert max(abs(s) for s in samples) > 1000  # speech, not silence


def test_other_containers_and_rates_come_out_the_same_way() -> None:
    wav = speak(SAID)  # 22.05 kHz WAV straight from espeak-ng
    assert read_wav(wav).rate == 22050
    assert abs(audio.decode(wav).seconds - spoken_seconds(SAID)) < 0.05
    stereo = io.BytesIO()
    with av.open(io.BytesIO(wav)) as src, av.open(stereo, "w", format="wav") as dst:
        stream = dst.add_stream("pcm_s16le", rate=44100)
        stream.layout = "stereo"
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=44100)
        for frame in src.decode(audio=0):
            for piece in resampler.resample(frame):
                dst.mux(stream.encode(piece))
        dst.mux(stream.encode(None))
    pcm = audio.decode(stereo.getvalue())
    assert pcm.rate == 16000 and abs(pcm.seconds - spoken_seconds(SAID)) < 0.05


def test_opus_in_ogg_decodes_too() -> None:
    """Opus in Ogg at 48 kHz (how many other apps record voice) comes out 16 kHz mono as well."""
    ogg = encode(speak(SAID), codec="libopus", container="ogg", rate=48000, bit_rate=24000)
    assert ogg.startswith(b"OggS")
    pcm = audio.decode(ogg)
    assert pcm.rate == 16000 and abs(pcm.seconds - spoken_seconds(SAID)) < 0.1


def test_long_audio_is_cut_at_max_seconds() -> None:
    pcm = audio.decode(amr(SAID), max_seconds=1.5)
    assert pcm.seconds == pytest.approx(1.5, abs=0.001)


@pytest.mark.parametrize("data", [b"", b"#!AMR\n", b"not audio at all" * 10, encode(speak("好"))[:7]])
def test_what_is_not_audio_is_refused(data: bytes) -> None:
    with pytest.raises(audio.AudioError):
        audio.decode(data)


# -- the recognizers against their fakes ----------------------------------------------------------------
@pytest.fixture
def openai() -> Iterator[FakeOpenAIRecognizer]:
    server = FakeOpenAIRecognizer("paraformer-zh")
    yield server
    server.close()


@pytest.fixture
def tencent() -> Iterator[FakeTencentAsr]:
    server = FakeTencentAsr()
    yield server
    server.close()


def _openai(server: FakeOpenAIRecognizer, url: str | None = None) -> asr.Recognizer:
    r = asr.build(load_config(overrides={"asr.url": url or server.url, "asr.model": "paraformer-zh"}))
    assert r is not None
    return r


def test_openai_recognizer_sends_wav_and_reads_the_text(openai: FakeOpenAIRecognizer) -> None:
    pcm = audio.decode(amr(SAID))
    openai.say(" 阳光社区明天有什么活动 ")
    assert _openai(openai).recognize(pcm.data, pcm.rate) == "阳光社区明天有什么活动"
    assert abs(openai.heard[0].seconds - pcm.seconds) < 0.001
    # a base URL that already ends in /v1 is not given a second one
    openai.say("好")
    assert _openai(openai, openai.url + "/v1/").recognize(pcm.data, pcm.rate) == "好"


@pytest.mark.parametrize(("status", "retry"), [(500, True), (429, True), (400, False), (401, False)])
def test_openai_recognizer_errors(openai: FakeOpenAIRecognizer, status: int, retry: bool) -> None:
    openai.fail_next(lambda r: FakeOpenAIRecognizer.error(status, "no"))
    with pytest.raises(asr.AsrError) as err:
        _openai(openai).recognize(b"\0\0" * 1600, 16000)
    assert err.value.reason == f"http {status}" and err.value.retry is retry


def test_openai_recognizer_refuses_an_answer_without_text(openai: FakeOpenAIRecognizer) -> None:
    from tests.fakes.sms_base import json_response

    openai.fail_next(lambda r: json_response({"result": "hello"}))
    with pytest.raises(asr.AsrError, match="without text"):
        _openai(openai).recognize(b"\0\0" * 1600, 16000)


def test_openai_recognizer_times_out(openai: FakeOpenAIRecognizer) -> None:
    openai.delay = 5.0
    r = asr.build(load_config(overrides={"asr.url": openai.url, "asr.model": "paraformer-zh",
                                         "asr.timeout_seconds": 0.2}))
    assert r is not None
    with pytest.raises(asr.AsrError) as err:
        r.recognize(b"\0\0" * 1600, 16000)
    openai.release.set()
    assert err.value.reason == "timeout" and err.value.retry


def _tencent(server: FakeTencentAsr, **over: str) -> asr.Recognizer:
    r = asr.build(load_config(overrides={
        "asr.provider": "tencent", "asr.tencent.secret_id": server.secret_id, "asr.tencent.secret_key":
        server.secret_key, "asr.tencent.endpoint": server.host, "asr.tencent.scheme": "http", **over}))
    assert r is not None
    return r


def test_tencent_recognizer_signs_and_sends_pcm(tencent: FakeTencentAsr) -> None:
    pcm = audio.decode(amr(SAID))
    tencent.say("阳光社区明天有什么活动。")
    assert _tencent(tencent).recognize(pcm.data, pcm.rate) == "阳光社区明天有什么活动。"
    seen = tencent.requests_seen[-1]
    assert seen["SourceType"] == 1 and seen["VoiceFormat"] == "pcm" and seen["DataLen"] == len(pcm.data)
    assert seen["ConvertNumMode"] == 0  # 幺三九 stays words for our own parser


def test_tencent_recognizer_uses_the_sms_keys_when_asr_has_none(tencent: FakeTencentAsr) -> None:
    r = asr.build(load_config(env={"TENCENT_SECRET_ID": tencent.secret_id, "TENCENT_SECRET_KEY": tencent.secret_key},
                              overrides={"asr.provider": "tencent", "asr.tencent.endpoint": tencent.host,
                                         "asr.tencent.scheme": "http"}))
    assert r is not None
    tencent.say("好")
    assert r.recognize(b"\1\0" * 3200, 16000) == "好"


@pytest.mark.parametrize(("code", "retry"), [("AuthFailure.SignatureFailure", False), ("InternalError", True),
                                             ("RequestLimitExceeded", True),
                                             ("FailedOperation.ErrorAudioDuration", False)])
def test_tencent_recognizer_errors(tencent: FakeTencentAsr, code: str, retry: bool) -> None:
    tencent.fail_next(lambda r: FakeTencentAsr.error(code))
    with pytest.raises(asr.AsrError) as err:
        _tencent(tencent).recognize(b"\1\0" * 3200, 16000)
    assert err.value.reason == f"tencent {code}" and err.value.retry is retry


def test_tencent_fake_refuses_a_wrong_signature(tencent: FakeTencentAsr) -> None:
    with pytest.raises(asr.AsrError, match="AuthFailure.SignatureFailure"):
        _tencent(tencent, **{"asr.tencent.secret_key": "wrong"}).recognize(b"\1\0" * 3200, 16000)
    assert not tencent.heard
