"""Console SMS provider for development and demos: inbound by the chat CLI or a plain POST, outbound printed."""

from __future__ import annotations

import json
import sys
import threading
from typing import TextIO

from ..config import SmsConfig
from .base import SendResult
from .sms import BadRequest, InboundSms, SmsProvider, TemplateSpec, WebRequest


class ConsoleProvider(SmsProvider):
    """Free text; every outbound SMS is written to `stream` and kept in `sent` (phone, text)."""

    name = "console"
    free_text = True
    needs_secret = False  # development only: `register` refuses it in production

    def __init__(self, config: SmsConfig, stream: TextIO | None = None) -> None:
        super().__init__(config)
        self.stream = stream
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def verify(self, req: WebRequest) -> bool:
        return True

    def parse(self, req: WebRequest) -> list[InboundSms]:
        """`{"phone": "138...", "text": "1", "id": optional}`."""
        try:
            data = json.loads(req.body.decode("utf-8"))
            return [InboundSms(str(data["phone"]), str(data.get("text", "")), data.get("id"))]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BadRequest("expected JSON {phone, text}") from None

    def send_text(self, phone: str, text: str, *, index: int = 0, total: int = 1) -> SendResult:
        with self._lock:
            self.sent.append((phone, text))
            marker = f" ({index + 1}/{total})" if total > 1 else ""
            out = self.stream or sys.stdout
            out.write(f"[短信 → {phone[:3]}****{phone[-4:]}{marker} {len(text)}字]\n{text}\n")
            out.flush()
        return SendResult("sent", provider_id=f"console-{len(self.sent)}")

    def send_template(self, phone: str, spec: TemplateSpec, params: list[tuple[str, str]]) -> SendResult:
        return self.send_text(phone, f"[{spec.id}] " + " ".join(v for _, v in params))
