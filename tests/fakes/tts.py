"""Fakes for replies read aloud: WeChat's media upload and voice messages, an OpenAI-compatible speech
server, and Tencent Cloud TTS (TC3 signature checked). Each speaks real audio made with espeak-ng."""

from __future__ import annotations

import base64
import io
import itertools
import json
import subprocess
import threading
import time
import uuid
import wave
from typing import Any

from werkzeug.wrappers import Request, Response

from .sms_base import LoopbackFake, json_response
from .sms_tencent import tc3_refusal, tencent_error
from .wechat_api import FakeWechatAPI, _error, _json

MAX_VOICE_BYTES = 2 * 1024 * 1024  # WeChat: temporary voice media up to 2 MB ...
MAX_VOICE_SECONDS = 60.0  # ... and 60 seconds, AMR or MP3


def espeak_wav(text: str) -> bytes:
    """Real Mandarin speech as a WAV file (22.05 kHz mono), as a speech server would answer."""
    done = subprocess.run(["espeak-ng", "-v", "cmn", "--stdout"], input=text.encode("utf-8"),
                          capture_output=True, timeout=30, check=True)
    # espeak-ng streams: its header claims the largest size. Written again with the real length.
    raw = done.stdout
    rate = int.from_bytes(raw[24:28], "little")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(raw[44:])
    return out.getvalue()


def amr_seconds(data: bytes) -> float:
    """Decode an AMR-NB file completely with PyAV and return how long it plays (raises if it is not one)."""
    import av

    with av.open(io.BytesIO(data), "r", format="amr") as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.name in ("amrnb", "libopencore_amrnb"), stream.codec_context.name
        assert stream.rate == 8000 and stream.channels == 1
        samples = sum(f.samples for f in c.decode(audio=0))
    return samples / 8000


class FakeWechatMedia(FakeWechatAPI):
    """The fake WeChat API plus media/upload (temporary voice) and customer-service voice messages.

    An upload must be multipart with field `media` and `type=voice`, an AMR-NB file WeChat would take
    (`#!AMR\\n`, decodable, at most 2 MB and 60 s): else errcode 40004 (invalid media type) or 40005/40006.
    A voice message must name an uploaded media_id (else 40007). `uploads` keeps every accepted file.
    """

    def reset(self) -> None:
        super().reset()
        self.gate: threading.Event | None = None  # set: uploads wait for it (a slow WeChat)
        self.uploads: dict[str, bytes] = {}
        self._media_ids = (f"MEDIA-{n}-{uuid.uuid4().hex[:8]}" for n in itertools.count(1))  # never reused

    def voices(self) -> list[dict[str, Any]]:
        return [m for m in self.custom if m.get("msgtype") == "voice"]

    def texts(self) -> list[str]:
        return [m["text"]["content"] for m in self.custom if m.get("msgtype") == "text"]

    def _dispatch(self, request: Request) -> Response:
        path = request.path.removeprefix("/cgi-bin/")
        voice = False
        if path == "message/custom/send":
            try:
                voice = json.loads(request.get_data() or b"{}").get("msgtype") == "voice"
            except ValueError:
                voice = False
        if path != "media/upload" and not voice:
            return super()._dispatch(request)
        with self._lock:
            self.requests.append(path)
            forced = self._forced.get(path)
            failure = forced.pop(0) if forced else None
        if failure is not None:
            errcode, status = failure
            if status != 200:
                return Response("<html>upstream error</html>", status, content_type="text/html")
            return _error(errcode or -1)
        with self._lock:
            if request.args.get("access_token", "") not in self._valid:
                return _error(40001)
        if path == "media/upload":
            try:
                return self._upload(request)
            finally:
                request.close()  # the multipart parser's temporary files
        body = json.loads(request.get_data())
        media_id = (body.get("voice") or {}).get("media_id")
        if not body.get("touser") or media_id not in self.uploads:
            return _json({"errcode": 40007, "errmsg": "invalid media_id"})
        return self._record(self.custom, body, {"errcode": 0, "errmsg": "ok"})

    def _upload(self, request: Request) -> Response:
        gate = self.gate
        if gate is not None:
            gate.wait(30)
        if request.method != "POST" or request.args.get("type") != "voice":
            return _json({"errcode": 40004, "errmsg": "invalid media type"})
        media = request.files.get("media")
        if media is None:
            return _json({"errcode": 41005, "errmsg": "media data missing"})
        data = media.read()
        if len(data) > MAX_VOICE_BYTES:
            return _json({"errcode": 40006, "errmsg": "invalid meida size"})
        if not data.startswith(b"#!AMR\n"):
            return _json({"errcode": 40004, "errmsg": "invalid media type"})
        try:
            seconds = amr_seconds(data)
        except Exception:  # noqa: BLE001 - whatever PyAV says, WeChat would refuse the file
            return _json({"errcode": 40005, "errmsg": "invalid file type"})
        if seconds > MAX_VOICE_SECONDS:
            return _json({"errcode": 40006, "errmsg": "voice longer than 60 seconds"})
        with self._changed:
            media_id = next(self._media_ids)
            self.uploads[media_id] = data
            self._changed.notify_all()
        return _json({"type": "voice", "media_id": media_id, "created_at": int(time.time())})

    def wait_for_voices(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.voices()) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return self.voices()


class FakeSpeechServer(LoopbackFake):
    """An OpenAI-compatible `POST /v1/audio/speech` answering real WAV speech (espeak-ng) for `input`."""

    def __init__(self, api_key: str | None = None, model: str = "tts-1") -> None:
        super().__init__()
        self.api_key = api_key
        self.model = model

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v1/audio/speech":
            return json_response({"error": {"message": "not found"}}, 404)
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return json_response({"error": {"message": "invalid api key"}}, 401)
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return json_response({"error": {"message": "body is not JSON"}}, 400)
        text = body.get("input")
        if body.get("model") != self.model or not isinstance(text, str) or not text or not body.get("voice"):
            return json_response({"error": {"message": "model, input and voice are required"}}, 400)
        if body.get("response_format") != "wav":
            return json_response({"error": {"message": "this test server speaks wav only"}}, 400)
        self.record({"text": text, "voice": body["voice"]})
        return Response(espeak_wav(text), 200, content_type="audio/wav")


class FakeTencentTts(LoopbackFake):
    """Tencent Cloud TTS TextToVoice (2019-08-23): the TC3-HMAC-SHA256 signature checked, base64 WAV back."""

    def __init__(self, secret_id: str = "AKIDtts", secret_key: str = "tts-key") -> None:
        super().__init__()
        self.secret_id = secret_id
        self.secret_key = secret_key

    error = staticmethod(tencent_error)

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        refused = tc3_refusal(request, body, self.secret_id, self.secret_key, "tts", "TextToVoice", "2019-08-23")
        if refused is not None:
            return refused
        data = json.loads(body)
        text = data.get("Text")
        if not isinstance(text, str) or not text or not data.get("SessionId"):
            return self.error("InvalidParameter.MissingParameter", "Text and SessionId are required")
        if len(text) > 150:
            return self.error("InvalidParameterValue.TextTooLong", "text longer than 150 characters")
        if data.get("Codec") != "wav":
            return self.error("InvalidParameterValue.Codec")
        self.record({"text": text, "voice_type": data.get("VoiceType"), "speed": data.get("Speed")})
        audio = base64.b64encode(espeak_wav(text)).decode()
        return json_response({"Response": {"Audio": audio, "SessionId": data["SessionId"],
                                           "RequestId": str(uuid.uuid4())}})
