"""Operations fixtures: the whole service on a fresh demo database, the fake WeChat API, a real HTTP server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.channels import wechat_api
from bot.runtime import Runtime
from bot.web import runtime_of
from data.crypto import PhoneVault
from data.db import make_engine
from data.migrate import upgrade
from data.seed import load_demo
from data.timeutil import utcnow
from tests.conftest import REDIS_URL, TEST_SECRET, _missing, new_database_url
from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN
from tests.fakes.wechat_api import APP_SECRET, FakeWechatAPI
from tests.loopback import serving

_NLU: dict[str, Any] = {}


@pytest.fixture(scope="module")
def wechat_fake() -> Iterator[FakeWechatAPI]:
    server = FakeWechatAPI(APP_ID, APP_SECRET).start()
    yield server
    server.stop()


def demo_database(kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = new_database_url(kind, tmp_path_factory.mktemp("ops"), request)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s, s.begin():
        load_demo(s, utcnow(), PhoneVault(TEST_SECRET))
    engine.dispose()
    return url


@pytest.fixture(scope="module", params=["sqlite-memory", "postgres-redis"])
def ops_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            wechat_fake: FakeWechatAPI) -> Iterator[Flask]:
    """The service (WeChat webhook, push in-process or on RQ, /metrics) on a fresh demo database."""
    db_kind, store_kind = request.param.split("-")
    redis_url = None
    if store_kind == "redis":
        if not REDIS_URL:
            _missing("Redis", "YINLING_TEST_REDIS_URL")
        redis_url = REDIS_URL
    url = demo_database(db_kind, request, tmp_path_factory)
    tag = uuid.uuid4().hex[:10]
    app = create_app({
        "database.url": url, "redis.url": redis_url, "redis.prefix": f"test:{tag}:", "secret_key": TEST_SECRET,
        "wechat.token": TOKEN, "wechat.app_id": APP_ID, "wechat.app_secret": APP_SECRET, "wechat.aes_key": AES_KEY,
        "wechat.api_base": wechat_fake.url, "wechat.reply_queue": f"replies-ops-{tag}",
        "wechat.templates": {"notice": "TPL-NOTICE"},
        "wechat.reply_budget_seconds": 30.0, "wechat.accept_plaintext": True,
        "sms.queue": f"replies-ops-{tag}",
    })
    rt = runtime_of(app)
    if "nlu" not in _NLU:  # jieba takes seconds to load: one parser for the module
        rt.load_nlu()
        _NLU["nlu"] = rt.nlu
    rt._nlu = _NLU["nlu"]
    wechat_api.bind_job_runtime(rt)
    yield app
    wechat_api.bind_job_runtime(None)
    app.extensions["wechat"].pool.shutdown(wait=True)
    rt.engine.dispose()
    if rt.redis is not None:
        for key in rt.redis.scan_iter(match=f"test:{tag}:*"):
            rt.redis.delete(key)
        import redis
        from rq import Queue

        Queue(f"replies-ops-{tag}", connection=redis.Redis.from_url(REDIS_URL or "")).delete(delete_jobs=True)


@pytest.fixture
def ops_rt(ops_app: Flask, wechat_fake: FakeWechatAPI) -> Runtime:
    wechat_fake.reset()
    return runtime_of(ops_app)


@pytest.fixture
def http_url(ops_app: Flask) -> Iterator[str]:
    """The app served over real HTTP on loopback (what Prometheus scrapes)."""
    with serving(ops_app) as url:
        yield url


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Exposition text → {(sample name, sorted labels): value}."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def total(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """Sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, lab), v in scraped.items() if n == name and want <= set(lab))
