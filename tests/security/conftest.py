"""Security fixtures: the admin app (Flask test client, private demo database) reused from tests/admin, and
the whole service with the WeChat webhook (SQLite with the in-process store, PostgreSQL with real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from bot.app import create_app
from bot.runtime import Runtime
from bot.web import runtime_of
from tests.admin.conftest import Admin, admin, app, push, rt, token  # noqa: F401
from tests.conftest import REDIS_URL, TEST_SECRET, _missing
from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN, WechatDriver, flask_transport
from tests.push.conftest import backend, db_url, demo_templates, fake, pg_template, redis_url  # noqa: F401

_NLU: dict[str, Any] = {}
AppMaker = Callable[..., Flask]


@pytest.fixture
def make_app(request: pytest.FixtureRequest, db_url: str) -> Iterator[AppMaker]:  # noqa: F811
    """Build the whole service on this test's private demo database; SQLite runs with the in-process
    store, PostgreSQL with real Redis (under a private key prefix, removed afterwards)."""
    made: list[Runtime] = []
    tag = uuid.uuid4().hex[:10]
    store_url = None
    if db_url.startswith("postgresql"):
        if not REDIS_URL:
            _missing("Redis", "YINLING_TEST_REDIS_URL")
        store_url = REDIS_URL

    def build(aes: bool = False, **overrides: Any) -> Flask:
        cfg: dict[str, Any] = {
            "database.url": db_url, "redis.url": store_url, "redis.prefix": f"sec:{tag}:{len(made)}:",
            "secret_key": TEST_SECRET, "wechat.token": TOKEN, "wechat.app_id": APP_ID,
            "wechat.app_secret": "sec-secret", "wechat.api_base": "http://127.0.0.1:9",
            "wechat.aes_key": AES_KEY if aes else None, "wechat.reply_queue": f"replies-sec-{tag}",
        }
        cfg.update(overrides)
        flask_app = create_app(cfg)
        runtime = runtime_of(flask_app)
        if "nlu" not in _NLU:  # jieba takes seconds to load: one parser for every app
            runtime.load_nlu()
            _NLU["nlu"] = runtime.nlu
        runtime._nlu = _NLU["nlu"]
        made.append(runtime)
        return flask_app

    yield build
    for runtime in made:
        runtime.engine.dispose()
        if runtime.redis is not None:
            for key in runtime.redis.scan_iter(match=f"sec:{tag}:*"):
                runtime.redis.delete(key)


def wechat(flask_app: Flask, mode: str = "plain", openid: str | None = None) -> WechatDriver:
    return WechatDriver(flask_transport(flask_app.test_client()), mode=mode, openid=openid)
