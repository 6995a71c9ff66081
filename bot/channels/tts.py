"""Text to speech for replies read aloud: backend interface and registry, speakable text, AMR-NB for WeChat."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import requests

from ..config import ConfigError, TtsConfig

log = logging.getLogger("yinling.tts")

AMR_MAGIC = b"#!AMR\n"
AMR_RATE = 8000  # AMR-NB is 8 kHz mono
AMR_FRAME = 160  # samples per AMR-NB frame (20 ms)
AMR_BIT_RATE = 12200  # the best of the eight AMR-NB modes (MR122)
WECHAT_VOICE_SECONDS = 59.0  # WeChat takes voice media of at most 60 s


class TtsError(Exception):
    """Speech could not be made. `retry`: a transient failure (timeout, 5xx, rate limit)."""

    def __init__(self, reason: str, retry: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class TtsBackend:
    """One speech synthesizer: `synthesize(text)` returns a WAV file (any rate, mono or stereo)."""

    name: ClassVar[str] = ""
    max_chars: ClassVar[int] = 300  # characters one request may carry

    def __init__(self, cfg: TtsConfig) -> None:
        self.cfg = cfg

    def synthesize(self, text: str) -> bytes:
        raise NotImplementedError


class EspeakBackend(TtsBackend):
    """espeak-ng from Debian, in-process: robotic but always there (`espeak-ng -v cmn --stdout`)."""

    name = "espeak"

    def synthesize(self, text: str) -> bytes:
        cmd = [self.cfg.espeak_path, "-v", self.cfg.espeak_voice, "-s", str(self.cfg.espeak_speed), "--stdout"]
        try:
            done = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True,  # noqa: S603 - fixed argv
                                  timeout=self.cfg.timeout_seconds, check=False)
        except FileNotFoundError as exc:
            raise TtsError(f"{self.cfg.espeak_path} not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise TtsError("espeak-ng timed out", retry=True) from exc
        if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
            raise TtsError(f"espeak-ng exit {done.returncode}")
        return done.stdout


class OpenAISpeech(TtsBackend):
    """Any server speaking OpenAI's `POST {url}/v1/audio/speech` (a team's own model, or a cloud one)."""

    name = "openai"
    max_chars = 400

    def synthesize(self, text: str) -> bytes:
        if not self.cfg.url:
            raise TtsError("tts.url is not set (YINLING_TTS_URL)")
        headers = {"Content-Type": "application/json"}
        if self.cfg.api_key:
            headers["Authorization"] = f"Bearer {self.cfg.api_key}"
        body = {"model": self.cfg.model, "input": text, "voice": self.cfg.voice, "response_format": "wav"}
        try:
            res = requests.post(self.cfg.url.rstrip("/") + "/v1/audio/speech", headers=headers,
                                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                timeout=self.cfg.timeout_seconds)
        except requests.RequestException as exc:
            raise TtsError(f"network: {type(exc).__name__}", retry=True) from exc
        if res.status_code != 200:
            raise TtsError(f"http {res.status_code}", retry=res.status_code >= 500 or res.status_code == 429)
        if not res.content.startswith(b"RIFF"):
            raise TtsError("answer is not a WAV file")
        return res.content


class TencentTts(TtsBackend):
    """Tencent Cloud 语音合成 (TextToVoice, API 2019-08-23), signed TC3-HMAC-SHA256 by the SDK's CommonClient."""

    name = "tencent"
    max_chars = 150  # TextToVoice takes at most 150 Chinese characters

    RETRY = ("RequestLimitExceeded", "InternalError", "ClientNetworkError", "ServerNetworkError")

    def __init__(self, cfg: TtsConfig) -> None:
        super().__init__(cfg)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from tencentcloud.common import credential
            from tencentcloud.common.common_client import CommonClient
            from tencentcloud.common.profile.client_profile import ClientProfile
            from tencentcloud.common.profile.http_profile import HttpProfile

            t = self.cfg.tencent
            if not (t.secret_id and t.secret_key):
                raise TtsError("TENCENT_TTS_SECRET_ID / TENCENT_TTS_SECRET_KEY are not set")
            http = HttpProfile(protocol=t.scheme, endpoint=t.endpoint,
                               reqTimeout=int(max(self.cfg.timeout_seconds, 1)))
            self._client = CommonClient("tts", "2019-08-23", credential.Credential(t.secret_id, t.secret_key),
                                        t.region, ClientProfile(httpProfile=http))
        return self._client

    def synthesize(self, text: str) -> bytes:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        t = self.cfg.tencent
        params = {"Text": text, "SessionId": uuid.uuid4().hex, "ModelType": 1, "VoiceType": t.voice_type,
                  "Speed": t.speed, "Codec": "wav", "SampleRate": 16000, "PrimaryLanguage": 1}
        try:
            answer = self.client.call_json("TextToVoice", params)
        except TencentCloudSDKException as exc:
            code = str(exc.code or "")
            raise TtsError(f"tencent {code}", retry=code.startswith(self.RETRY)) from exc
        try:
            audio = base64.b64decode(answer["Response"]["Audio"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise TtsError("tencent answered without audio") from exc
        if not audio.startswith(b"RIFF"):
            raise TtsError("tencent audio is not a WAV file")
        return audio


# Backend registry: name → class; `tts.backend` picks one, `tts.fallback` takes over when it fails.
BACKENDS: dict[str, type[TtsBackend]] = {
    "espeak": EspeakBackend,
    "openai": OpenAISpeech,
    "tencent": TencentTts,
}
OFF = ("", "off", "none")


def backend(name: str, cfg: TtsConfig) -> TtsBackend:
    if name not in BACKENDS:
        raise ConfigError(f"tts.backend: unknown backend {name!r} (known: {', '.join(BACKENDS)}, off)")
    return BACKENDS[name](cfg)


# -- what is spoken --------------------------------------------------------------------------------
_OPTION = re.compile(r"^\s*(\d{1,2})\s*[.、)）]\s*")
_SENTENCE_END = "。！？；"


def speakable(text: str) -> str:
    """A reply as one run of speech: options `1. 找活动` become `1，找活动。`, line breaks become pauses."""
    parts: list[str] = []
    for line in text.splitlines():
        line = _OPTION.sub(r"\1，", line).replace("……", "，").strip()
        if not line:
            continue
        if line[-1] not in _SENTENCE_END + "，：:":
            line += "。"
        parts.append(line)
    return re.sub(r"\s+", " ", "".join(parts))


def chunks(text: str, limit: int) -> list[str]:
    """`text` cut into pieces of at most `limit` characters, at sentence ends where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind(mark, 0, limit) for mark in _SENTENCE_END + "，")
        cut = cut + 1 if cut >= limit // 3 else limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


# -- AMR-NB, the audio WeChat plays in a chat --------------------------------------------------------
@dataclass(frozen=True)
class Voice:
    """One voice message: an AMR-NB file and how long it plays."""

    amr: bytes
    seconds: float


def to_amr(wav: bytes, max_seconds: float = WECHAT_VOICE_SECONDS) -> list[Voice]:
    """Any audio file PyAV reads (WAV from every backend) as AMR-NB files of at most `max_seconds` each."""
    import av

    try:
        with av.open(io.BytesIO(wav), "r") as src:
            if not src.streams.audio:
                raise TtsError("no audio in the synthesized file")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=AMR_RATE)
            fifo = av.AudioFifo()
            for frame in src.decode(audio=0):
                for out in resampler.resample(frame):
                    fifo.write(out)
            for out in resampler.resample(None):
                fifo.write(out)
    except av.FFmpegError as exc:
        raise TtsError(f"audio not readable: {type(exc).__name__}") from exc
    per_file = max(1, int(max_seconds * AMR_RATE) // AMR_FRAME)
    voices: list[Voice] = []
    while fifo.samples:
        frames: list[Any] = []
        while len(frames) < per_file and fifo.samples:
            piece = fifo.read(AMR_FRAME, partial=True)
            if piece is None:
                break
            frames.append(piece)
        voices.append(_encode(frames))
    return voices


def _encode(frames: list[Any]) -> Voice:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="amr") as dst:
        stream = dst.add_stream("libopencore_amrnb", rate=AMR_RATE, layout="mono")
        stream.bit_rate = AMR_BIT_RATE
        samples = 0
        for frame in frames:
            if frame.samples < AMR_FRAME:  # the encoder takes whole 20 ms frames: pad the last with silence
                frame = _padded(frame)
            frame.pts = samples
            samples += frame.samples
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return Voice(buf.getvalue(), samples / AMR_RATE)


def _padded(frame: Any) -> Any:
    import av

    data = bytes(frame.planes[0])[: frame.samples * 2]
    full = av.AudioFrame(format="s16", layout="mono", samples=AMR_FRAME)
    full.planes[0].update(data + b"\x00" * (AMR_FRAME * 2 - len(data)))
    full.sample_rate = AMR_RATE
    return full


# -- one reading ------------------------------------------------------------------------------------
class Speaker:
    """The configured backend with its fallback: text in, WeChat-ready voice messages out."""

    def __init__(self, cfg: TtsConfig, make: Callable[[str, TtsConfig], TtsBackend] = backend) -> None:
        self.cfg = cfg
        self.primary = None if cfg.backend in OFF else make(cfg.backend, cfg)
        self.fallback = None if cfg.fallback in OFF or cfg.fallback == cfg.backend else make(cfg.fallback, cfg)

    @property
    def enabled(self) -> bool:
        return self.primary is not None or self.fallback is not None

    def voices(self, text: str) -> list[Voice]:
        """Voice messages for `text` (at most `tts.max_messages`). Raises TtsError when no backend can speak."""
        spoken = speakable(text)
        if not spoken:
            return []
        last: TtsError | None = None
        for engine in (self.primary, self.fallback):
            if engine is None:
                continue
            try:
                return self._speak(engine, spoken)
            except TtsError as exc:
                log.warning("tts %s failed: %s", engine.name, exc.reason)
                last = exc
        raise last or TtsError("no tts backend configured (tts.backend: off)")

    def _speak(self, engine: TtsBackend, spoken: str) -> list[Voice]:
        out: list[Voice] = []
        for piece in chunks(spoken, min(engine.max_chars, self.cfg.max_chars)):
            out += to_amr(engine.synthesize(piece))
            if len(out) >= self.cfg.max_messages:
                break
        return out[: self.cfg.max_messages]
