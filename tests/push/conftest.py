"""Push fixtures: a fresh demo database per test (copied from a template), loopback APIs, a wired runtime."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.config import Config, load_config
from bot.push import LocalJobQueue, PushContext, PushService, get_push
from bot.runtime import Runtime, build_runtime
from data.crypto import PhoneVault
from data.db import make_engine
from data.migrate import upgrade
from data.seed import load_demo
from tests.conftest import REDIS_URL, TEST_SECRET, _missing
from tests.fakes.push_apis import FakeApis, serve


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory, vault: PhoneVault,
                   seed_now: datetime) -> dict[str, str]:
    """Migrated, seeded databases to copy from: a SQLite file, and (lazily) a PostgreSQL template."""
    path = tmp_path_factory.mktemp("pushtpl") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    with Session(eng) as s, s.begin():
        load_demo(s, seed_now, vault)
    eng.dispose()
    return {"sqlite": str(path)}


@pytest.fixture(scope="session")
def pg_template(request: pytest.FixtureRequest, vault: PhoneVault, seed_now: datetime) -> Iterator[str]:
    server = make_url(request.getfixturevalue("pg_server_url"))
    name = f"yinling_ptpl_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(server.set(database=name).render_as_string(hide_password=False))
    upgrade(eng)
    with Session(eng) as s, s.begin():
        load_demo(s, seed_now, vault)
    eng.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, demo_templates: dict[str, str]) -> Iterator[str]:
    """A private copy of the demo database: push jobs commit, so tests cannot share one."""
    if request.param == "sqlite":
        target = tmp_path / "push.db"
        shutil.copy(demo_templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    server = make_url(request.getfixturevalue("pg_server_url"))
    name = f"yinling_p_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    with serve() as f:
        yield f


def push_config(db_url: str, fake_url: str, redis_url: str | None = None, prefix: str = "yinling:",
                **overrides: Any) -> Config:
    base: dict[str, Any] = {
        "database.url": db_url,
        "redis.url": redis_url or "",
        "redis.prefix": prefix,
        "wechat.app_id": "wxpush0123456789",
        "wechat.app_secret": "push-secret",
        "wechat.api_base": fake_url,
        "wechat.templates": {"notice": "TPL-NOTICE"},
        "sms.providers": ["android"],
        "sms.outbound": "android",
        "sms.android.base_url": fake_url,
        "sms.android.password": "pw-android",
        "sms.android.signing_key": "sign-key-1",
        "push.retry_backoff_seconds": [1, 2],
        "push.sending_lease_seconds": 2,
        "push.batch_size": 7,
        "push.wechat_per_second": 0,
        "push.sms_per_second": 0,
    }
    base.update(overrides)
    return load_config(env={"YINLING_SECRET_KEY": TEST_SECRET}, overrides=base)


@pytest.fixture
def rt(db_url: str, fake: FakeApis) -> Iterator[Runtime]:
    runtime = build_runtime(push_config(db_url, fake.url))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def push(rt: Runtime) -> Iterator[PushService]:
    """Embedded mode: the same job functions in this process; tests call `push.ctx.queue.drain()`."""
    svc = get_push(rt, PushContext.build(rt, queue=LocalJobQueue(threaded=False)))
    yield svc


def clear_redis(url: str, prefix: str) -> int:
    """Delete every key under `prefix`; returns how many there were."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
    client.close()
    return len(keys)


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # noqa: BLE001
        _missing(f"Redis ({exc.__class__.__name__})", "YINLING_TEST_REDIS_URL")
    return REDIS_URL
