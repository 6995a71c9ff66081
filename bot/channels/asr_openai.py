"""An OpenAI-compatible recognizer: POST {url}/v1/audio/transcriptions (FunASR, faster-whisper-server, ...)."""

from __future__ import annotations

import struct
from typing import Any

import requests

from ..config import AsrConfig
from .asr import AsrError, Recognizer


def wav(pcm: bytes, rate: int) -> bytes:
    """Mono 16-bit PCM as a RIFF/WAVE file: the upload format every such server accepts."""
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE" + b"fmt " + fmt + b"data" \
        + struct.pack("<I", len(pcm)) + pcm


class OpenAIRecognizer(Recognizer):
    """Multipart `file` (WAV) and `model`, optional `language`; the answer is JSON `{"text": ...}`."""

    name = "openai"

    def __init__(self, config: AsrConfig) -> None:
        super().__init__(config)
        base = (config.url or "").rstrip("/")
        self.endpoint = base + ("/audio/transcriptions" if base.endswith("/v1") else "/v1/audio/transcriptions")
        self.http = requests.Session()
        if config.api_key:
            self.http.headers["Authorization"] = f"Bearer {config.api_key}"

    def recognize(self, pcm: bytes, rate: int) -> str:
        form: dict[str, Any] = {"model": self.config.model, "response_format": "json"}
        if self.config.language:
            form["language"] = self.config.language
        try:
            res = self.http.post(self.endpoint, data=form, files={"file": ("voice.wav", wav(pcm, rate), "audio/wav")},
                                 timeout=self.config.timeout_seconds)
        except requests.Timeout as exc:
            raise AsrError("timeout", retry=True) from exc
        except requests.RequestException as exc:
            raise AsrError(f"network: {type(exc).__name__}", retry=True) from exc
        if res.status_code != 200:
            raise AsrError(f"http {res.status_code}", retry=res.status_code == 429 or res.status_code >= 500)
        try:
            text = res.json()["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AsrError("answer without text") from exc
        if not isinstance(text, str):
            raise AsrError("text is not a string")
        return text.strip()
