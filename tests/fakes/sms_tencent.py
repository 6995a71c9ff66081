"""Fake Tencent Cloud SMS: SendSms (API 2021-01-11, TC3-HMAC-SHA256 checked) and reply callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from .sms_base import LoopbackFake, json_response


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, method: str, path: str, query: str, headers: dict[str, str],
                  signed: list[str], payload: bytes, timestamp: int, service: str = "sms") -> str:
    """Tencent Cloud API 3.0 signature v3, computed independently of the SDK."""
    canonical_headers = "".join(f"{h}:{headers[h].strip()}\n" for h in signed)
    canonical = "\n".join([method, path, query, canonical_headers, ";".join(signed),
                           hashlib.sha256(payload).hexdigest()])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def tencent_error(code: str, message: str = "") -> Response:
    """Tencent Cloud API 3.0's error answer (HTTP 200, the error inside Response)."""
    return json_response({"Response": {"Error": {"Code": code, "Message": message or code},
                                       "RequestId": str(uuid.uuid4())}})


_TC3 = re.compile(r"TC3-HMAC-SHA256 Credential=([^/]+)/([^/]+)/([^/]+)/tc3_request, SignedHeaders=([^,]+), "
                  r"Signature=([0-9a-f]+)$")


def tc3_refusal(request: Request, body: bytes, secret_id: str, secret_key: str, service: str, action: str,
                version: str) -> Response | None:
    """What Tencent Cloud answers a request whose TC3 authorization (key, scope, age, signature) or action is
    wrong; None when it is right. Shared by the SMS, ASR and TTS fakes."""
    m = _TC3.match(request.headers.get("Authorization", ""))
    if not m:
        return tencent_error("AuthFailure.SignatureFailure", "no TC3 authorization")
    if m.group(1) != secret_id:
        return tencent_error("AuthFailure.SecretIdNotFound")
    if m.group(3) != service:
        return tencent_error("AuthFailure.SignatureFailure", f"credential scope is not {service}")
    ts = int(request.headers.get("X-TC-Timestamp", "0"))
    if abs(time.time() - ts) > 300:
        return tencent_error("AuthFailure.SignatureExpire")
    signed = m.group(4).split(";")
    headers = {h: request.headers.get(h, "") for h in signed}
    expected = tc3_signature(secret_key, request.method, request.path, request.query_string.decode(),
                             headers, signed, body, ts, service=service)
    if not hmac.compare_digest(expected, m.group(5)):
        return tencent_error("AuthFailure.SignatureFailure", "signature mismatch")
    if request.headers.get("X-TC-Action") != action or request.headers.get("X-TC-Version") != version:
        return tencent_error("InvalidAction")
    return None


class FakeTencentSms(LoopbackFake):
    """Templates: id → list of each variable's limit. Numbers in `blacklist` get PhoneNumberInBlacklist."""

    def __init__(self, secret_id: str = "AKIDtest", secret_key: str = "tencent-key", sdk_app_id: str = "1400000001",
                 templates: dict[str, list[int]] | None = None) -> None:
        super().__init__()
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.templates = templates or {}
        self.blacklist: set[str] = set()

    error = staticmethod(tencent_error)

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        refused = tc3_refusal(request, body, self.secret_id, self.secret_key, "sms", "SendSms", "2021-01-11")
        if refused is not None:
            return refused
        data = json.loads(body)
        if data.get("SmsSdkAppId") != self.sdk_app_id:
            return self.error("FailedOperation.SmsSdkAppIdVerifyFail")
        limits = self.templates.get(str(data.get("TemplateId")))
        if limits is None:
            return self.error("FailedOperation.TemplateIncorrectOrUnapproved")
        params = data.get("TemplateParamSet") or []
        if len(params) != len(limits):
            return self.error("FailedOperation.TemplateParamSetNotMatchApprovedTemplate")
        if any(len(p) > lim for p, lim in zip(params, limits, strict=True)):
            return self.error("InvalidParameterValue.TemplateParameterLengthLimit")
        if any(re.search(r"https?://|www\.", p) for p in params):
            return self.error("InvalidParameterValue.ProhibitedUseUrlInTemplateParameter")
        statuses: list[dict[str, Any]] = []
        for number in data.get("PhoneNumberSet") or []:
            phone = number.removeprefix("+86")
            serial = uuid.uuid4().hex
            if phone in self.blacklist:
                code, msg = "FailedOperation.PhoneNumberInBlacklist", "phone number in blacklist"
            elif not re.fullmatch(r"1[3-9]\d{9}", phone):
                code, msg = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect number"
            else:
                code, msg = "Ok", "send success"
                self.record({"phone": phone, "template": data["TemplateId"], "params": params,
                             "text": "".join(params), "sign": data.get("SignName")})
            statuses.append({"SerialNo": serial, "PhoneNumber": number, "Fee": 1, "SessionContext": "",
                             "Code": code, "Message": msg, "IsoCode": "CN"})
        return json_response({"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}})

    # -- a person replying: Tencent calls our callback
    @staticmethod
    def callback_body(phone: str, text: str, at: int | None = None, as_list: bool = True) -> bytes:
        item = {"extend": "", "mobile": phone, "nationcode": "86", "sign": "银龄志愿", "text": text,
                "time": at if at is not None else int(time.time())}
        return json.dumps([item] if as_list else item, ensure_ascii=False).encode()

    @staticmethod
    def post_callback(url: str, body: bytes) -> requests.Response:
        return requests.post(url, data=body, timeout=5, headers={"Content-Type": "application/json"})

    def deliver(self, url: str, phone: str, text: str) -> requests.Response:
        return self.post_callback(url, self.callback_body(phone, text))
