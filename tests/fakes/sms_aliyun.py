"""Fake Aliyun SMS: SendSms (Dysmsapi 2017-05-25, ACS3-HMAC-SHA256 checked) and the reply push."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

import requests
from werkzeug.wrappers import Request, Response

from .sms_base import LoopbackFake, json_response


def acs3_signature(secret: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                   signed: list[str], payload_hash: str) -> str:
    """Aliyun OpenAPI signature v3, computed independently of the SDK."""
    canonical_query = "&".join(f"{k}={quote(query[k], safe='~')}" for k in sorted(query))
    canonical_headers = "".join(f"{h}:{headers[h].strip()}\n" for h in signed)
    canonical = "\n".join([method, path or "/", canonical_query, canonical_headers, ";".join(signed), payload_hash])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


class FakeAliyunSms(LoopbackFake):
    """Templates: code → {variable: limit}. `limited` numbers get isv.BUSINESS_LIMIT_CONTROL."""

    def __init__(self, key_id: str = "LTAItest", key_secret: str = "aliyun-secret",
                 templates: dict[str, dict[str, int]] | None = None) -> None:
        super().__init__()
        self.key_id = key_id
        self.key_secret = key_secret
        self.templates = templates or {}
        self.limited: set[str] = set()

    @staticmethod
    def error(code: str, message: str = "", status: int = 200) -> Response:
        return json_response({"Code": code, "Message": message or code, "RequestId": str(uuid.uuid4())}, status)

    def handle(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        m = re.match(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)$", auth)
        if not m:
            return self.error("MissingAuthorization", status=400)
        if m.group(1) != self.key_id:
            return self.error("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        body = request.get_data()
        payload_hash = hashlib.sha256(body).hexdigest()
        if request.headers.get("x-acs-content-sha256") != payload_hash:
            return self.error("SignatureDoesNotMatch", "content hash mismatch", 400)
        signed = m.group(2).split(";")
        headers = {h: request.headers.get(h, "") for h in signed}
        query = request.args.to_dict()
        expected = acs3_signature(self.key_secret, request.method, request.path, query, headers, signed,
                                  payload_hash)
        if not hmac.compare_digest(expected, m.group(3)):
            return self.error("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.",
                              400)
        if request.headers.get("x-acs-action") != "SendSms" or request.headers.get("x-acs-version") != "2017-05-25":
            return self.error("InvalidAction.NotFound", status=404)
        params = {**request.form.to_dict(), **query}
        phone = params.get("PhoneNumbers", "")
        spec = self.templates.get(params.get("TemplateCode", ""))
        if spec is None:
            return self.error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values: dict[str, Any] = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return self.error("isv.INVALID_JSON_PARAM")
        if set(values) != set(spec):
            return self.error("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        if any(len(str(values[k])) > spec[k] for k in spec):
            return self.error("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        if any(re.search(r"https?://|www\.", str(v)) for v in values.values()):
            return self.error("isv.PARAM_NOT_SUPPORT_URL", "不支持URL")
        if not re.fullmatch(r"1[3-9]\d{9}", phone):
            return self.error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if phone in self.limited:
            return self.error("isv.BUSINESS_LIMIT_CONTROL", "触发号码分钟级流控")
        ordered = [str(values[k]) for k in spec]
        self.record({"phone": phone, "template": params["TemplateCode"], "params": values, "text": "".join(ordered),
                     "sign": params.get("SignName")})
        return json_response({"Code": "OK", "Message": "OK", "BizId": f"{int(time.time())}^{uuid.uuid4().hex[:8]}",
                              "RequestId": str(uuid.uuid4())})

    # -- people replying: Aliyun pushes a batch to our endpoint
    @staticmethod
    def push_body(items: list[tuple[str, str]], seq_start: int | None = None) -> bytes:
        start = seq_start if seq_start is not None else int(time.time() * 1000)
        return json.dumps([{"phone_number": p, "content": c, "send_time": "2026-11-28 10:00:00", "sign_name": "银龄志愿",
                            "dest_code": "1234", "sequence_id": start + i} for i, (p, c) in enumerate(items)],
                          ensure_ascii=False).encode()

    @staticmethod
    def post_push(url: str, body: bytes) -> requests.Response:
        return requests.post(url, data=body, timeout=5, headers={"Content-Type": "application/json"})

    def deliver(self, url: str, phone: str, text: str) -> requests.Response:
        return self.post_push(url, self.push_body([(phone, text)]))
