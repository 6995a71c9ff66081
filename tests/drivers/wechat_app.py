"""The whole service for the /wechat tests: a fresh, migrated, demo-seeded database, memory or Redis, talking to a
loopback fake of WeChat's API; one jieba parser shared by every app of the test run (it takes seconds to load)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.channels import wechat_api
from bot.web import runtime_of
from bot.web.wechat import WechatChannel
from data.crypto import PhoneVault
from data.db import make_engine
from data.migrate import upgrade
from data.seed import load_demo
from data.timeutil import utcnow
from tests.conftest import REDIS_URL, TEST_SECRET, _missing, new_database_url
from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN
from tests.fakes.wechat_api import APP_SECRET

_NLU: dict[str, Any] = {}


def channel(app: Flask) -> WechatChannel:
    ch: WechatChannel = app.extensions["wechat"]
    return ch


@contextmanager
def wechat_service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, api_base: str,
                   overrides: dict[str, Any] | None = None) -> Iterator[Flask]:
    """`request.param` is "<sqlite|postgres>-<memory|redis>". Keys, queues and the database go at the end."""
    db_kind, store_kind = str(request.param).split("-")
    redis_url = None
    if store_kind == "redis":
        if not REDIS_URL:
            _missing("Redis", "YINLING_TEST_REDIS_URL")
        redis_url = REDIS_URL
    url = new_database_url(db_kind, tmp_path_factory.mktemp("wechat"), request)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s, s.begin():
        load_demo(s, utcnow(), PhoneVault(TEST_SECRET))
    engine.dispose()
    tag = uuid.uuid4().hex[:10]
    flask_app = create_app({
        "database.url": url, "redis.url": redis_url, "redis.prefix": f"test:{tag}:", "secret_key": TEST_SECRET,
        "wechat.token": TOKEN, "wechat.app_id": APP_ID, "wechat.app_secret": APP_SECRET, "wechat.aes_key": AES_KEY,
        "wechat.api_base": api_base, "wechat.reply_queue": f"replies-test-{tag}",
        # A busy 2-core CI machine can take more than WeChat's 4 s for one turn; the conversation tests are
        # about the replies, so they get room. The tests about the budget set their own (0.2–0.5 s).
        "wechat.reply_budget_seconds": 30.0,
        "wechat.accept_plaintext": True,  # one app speaks all three modes here; tests/security checks the default
        **(overrides or {}),
    })
    rt = runtime_of(flask_app)
    if "nlu" not in _NLU:
        rt.load_nlu()
        _NLU["nlu"] = rt.nlu
    rt._nlu = _NLU["nlu"]
    wechat_api.bind_job_runtime(rt)
    try:
        yield flask_app
    finally:
        wechat_api.bind_job_runtime(None)
        channel(flask_app).pool.shutdown(wait=True)
        rt.engine.dispose()
        if rt.redis is not None:
            for key in rt.redis.scan_iter(match=f"test:{tag}:*"):
                rt.redis.delete(key)
            import redis
            from rq import Queue

            Queue(f"replies-test-{tag}", connection=redis.Redis.from_url(REDIS_URL or "")).delete(delete_jobs=True)
