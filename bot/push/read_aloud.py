"""Replies read aloud (念给我听): speech → AMR → WeChat temporary media → a customer-service voice message.

Runs after the passive reply went out (an RQ job on the replies queue, or a thread without Redis), so it
never costs the 5-second window. The text is already with the person: a voice that cannot be made or
uploaded gets one polite customer-service line, and nothing else is lost.
"""

from __future__ import annotations

import hashlib
import json
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
MEDIA_TTL = 2 * 86400  # WeChat keeps temporary media 3 days; we reuse an upload for 2
STALE = 40007  # invalid media_id: expired or unknown

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
    """Speak `text` to `openid` as voice messages; returns sent / unreachable / failed.

    The same text spoken the same way is uploaded once: WeChat keeps temporary media 3 days, the store
    remembers its media ids for MEDIA_TTL (the main menu is read to everyone who asked for it always)."""
    reason = api.unreachable_reason(openid)
    if reason:
        log.info("read aloud to %s skipped: %s request_id=%s", short(openid), reason, request_id)
        return "unreachable"
    key = _media_key(voice, text)
    cached = api.store.get(key)
    if cached:
        status = _send_all(api, openid, json.loads(cached), request_id, sleep)
        if status != "stale":
            return status
        api.store.delete(key)  # WeChat no longer has them: speak and upload again
    try:
        voices = voice.voices(text)
    except TtsError as exc:
        log.warning("read aloud to %s: no speech (%s) request_id=%s", short(openid), exc.reason, request_id)
        return _sorry(api, openid, request_id)
    media_ids: list[str] = []
    for v in voices:
        try:
            media_ids.append(_twice(api.upload_voice, v.amr, sleep))
        except WechatAPIError as exc:
            log.warning("read aloud to %s: upload refused (%s) request_id=%s", short(openid), exc.reason,
                        request_id)
            return _sorry(api, openid, request_id)
    if media_ids:
        api.store.set(key, json.dumps(media_ids), MEDIA_TTL)
    status = _send_all(api, openid, media_ids, request_id, sleep)
    return _sorry(api, openid, request_id) if status == "stale" else status


def _media_key(voice: Speaker, text: str) -> str:
    c = voice.cfg
    how = f"{c.backend}|{c.model}|{c.voice}|{c.espeak_voice}|{c.espeak_speed}|{c.tencent.voice_type}|{c.max_chars}"
    return "tts:media:" + hashlib.sha256(f"{how}\n{text}".encode()).hexdigest()[:32]


def _send_all(api: WechatAPI, openid: str, media_ids: list[str], request_id: str,
              sleep: Callable[[float], None]) -> str:
    """sent / unreachable / failed, or stale when WeChat no longer knows the first media id."""
    for i, media_id in enumerate(media_ids):
        result = api.send_voice(openid, media_id)
        if result.status == "retry" and (result.retry_after or 0) <= SHORT_WAIT:
            sleep(result.retry_after or 1.0)
            result = api.send_voice(openid, media_id)
        log.info("read aloud to %s: voice %s %s request_id=%s", short(openid), result.status, result.reason,
                 request_id)
        if result.status == "unreachable":
            return "unreachable"
        if i == 0 and result.status == "failed" and result.reason.startswith(f"errcode {STALE}:"):
            return "stale"
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
