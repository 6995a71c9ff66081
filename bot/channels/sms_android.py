"""SMS Gateway for Android (Local mode): signed `sms:received` webhooks in, free text out via its API."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from android_sms_gateway import client, domain, errors
from android_sms_gateway.http import RequestsHttpClient

from ..config import SmsConfig
from .base import SendResult
from .sms import BadRequest, InboundSms, SmsProvider, WebAnswer, WebRequest, verify_hmac

log = logging.getLogger("yinling.sms")


class _TimeoutSession(requests.Session):
    """The SDK's requests client sets no timeout; a phone on Wi-Fi can hang, so we always do."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


class AndroidProvider(SmsProvider):
    """Webhook: POST /sms/android, event `sms:received`, headers X-Signature (hex HMAC-SHA256 of the raw
    body followed by X-Timestamp, keyed with the app's signing key) and X-Timestamp (Unix seconds).
    Outbound: POST {base_url}/messages with basic auth, one request per part, parts ordered by priority."""

    name = "android"
    free_text = True

    def __init__(self, config: SmsConfig) -> None:
        super().__init__(config)
        self.cfg = config.android
        self._api: client.APIClient | None = None

    def verify(self, req: WebRequest) -> bool:
        return verify_hmac(self.cfg.signing_key, req, self.cfg.max_skew_seconds)

    def parse(self, req: WebRequest) -> list[InboundSms]:
        try:
            data = json.loads(req.body.decode("utf-8"))
            event = data["event"]
            payload = data.get("payload") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BadRequest("malformed webhook body") from None
        if event != "sms:received":
            if event == "sms:failed":
                log.warning("android gateway reports a failed SMS: %s", str(payload.get("reason", ""))[:100])
            return []  # sent/delivered/ping: acknowledged, nothing to answer
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), str) \
                or not isinstance(payload.get("phoneNumber"), str):
            raise BadRequest("sms:received without message or phoneNumber")
        # messageId is derived from the content (not unique); the webhook event id is, across retries.
        event_id = data.get("id")
        return [InboundSms(payload["phoneNumber"], payload["message"],
                           f"event:{event_id}" if isinstance(event_id, str) and event_id else None)]

    def ack(self) -> WebAnswer:
        return WebAnswer("", 204)

    def error(self, exc: BadRequest) -> WebAnswer:
        return WebAnswer({"message": exc.reason}, exc.status)

    @property
    def api(self) -> client.APIClient:
        if self._api is None:
            http = RequestsHttpClient(session=_TimeoutSession(self.cfg.timeout_seconds))
            self._api = client.APIClient(self.cfg.username, self.cfg.password or "",
                                         base_url=self.cfg.base_url, http=http)
        return self._api

    def send_text(self, phone: str, text: str, *, index: int = 0, total: int = 1) -> SendResult:
        # Equal priorities go out last-in-first-out by default; the first part gets the highest.
        message = domain.Message(phone_numbers=["+86" + phone], text_message=domain.TextMessage(text),
                                 priority=110 - index,  # type: ignore[arg-type]  # ≥100: no app delays
                                 sim_number=self.cfg.sim_number, with_delivery_report=True)
        try:
            state = self.api.send(message)
        except errors.APIError as exc:
            status = exc.status_code or 0
            reason = f"http {status}"
            if status in (429, 500, 502, 503, 504):
                return SendResult("retry", reason, retry_after=5.0)
            return SendResult("failed", reason)
        except requests.RequestException as exc:
            return SendResult("retry", type(exc).__name__, retry_after=5.0)
        if state.state.value == "Failed":
            return SendResult("failed", "gateway reports Failed", provider_id=state.id)
        return SendResult("sent", provider_id=state.id)
