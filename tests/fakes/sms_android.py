"""Fake SMS Gateway for Android (Local mode): its /messages API, and signed `sms:received` webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from .sms_base import LoopbackFake, json_response


class FakeAndroidGateway(LoopbackFake):
    def __init__(self, username: str = "sms", password: str = "pw-android", signing_key: str = "sign-key-1") -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.signing_key = signing_key

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/health":  # the app's health check, no credentials
            return json_response({"status": "pass", "version": "1.0.0", "releaseId": 1, "checks": {}}, 200)
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.method == "GET" and request.path.startswith("/messages/"):  # a message's state by id
            if request.headers.get("Authorization") != expected:
                return json_response({"message": "Unauthorized"}, 401)
            return json_response({"message": "message not found"}, 404)
        if request.method != "POST" or request.path not in ("/messages", "/message"):
            return json_response({"message": "not found"}, 404)
        if request.headers.get("Authorization") != expected:
            return json_response({"message": "Unauthorized"}, 401)
        try:
            data = json.loads(request.get_data())
            phones = data["phoneNumbers"]
            text = data["textMessage"]["text"] if "textMessage" in data else data["message"]
        except (ValueError, KeyError, TypeError):
            return json_response({"message": "invalid request"}, 400)
        skip = request.args.get("skipPhoneValidation") == "true"
        if not skip and not all(isinstance(p, str) and p.startswith("+") and p[1:].isdigit() for p in phones):
            return json_response({"message": "phone number must be in E.164 format"}, 400)
        mid = data.get("id") or uuid.uuid4().hex[:21]
        for p in phones:
            self.record({"phone": p.removeprefix("+86"), "text": text, "priority": data.get("priority", 0),
                         "id": mid})
        return json_response({"id": mid, "state": "Pending", "isHashed": False, "isEncrypted": False,
                              "recipients": [{"phoneNumber": p, "state": "Pending"} for p in phones]}, 202)

    # -- the phone receiving an SMS: the app posts a signed webhook
    def webhook_body(self, phone: str, text: str, event_id: str | None = None,
                     event: str = "sms:received") -> bytes:
        payload: dict[str, Any] = {"messageId": hashlib.md5(text.encode()).hexdigest()[:8],  # noqa: S324
                                   "message": text, "phoneNumber": phone, "simNumber": 1,
                                   "receivedAt": "2026-11-28T15:46:11.000+08:00"}
        return json.dumps({"deviceId": "ffffffffceb0b1db0000018e937c815b", "event": event,
                           "id": event_id or uuid.uuid4().hex[:21], "payload": payload,
                           "webhookId": "LreFUt-Z3sSq0JufY9uWB"}, ensure_ascii=False).encode()

    def post_webhook(self, url: str, body: bytes, key: str | None = None,
                     timestamp: int | None = None) -> requests.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = hmac.new((key or self.signing_key).encode(), body + ts.encode(), hashlib.sha256).hexdigest()
        return requests.post(url, data=body, timeout=5, headers={
            "Content-Type": "application/json", "X-Signature": sig, "X-Timestamp": ts})

    def deliver(self, url: str, phone: str, text: str, event_id: str | None = None) -> requests.Response:
        return self.post_webhook(url, self.webhook_body(phone, text, event_id))
