"""Aliyun SMS (Dysmsapi 2017-05-25): template messages out (SendSms), HTTP batch push of replies in."""

from __future__ import annotations

import json
from typing import Any

from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.utils_models import Config as OpenApiConfig
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from ..config import SmsConfig
from .base import SendResult
from .sms import BadRequest, InboundSms, SmsProvider, TemplateSpec, WebAnswer, WebRequest, load_templates

FAILED_PERMANENTLY = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.AMOUNT_NOT_ENOUGH", "isv.BLACK_KEY_CONTROL_LIMIT",
                      "isv.PARAM_LENGTH_LIMIT", "isv.OUT_OF_SERVICE", "isv.SMS_TEMPLATE_ILLEGAL",
                      "isv.SMS_SIGNATURE_ILLEGAL", "isv.INVALID_PARAMETERS", "isv.TEMPLATE_MISSING_PARAMETERS",
                      "SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound", "isv.ACCOUNT_NOT_EXISTS"}


def classify(code: str, message: str = "") -> SendResult:
    """An Aliyun SendSms code as a SendResult."""
    if code == "isv.DAY_LIMIT_CONTROL" or "天级" in message:
        return SendResult("unreachable", "quota")
    if code == "isv.BUSINESS_LIMIT_CONTROL":  # per-number flow control: 1 a minute, 5 an hour
        return SendResult("retry", code, retry_after=60.0)
    if code in FAILED_PERMANENTLY:
        return SendResult("failed", f"{code}: {message}"[:200])
    if code.startswith(("isp.", "Throttling", "ServiceUnavailable", "InternalError")) or not code:
        return SendResult("retry", code or "no code", retry_after=2.0)
    return SendResult("failed", f"{code}: {message}"[:200])


class AliyunProvider(SmsProvider):
    """Push (上行短信 HTTP 批量推送): a JSON array of `{phone_number, content, send_time, sign_name,
    dest_code, sequence_id}` to /sms/aliyun?token=<SMS_WEBHOOK_SECRET>; `{"code": 0}` within 700 ms, so
    we only check, dedup by sequence_id and enqueue. Duplicates happen; each is processed once."""

    name = "aliyun"
    free_text = False

    def __init__(self, config: SmsConfig) -> None:
        super().__init__(config)
        self.cfg = config.aliyun
        self.templates = load_templates("aliyun", self.cfg.templates)
        self._client: Client | None = None

    def verify(self, req: WebRequest) -> bool:
        return self._check_token(req)

    def parse(self, req: WebRequest) -> list[InboundSms]:
        try:
            data = json.loads(req.body.decode("utf-8"))
            if not isinstance(data, list):
                raise TypeError
            out = []
            for d in data:
                phone, content, seq = d["phone_number"], d["content"], d.get("sequence_id")
                if not isinstance(phone, str) or not isinstance(content, str):
                    raise TypeError
                out.append(InboundSms(phone, content, f"aliyun:{seq}" if seq not in (None, "") else None))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BadRequest("malformed push") from None
        return out

    def ack(self) -> WebAnswer:
        return WebAnswer({"code": 0, "msg": "接收成功"})

    def error(self, exc: BadRequest) -> WebAnswer:
        return WebAnswer({"code": 1, "msg": exc.reason}, exc.status)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(OpenApiConfig(
                access_key_id=self.cfg.access_key_id or "", access_key_secret=self.cfg.access_key_secret or "",
                endpoint=self.cfg.endpoint, protocol=self.cfg.scheme))
        return self._client

    def send_template(self, phone: str, spec: TemplateSpec, params: list[tuple[str, str]]) -> SendResult:
        req = dysms.SendSmsRequest(phone_numbers=phone, sign_name=self.cfg.sign_name, template_code=spec.id,
                                   template_param=json.dumps(dict(params), ensure_ascii=False))
        ms = int(self.cfg.timeout_seconds * 1000)
        runtime = RuntimeOptions(autoretry=False, read_timeout=ms, connect_timeout=ms)
        try:
            resp: Any = self.client.send_sms_with_options(req, runtime)
        except TeaException as exc:
            return classify(str(getattr(exc, "code", "") or ""), str(getattr(exc, "message", "") or ""))
        body = resp.body
        if body is not None and body.code == "OK":
            return SendResult("sent", provider_id=body.biz_id)
        return classify(body.code if body is not None else "", body.message if body is not None else "")
