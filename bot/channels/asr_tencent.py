"""Tencent Cloud 一句话识别 (SentenceRecognition, API 2019-06-14) through its SDK, signed TC3-HMAC-SHA256."""

from __future__ import annotations

import base64

from tencentcloud.asr.v20190614 import asr_client, models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from ..config import AsrConfig
from .asr import AsrError, Recognizer

RETRY = {"ClientNetworkError", "ServerNetworkError", "RequestLimitExceeded", "InternalError",
         "FailedOperation.ServiceIsolate", "FailedOperation.ErrorRecognize"}


class TencentRecognizer(Recognizer):
    """Raw PCM sent inline (SourceType 1, VoiceFormat pcm, at most 60 s and 3 MB); the answer's `Result`."""

    name = "tencent"

    def __init__(self, config: AsrConfig) -> None:
        super().__init__(config)
        cfg = config.tencent
        cred = credential.Credential(cfg.secret_id or "", cfg.secret_key or "")
        http = HttpProfile(protocol=cfg.scheme, endpoint=cfg.endpoint,
                           reqTimeout=max(1, int(round(config.timeout_seconds))))
        self.client = asr_client.AsrClient(cred, cfg.region, ClientProfile(httpProfile=http))

    def recognize(self, pcm: bytes, rate: int) -> str:
        req = models.SentenceRecognitionRequest()
        req.EngSerViceType = self.config.tencent.engine
        req.SourceType = 1  # the audio is in the request, not at a URL
        req.VoiceFormat = "pcm"
        req.InputSampleRate = rate if rate != 16000 else None  # only for 8 kHz audio to a 16k engine
        req.Data = base64.b64encode(pcm).decode("ascii")
        req.DataLen = len(pcm)
        req.FilterDirty = 0
        req.FilterModal = 0
        req.FilterPunc = 0
        req.ConvertNumMode = 0  # 幺三九 stays words: our own parser reads spoken numbers and phone numbers
        try:
            resp = self.client.SentenceRecognition(req)
        except TencentCloudSDKException as exc:
            code = str(exc.code or "")
            raise AsrError(f"tencent {code}"[:120], retry=code in RETRY or code.startswith("InternalError")) from exc
        return str(resp.Result or "").strip()
