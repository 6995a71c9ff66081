"""Replies read aloud (念给我听): speech → AMR → WeChat temporary media → a customer-service voice message.

Runs after the passive reply went out (an RQ job on the replies queue, or a thread without Redis), so it
never costs the 5-second window. The text is already with the person: a voice that cannot be made or
uploaded gets one polite customer-service line, and nothing else is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..channels.tts import Speaker, TtsError
from ..channels.wechat_api import WechatAPI, WechatAPIError, job_runtime, short
from ..config import TtsConfig
from .texts import READ_ALOUD_FAILED

log = logging.getLogger("yinling.read_aloud")

SHORT_WAIT = 5.0  # a transient failure that asks to wait at most this long is tried once more

_speakers: dict[int, Speaker] = {}
_lock = threading.Lock()


def speaker(cfg: TtsConfig) -> Speaker:
    """One Speaker per configuration in this process (the Tencent client keeps its connection)."""
    with _lock:
        found = _speakers.get(id(cfg))
        if found is None or found.cfg is not cfg:
            found = _speakers[id(cfg)] = Speaker(cfg)
        return found


def read_aloud(api: WechatAPI, voice: Speaker, openid: str, text: str, request_id: str,
               sleep: Callable[[float], None] = time.sleep) -> str:
    """Speak `text` to `openid` as voice messages; returns sent / unreachable / failed."""
    reason = api.unreachable_reason(openid)
    if reason:
        log.info("read aloud to %s skipped: %s request_id=%s", short(openid), reason, request_id)
        return "unreachable"
    try:
        voices = voice.voices(text)
    except TtsError as exc:
        log.warning("read aloud to %s: no speech (%s) request_id=%s", short(openid), exc.reason, request_id)
        return _sorry(api, openid, request_id)
    for v in voices:
        try:
            media_id = _twice(api.upload_voice, v.amr, sleep)
        except WechatAPIError as exc:
            log.warning("read aloud to %s: upload refused (%s) request_id=%s", short(openid), exc.reason,
                        request_id)
            return _sorry(api, openid, request_id)
        result = api.send_voice(openid, media_id)
        if result.status == "retry" and (result.retry_after or 0) <= SHORT_WAIT:
            sleep(result.retry_after or 1.0)
            result = api.send_voice(openid, media_id)
        log.info("read aloud to %s: %s %.1fs %s request_id=%s", short(openid), result.status, v.seconds,
                 result.reason, request_id)
        if result.status == "unreachable":
            return "unreachable"
        if not result.ok:
            return _sorry(api, openid, request_id)
    return "sent"


def _twice(fn: Callable[[bytes], str], arg: bytes, sleep: Callable[[float], None]) -> str:
    try:
        return fn(arg)
    except WechatAPIError as exc:
        wait = exc.retry_after
        if wait is None or wait > SHORT_WAIT:
            raise
        sleep(wait)
        return fn(arg)


def _sorry(api: WechatAPI, openid: str, request_id: str) -> str:
    result = api.send_text(openid, READ_ALOUD_FAILED)
    log.info("read aloud to %s: apology %s %s request_id=%s", short(openid), result.status, result.reason,
             request_id)
    return "failed"


def speak_job(openid: str, text: str, request_id: str) -> str:
    """RQ job on the replies queue (`bot.push.read_aloud.speak_job`)."""
    rt: Any = job_runtime()
    return read_aloud(WechatAPI(rt.config.wechat, rt.store), speaker(rt.config.tts), openid, text, request_id)
