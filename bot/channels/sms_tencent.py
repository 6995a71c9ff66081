"""Tencent Cloud SMS: template messages out (SendSms, API 2021-01-11), reply callbacks in."""

from __future__ import annotations

import hashlib
import json

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from ..config import SmsConfig
from .base import SendResult
from .sms import BadRequest, InboundSms, SmsProvider, TemplateSpec, WebAnswer, WebRequest, load_templates

RETRY = {"ClientNetworkError", "ServerNetworkError", "RequestLimitExceeded", "InternalError",
         "LimitExceeded.PhoneNumberThirtySecondLimit", "FailedOperation.JsonParseFail"}
UNREACHABLE = {
    "FailedOperation.PhoneNumberInBlacklist": "opted_out",  # the person sent TD to the carrier/Tencent
    "LimitExceeded.PhoneNumberOneHourLimit": "quota",
    "LimitExceeded.PhoneNumberDailyLimit": "quota",
    "LimitExceeded.AppDailyLimit": "quota",
    "LimitExceeded.DailyLimit": "quota",
    "FailedOperation.InsufficientBalanceInSmsPackage": "quota",
}


def classify(code: str, message: str = "") -> SendResult:
    """A Tencent error code as a SendResult (retry transient, unreachable for this person, else failed)."""
    if code in UNREACHABLE:
        return SendResult("unreachable", UNREACHABLE[code])
    if code in RETRY or code.startswith("InternalError"):
        return SendResult("retry", code, retry_after=30.0 if "ThirtySecond" in code else 2.0)
    return SendResult("failed", f"{code}: {message}"[:200])


class TencentProvider(SmsProvider):
    """Callback (回复短信回调): `{mobile, nationcode, sign, text, time, extend}` or a list of them, to
    /sms/tencent?token=<SMS_WEBHOOK_SECRET>; we answer `{"result": 0, "errmsg": "OK"}`."""

    name = "tencent"
    free_text = False

    def __init__(self, config: SmsConfig) -> None:
        super().__init__(config)
        self.cfg = config.tencent
        self.templates = load_templates("tencent", self.cfg.templates)
        self._client: sms_client.SmsClient | None = None

    def verify(self, req: WebRequest) -> bool:
        return self._check_token(req)

    def parse(self, req: WebRequest) -> list[InboundSms]:
        try:
            data = json.loads(req.body.decode("utf-8"))
            items = data if isinstance(data, list) else [data]
            out = []
            for d in items:
                mobile, text, at = d["mobile"], d["text"], d.get("time", "")
                if not isinstance(mobile, str) or not isinstance(text, str):
                    raise TypeError
                if str(d.get("nationcode", "86")) != "86":
                    raise BadRequest("unknown number format")
                digest = hashlib.sha256(f"{mobile}|{at}|{text}".encode()).hexdigest()[:24]
                out.append(InboundSms(mobile, text, f"tencent:{digest}" if at else None))
        except BadRequest:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BadRequest("malformed callback") from None
        return out

    def ack(self) -> WebAnswer:
        return WebAnswer({"result": 0, "errmsg": "OK"})

    def error(self, exc: BadRequest) -> WebAnswer:
        return WebAnswer({"result": 1, "errmsg": exc.reason}, exc.status)

    @property
    def client(self) -> sms_client.SmsClient:
        if self._client is None:
            cred = credential.Credential(self.cfg.secret_id or "", self.cfg.secret_key or "")
            http = HttpProfile(protocol=self.cfg.scheme, endpoint=self.cfg.endpoint,
                               reqTimeout=int(max(self.cfg.timeout_seconds, 1)))
            self._client = sms_client.SmsClient(cred, self.cfg.region, ClientProfile(httpProfile=http))
        return self._client

    def send_template(self, phone: str, spec: TemplateSpec, params: list[tuple[str, str]]) -> SendResult:
        req = models.SendSmsRequest()
        req.PhoneNumberSet = ["+86" + phone]
        req.SmsSdkAppId = self.cfg.sdk_app_id
        req.SignName = self.cfg.sign_name
        req.TemplateId = spec.id
        req.TemplateParamSet = [value for _, value in params]  # Tencent variables go by position
        try:
            resp = self.client.SendSms(req)
        except TencentCloudSDKException as exc:
            return classify(str(exc.code or ""), str(exc.message or ""))
        statuses = resp.SendStatusSet or []
        if not statuses:
            return SendResult("retry", "empty SendStatusSet")
        st = statuses[0]
        if st.Code == "Ok":
            return SendResult("sent", provider_id=st.SerialNo)
        return classify(st.Code or "", st.Message or "")
