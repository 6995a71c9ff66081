"""Fake speech recognizers on loopback: an OpenAI-compatible /v1/audio/transcriptions and Tencent Cloud's
SentenceRecognition (TC3-HMAC-SHA256 checked). Both look at the audio they get, like a real service would."""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
import uuid
import wave
from collections import deque
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from .sms_base import LoopbackFake, json_response
from .sms_tencent import tc3_refusal, tencent_error


@dataclass(frozen=True)
class Heard:
    """What one recognition request carried."""

    rate: int
    channels: int
    width: int
    seconds: float
    peak: int
    model: str = ""


def _peak(frames: bytes) -> int:
    samples = memoryview(frames[: len(frames) // 2 * 2]).cast("h")
    return max((abs(s) for s in samples), default=0)


class _Recognizer(LoopbackFake):
    """Scripted transcripts in order (`say`), an optional delay before answering, and a log of what it heard."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[Heard] = []
        self.script: deque[str] = deque()
        self.delay = 0.0
        self.release = threading.Event()  # set it to end a delay early
        self.started = threading.Event()  # set when a recognition request arrives

    def say(self, *transcripts: str) -> None:
        self.script.extend(transcripts)

    def _answer(self, heard: Heard) -> str:
        self.started.set()
        if self.delay:
            self.release.wait(self.delay)
        with self._lock:
            self.heard.append(heard)
            return self.script.popleft() if self.script else ""


class FakeOpenAIRecognizer(_Recognizer):
    """POST /v1/audio/transcriptions, multipart `file` + `model` → {"text": ...}; errors as OpenAI's API gives
    them ({"error": {"message", "type"}} with 400/401/404). The file must be a WAV it can read."""

    def __init__(self, model: str = "paraformer-zh", api_key: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.api_key = api_key

    @staticmethod
    def error(status: int, message: str, kind: str = "invalid_request_error") -> Response:
        return json_response({"error": {"message": message, "type": kind, "param": None, "code": None}}, status)

    def handle(self, request: Request) -> Response:
        try:
            return self._transcribe(request)
        finally:
            request.close()  # the uploaded file's spool

    def _transcribe(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v1/audio/transcriptions":
            return self.error(404, f"Unknown request URL: {request.method} {request.path}")
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.error(401, "Incorrect API key provided", "authentication_error")
        if request.form.get("model") != self.model:
            return self.error(404, f"The model `{request.form.get('model')}` does not exist")
        upload = request.files.get("file")
        if upload is None:
            return self.error(400, "file is required")
        try:
            with wave.open(io.BytesIO(upload.read())) as w:
                frames = w.readframes(w.getnframes())
                heard = Heard(w.getframerate(), w.getnchannels(), w.getsampwidth(),
                              w.getnframes() / w.getframerate(), _peak(frames), request.form["model"])
        except (wave.Error, EOFError):
            return self.error(400, "Invalid file format.")
        return json_response({"text": self._answer(heard)})


class FakeTencentAsr(_Recognizer):
    """SentenceRecognition (asr, API 2019-06-14): signature, action, parameters and the PCM's length checked."""

    def __init__(self, secret_id: str = "AKIDasr", secret_key: str = "asr-key") -> None:
        super().__init__()
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.requests_seen: list[dict[str, Any]] = []

    error = staticmethod(tencent_error)

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        refused = tc3_refusal(request, body, self.secret_id, self.secret_key, "asr", "SentenceRecognition",
                              "2019-06-14")
        if refused is not None:
            return refused
        data = json.loads(body)
        with self._lock:
            self.requests_seen.append({k: v for k, v in data.items() if k != "Data"})
        if data.get("EngSerViceType") not in ("16k_zh", "16k_zh_dialect", "8k_zh"):
            return self.error("InvalidParameterValue", "EngSerViceType")
        if data.get("SourceType") != 1 or data.get("VoiceFormat") != "pcm":
            return self.error("InvalidParameter", "SourceType/VoiceFormat")
        try:
            pcm = base64.b64decode(data.get("Data", ""), validate=True)
        except (binascii.Error, ValueError):
            return self.error("InvalidParameter", "Data is not base64")
        if not pcm or data.get("DataLen") != len(pcm):
            return self.error("FailedOperation.ErrorDownFile", "DataLen does not match the audio")
        rate = int(data.get("InputSampleRate") or 16000)
        seconds = len(pcm) / (2 * rate)
        if seconds > 60:
            return self.error("FailedOperation.ErrorAudioDuration", "audio longer than 60 s")
        text = self._answer(Heard(rate, 1, 2, seconds, _peak(pcm), data["EngSerViceType"]))
        return json_response({"Response": {"Result": text, "AudioDuration": int(seconds * 1000),
                                           "WordSize": 0, "WordList": None, "RequestId": str(uuid.uuid4())}})
