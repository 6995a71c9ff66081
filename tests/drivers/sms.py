"""Drives the SMS channel as the real world does: our app on a loopback server, a provider fake that sends
callbacks to it and receives what it sends, and a phone that sends a text and reads the SMS that came back."""

from __future__ import annotations

import os
import random
import threading
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from werkzeug.serving import make_server

from bot.app import create_app
from bot.channels.sms import PART, SINGLE
from bot.config import load_config
from bot.runtime import Runtime
from bot.web.sms import SmsService
from data.crypto import PhoneVault
from data.db import make_sessionmaker
from data.kv import RedisStore, Store
from data.models import ChannelIdentity, MessageLog

TEST_SECRET = "test-secret-key-0123456789"
WEBHOOK_SECRET = "webhook-secret-abc"


class StubNlu:
    """Stands in for the NLU when a test is about the channel, not the conversation."""

    def parse(self, text: str, now: datetime) -> dict[str, Any]:
        return {"text": text, "intent": {"name": "unknown", "confidence": 0.0}, "entities": [],
                "intent_ranking": []}


def new_phone() -> str:
    return "139" + f"{random.randrange(10**8):08d}"


def fits(parts: list[str], max_parts: int = 3) -> bool:
    """One SMS of ≤70 characters, or at most `max_parts` parts of ≤67."""
    if len(parts) == 1:
        return len(parts[0]) <= SINGLE
    return 1 < len(parts) <= max_parts and all(len(p) <= PART for p in parts)


class SmsHarness:
    """Our app serving on 127.0.0.1 with the given providers; `settle` waits for queued replies."""

    def __init__(self, engine: Engine, store: Store, overrides: dict[str, Any], nlu: Any = "stub") -> None:
        redis_url = os.environ.get("YINLING_TEST_REDIS_URL") if isinstance(store, RedisStore) else None
        cfg = load_config(env={}, overrides={
            "secret_key": TEST_SECRET, "redis.url": redis_url,
            "sms.queue": "test-replies-" + uuid.uuid4().hex[:8], "sms.webhook_secret": WEBHOOK_SECRET,
            **overrides})
        self.rt = Runtime(cfg, engine, make_sessionmaker(engine), store, PhoneVault(TEST_SECRET),
                          _nlu=StubNlu() if nlu == "stub" else nlu)
        if nlu is None:
            self.rt.load_nlu()  # as `serve` and the WSGI entry do at start-up
        self.app = create_app(runtime=self.rt)
        self.service: SmsService = self.app.extensions["yinling.sms"]
        self.service.channel  # noqa: B018 - providers are built by register already
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, provider: str, token: str | None = WEBHOOK_SECRET) -> str:
        base = f"http://127.0.0.1:{self._server.server_port}/sms/{provider}"
        return base + (f"?token={token}" if token is not None else "")

    def settle(self, timeout: float = 15.0) -> None:
        """Run what the webhook queued: an RQ burst worker on Redis, else wait for the reply threads."""
        if self.rt.redis is not None:
            import redis
            from rq import Queue, SimpleWorker

            conn = redis.Redis.from_url(self.rt.config.redis.url or "")
            queue = Queue(self.rt.config.sms.queue, connection=conn)
            if queue.count:
                SimpleWorker([queue], connection=conn).work(burst=True, with_scheduler=False)
            conn.close()
        self.service.drain(timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self.service._executor is not None:
            self.service._executor.shutdown(wait=True)

    # -- database views
    def log_count(self, phone: str, direction: str | None = None) -> int:
        with self.rt.sessions() as s:
            ident = self.identity(phone, s)
            if ident is None:
                return 0
            stmt = select(func.count()).select_from(MessageLog).where(
                MessageLog.volunteer_id == ident.volunteer_id, MessageLog.channel == "sms")
            if direction:
                stmt = stmt.where(MessageLog.direction == direction)
            return int(s.scalar(stmt) or 0)

    def identity(self, phone: str, session: Any = None) -> ChannelIdentity | None:
        s = session or self.rt.sessions()
        try:
            return s.scalars(select(ChannelIdentity).where(
                ChannelIdentity.channel == "sms",
                ChannelIdentity.external_id == self.rt.vault.lookup_hash(phone))).first()
        finally:
            if session is None:
                s.close()


class Phone:
    """A person with a basic phone, talking to us through one provider fake."""

    def __init__(self, harness: SmsHarness, fake: Any, provider: str, number: str | None = None) -> None:
        self.h = harness
        self.fake = fake
        self.provider = provider
        self.number = number or new_phone()
        self.inbox: list[str] = []

    def send(self, text: str) -> list[str]:
        """Send one SMS; returns the SMS (parts, or rendered templates) that came back for it."""
        before = len(self.fake.texts_to(self.number))
        resp = self.fake.deliver(self.h.url(self.provider), self.number, text)
        assert resp.status_code < 300, (resp.status_code, resp.text)
        self.h.settle()
        new = self.fake.texts_to(self.number)[before:]
        self.inbox += new
        return new
