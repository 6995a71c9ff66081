"""SMS webhooks: accept a provider's callback fast (verify, parse, dedup, queue), then run each message once:
rate limit, opt-out words, the pipeline's turn, the reply."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from data.crypto import mask_phone, normalize_phone
from data.errors import InvalidInput
from data.models import ChannelIdentity, MessageLog
from data.timeutil import utcnow
from dialogs import Reply, Text

from ..channels.base import SendResult
from ..channels.sms import (
    BadRequest,
    InboundSms,
    SmsChannel,
    SmsProvider,
    WebAnswer,
    WebRequest,
    is_opt_out,
    is_resume,
    keyword,
    provider_class,
    sms_identity,
)
from ..config import ConfigError, SmsConfig
from ..pipeline import Inbound, Pipeline
from ..push import get_push
from ..runtime import Runtime, build_runtime

log = logging.getLogger("yinling.sms")

OPT_OUT_CONFIRM = "您已退订，今后不再收到活动通知。您发来的短信我们照常回复。回复“订阅”可恢复通知，回复0看主菜单。"
RESUME_CONFIRM = "已为您恢复活动通知。回复0看主菜单，回复9找人工。"
ALREADY_SUBSCRIBED = "您的活动通知一直开着。回复0看主菜单，回复9找人工。"
RATE_NOTICE = "您发得太快了，请过几分钟再发。回复0看主菜单。"
TURN_WAIT = 30.0  # the turn lock covers sending the reply as well: longer than the pipeline's own


# -- inbound: accept fast, process once -----------------------------------------------------------
@dataclass
class Processed:
    """What one inbound SMS led to (for logs and tests)."""

    action: str  # answered | opted_out | already_opted_out | resumed | duplicate | rate_limited | failed
    replies: list[Reply] = field(default_factory=list)
    result: SendResult | None = None


class SmsService:
    """Accepts provider callbacks (verify → parse → dedup → enqueue) and processes each message once."""

    def __init__(self, rt: Runtime, pipeline: Pipeline | None = None,
                 providers: dict[str, SmsProvider] | None = None) -> None:
        self.rt = rt
        self.cfg = rt.config.sms
        self.pipeline = pipeline or Pipeline(rt, push=get_push(rt))
        self.providers: dict[str, SmsProvider] = providers or {}
        self._executor: ThreadPoolExecutor | None = None
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._queue: Any = None

    def provider(self, name: str) -> SmsProvider:
        if name not in self.providers:
            self.providers[name] = provider_class(name)(self.cfg)
        return self.providers[name]

    def channel(self, name: str | None = None) -> SmsChannel:
        return SmsChannel(self.rt, self.provider(name or self.cfg.outbound))

    # -- the webhook
    def accept(self, name: str, req: WebRequest) -> WebAnswer:
        """Answer a provider callback quickly; the work happens in `process` (queue or thread)."""
        provider = self.provider(name)
        rid = uuid.uuid4().hex[:12]
        try:
            if not provider.verify(req):
                raise BadRequest("signature mismatch", 403)
            items = provider.parse(req)
            phones = []
            for item in items:
                try:
                    phones.append(normalize_phone(item.phone))
                except InvalidInput:
                    raise BadRequest("unknown number format") from None
        except BadRequest as exc:
            log.warning("sms %s callback refused (%s) request_id=%s", name, exc.reason, rid)
            return provider.error(exc)
        for item, phone in zip(items, phones, strict=True):
            key, ttl = self._dedup_key(name, phone, item)
            try:
                first = self.rt.store.set_nx(f"sms:in:{name}:{key}", rid, ttl)
            except Exception:  # noqa: BLE001 - store down: 503, the provider delivers the message again later
                log.exception("sms %s dedup store unavailable request_id=%s", name, rid)
                return provider.error(BadRequest("temporarily unavailable", 503))
            if not first:
                log.info("sms %s duplicate from %s dropped request_id=%s", name, mask_phone(phone), rid)
                continue
            job = {"phone": self.rt.vault.encrypt(phone), "text": item.text[:1000], "key": key, "ttl": ttl,
                   "opt_out": item.opt_out, "request_id": rid}
            try:
                self._submit(name, job)
            except Exception:  # noqa: BLE001 - the provider retries when we say so; nothing was done yet
                log.exception("sms %s enqueue failed request_id=%s", name, rid)
                self.rt.store.delete(f"sms:in:{name}:{key}")
                return provider.error(BadRequest("temporarily unavailable", 503))
        return provider.ack()

    def _dedup_key(self, name: str, phone: str, item: InboundSms) -> tuple[str, int]:
        if item.provider_id:
            return "id:" + hashlib.sha256(item.provider_id.encode()).hexdigest()[:32], self.cfg.id_dedup_seconds
        h = hashlib.sha256(f"{self.rt.vault.lookup_hash(phone)}|{item.text}".encode()).hexdigest()[:32]
        return "h:" + h, self.cfg.content_dedup_seconds

    def _submit(self, name: str, job: dict[str, Any]) -> None:
        if self.rt.redis is not None:
            if self._queue is None:
                import redis
                from rq import Queue

                conn = redis.Redis.from_url(self.rt.config.redis.url or "")  # RQ needs bytes, not str
                self._queue = Queue(self.cfg.queue, connection=conn)
            _SERVICES[self.cfg.queue] = self
            self._queue.enqueue(run_job, self.cfg.queue, name, job, job_timeout=120, result_ttl=0,
                                failure_ttl=7 * 86400)
            return
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.cfg.reply_threads, thread_name_prefix="sms-reply")
            fut = self._executor.submit(self.process, name, job)
            self._futures.add(fut)
            fut.add_done_callback(self._futures.discard)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for replies being processed in threads (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._futures and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- one message
    def process(self, name: str, job: dict[str, Any], now: datetime | None = None) -> Processed:
        """Run one accepted SMS: rate limit, opt-out words, the conversation, then send the reply."""
        try:
            return self._process(name, job, now or utcnow())
        except Exception:  # noqa: BLE001 - logged with the request id; the next message starts afresh
            log.exception("sms %s processing failed request_id=%s", name, job.get("request_id"))
            return Processed("failed")

    def _process(self, name: str, job: dict[str, Any], now: datetime) -> Processed:
        phone = self.rt.vault.decrypt(job["phone"])
        text: str = job["text"]
        rid: str = job["request_id"]
        channel = SmsChannel(self.rt, self.provider(name))
        h = self.rt.vault.lookup_hash(phone)[:20]
        # One number's messages run one at a time (threads here, RQ workers anywhere): a quick "1" must
        # not overtake the message before it. The pipeline's turn lock, held here across the opt-out words
        # and the sending of the reply too, so that answers also go out in order.
        with self.pipeline.one_turn_at_a_time("sms", phone, rid, wait=TURN_WAIT):
            return self._turn(name, job, now, phone, text, rid, channel, h)

    def _turn(self, name: str, job: dict[str, Any], now: datetime, phone: str, text: str, rid: str,
              channel: SmsChannel, h: str) -> Processed:
        per_min = self.rt.store.incr(f"sms:rate:m:{h}", 60)
        per_hour = self.rt.store.incr(f"sms:rate:h:{h}", 3600)
        if per_min > self.cfg.rate_per_minute or per_hour > self.cfg.rate_per_hour:
            log.warning("sms flood from %s: %d/min %d/h request_id=%s", mask_phone(phone), per_min, per_hour, rid)
            if per_min == self.cfg.rate_per_minute + 1 or per_hour == self.cfg.rate_per_hour + 1:
                channel.send_replies(phone, [Text(RATE_NOTICE)])
            return Processed("rate_limited")
        if job.get("opt_out") or is_opt_out(text):
            action, replies = self._opt_out(phone, text, rid, now, "provider" if job.get("opt_out") else "keyword")
        elif is_resume(text):
            action, replies = self._resume(phone, text, rid, now)
        else:
            outcome = self.pipeline.handle(
                Inbound(channel="sms", sender=phone, text=text, dedup_key=f"{name}:{job['key']}", request_id=rid),
                now, dedup_ttl=int(job.get("ttl") or 600))
            if outcome.duplicate:
                return Processed("duplicate")
            action, replies = "answered", outcome.replies
        if not replies:
            return Processed(action)
        return Processed(action, replies, channel.send_replies(phone, replies))

    def _logged_turn(self, phone: str, text: str, rid: str, now: datetime,
                     change: Callable[[ChannelIdentity], tuple[str, str | None]]) -> tuple[str, list[Reply]]:
        """Identify the number as the pipeline does, apply `change`, log both directions, commit."""
        with self.rt.sessions() as session:
            volunteer, _, shown = self.pipeline.identify(
                session, Inbound(channel="sms", sender=phone, text=text, request_id=rid), now)
            ident = sms_identity(session, self.rt.vault, phone)
            assert ident is not None  # identify just found or created it
            action, answer = change(ident)
            session.add(MessageLog(volunteer_id=volunteer.id, channel="sms", direction="in", address=shown,
                                   text=text[:2000], intent=action, request_id=rid, created_at=now))
            if answer:
                session.add(MessageLog(volunteer_id=volunteer.id, channel="sms", direction="out", address=shown,
                                       text=answer, request_id=rid, created_at=now))
            session.commit()
        log.info("sms %s from %s request_id=%s", action, shown, rid)
        return action, [Text(answer)] if answer else []

    def _opt_out(self, phone: str, text: str, rid: str, now: datetime, reason: str) -> tuple[str, list[Reply]]:
        def change(ident: ChannelIdentity) -> tuple[str, str | None]:
            if ident.opted_out_at is not None:
                return "already_opted_out", None  # confirmed once already: silence, no loop
            ident.opted_out_at = now
            ident.opted_out_reason = f"{reason}:{keyword(text)}"[:64]
            return "opted_out", OPT_OUT_CONFIRM

        return self._logged_turn(phone, text, rid, now, change)

    def _resume(self, phone: str, text: str, rid: str, now: datetime) -> tuple[str, list[Reply]]:
        def change(ident: ChannelIdentity) -> tuple[str, str | None]:
            if ident.opted_out_at is None:
                return "resume_noop", ALREADY_SUBSCRIBED
            ident.opted_out_at = None
            ident.opted_out_reason = None
            return "resumed", RESUME_CONFIRM

        return self._logged_turn(phone, text, rid, now, change)


# RQ jobs run in worker processes: the service of this process (same-process workers, tests) or one
# built from the configuration once per worker.
_SERVICES: dict[str, SmsService] = {}


def run_job(queue: str, provider: str, job: dict[str, Any]) -> str:
    """RQ entry point for one accepted SMS."""
    service = _SERVICES.get(queue)
    if service is None:
        service = _SERVICES.setdefault(queue, SmsService(build_runtime()))
    return service.process(provider, job).action


# -- web ------------------------------------------------------------------------------------------
def register(app: Any, rt: Runtime) -> None:
    """Mount POST /sms/<provider> for every configured provider; fails fast on bad configuration."""
    cfg = rt.config.sms
    if not cfg.providers:
        return
    mounted = set(cfg.providers)
    if "console" in mounted and rt.config.app.env == "production":
        log.warning("sms: the console provider is for development only; /sms/console is not mounted")
        mounted.discard("console")
    service = SmsService(rt)
    for name in dict.fromkeys([*cfg.providers, cfg.outbound]):
        provider = service.provider(name)
        if provider.needs_secret and name in mounted and not _has_secret(cfg, name):
            env = "SMS_ANDROID_SIGNING_KEY" if name == "android" else "SMS_WEBHOOK_SECRET"
            raise ConfigError(f"sms: provider {name} needs {env} to check its callbacks")
    app.extensions["yinling.sms"] = service
    bp = Blueprint("sms", __name__, url_prefix="/sms")

    @bp.post("/<name>")
    def inbound(name: str) -> Any:
        if name not in mounted:
            abort(404)
        answer = service.accept(name, WebRequest(request.get_data(), request.headers, request.args))
        if isinstance(answer.body, str):
            return Response(answer.body, answer.status, mimetype="text/plain")
        resp = jsonify(answer.body)
        resp.status_code = answer.status
        return resp

    app.register_blueprint(bp)


def _has_secret(cfg: SmsConfig, name: str) -> bool:
    return bool(cfg.android.signing_key if name == "android" else cfg.webhook_secret)

