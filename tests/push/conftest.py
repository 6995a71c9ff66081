"""Push fixtures: a fresh demo database per test (copied from a template), loopback APIs, a wired runtime.

The runtime runs in two ways (`backend`): in-process queue and store (embedded mode), and real Redis with
real RQ (production), where `drain()` runs the queued jobs with an RQ worker in this process.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.config import Config, load_config
from bot.push import QUEUES, LocalJobQueue, PushContext, PushService, RQJobQueue, get_push
from bot.runtime import Runtime, build_runtime, rq_key_prefix
from data.crypto import PhoneVault
from data.db import make_engine
from data.migrate import upgrade
from data.seed import load_demo
from tests.conftest import REDIS_URL, RUN_PREFIX, TEST_SECRET, _missing
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


@pytest.fixture(params=["local", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """Where the queue and the store live: in this process, or on real Redis with real RQ."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Redis and RQ run with SQLite only: PostgreSQL is covered by the in-process variant and by the real
    worker test, and creating its per-test databases is the slow part. In tests/admin, only the pages that
    send notices (test_admin.py) run on both."""
    drop = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("backend") != "redis":
            continue
        if params.get("db_url") == "postgres" or ("/admin/" in item.nodeid and "test_admin.py" not in item.nodeid):
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i not in drop]


class DrainedRQ(RQJobQueue):
    """Real RQ on real Redis; `drain()` runs what is queued with an RQ worker in this process (burst), until the
    queues are empty, like `LocalJobQueue.drain` (with `include_delayed`, scheduled jobs are moved forward)."""

    def drain(self, include_delayed: bool = False, timeout: float = 30.0) -> int:
        from rq import SimpleWorker
        from rq.job import Job

        ran = 0
        deadline = time.monotonic() + timeout
        queues = [self.queue(name) for name in QUEUES]
        while time.monotonic() < deadline:
            if include_delayed:
                for q in queues:
                    registry = q.scheduled_job_registry
                    for job_id in registry.get_job_ids():
                        registry.remove(job_id)
                        q.enqueue_job(Job.fetch(job_id, connection=self.connection))
            if not any(q.count for q in queues):
                return ran
            worker = SimpleWorker(queues, connection=self.connection)
            worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
            ran += worker.successful_job_count + worker.failed_job_count
        return ran


_OTHER_RUN = re.compile(rb"^test:[0-9a-f]{8}:")  # another test run sharing this Redis (tests/conftest.py)


def _keys_outside_run(client: Any) -> set[bytes]:
    """Keys under no test run's prefix: what this run may have leaked (other runs' keys are theirs)."""
    return {k for k in client.scan_iter(count=1000) if not _OTHER_RUN.match(k)}


@contextmanager
def runtime_on(backend: str, db_url: str, fake_url: str, request: pytest.FixtureRequest,
               **overrides: Any) -> Iterator[Runtime]:
    """A runtime on `backend`. On Redis: a fresh key prefix under the run's; afterwards this test's keys and
    RQ's are removed, and no key may have been left outside the run's prefix."""
    if backend == "local":
        runtime = build_runtime(push_config(db_url, fake_url, **overrides))
        yield runtime
        runtime.engine.dispose()
        return
    import redis

    url = request.getfixturevalue("redis_url")
    prefix = f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(url)
    before = _keys_outside_run(client)
    runtime = build_runtime(push_config(db_url, fake_url, redis_url=url, prefix=prefix, **overrides))
    try:
        yield runtime
    finally:
        runtime.engine.dispose()
        clear_redis(url, prefix)
        clear_redis(url, rq_key_prefix(RUN_PREFIX) + ":")  # this run's RQ keys: tests run one at a time
        left = _keys_outside_run(client) - before
        client.close()
    assert not left, f"keys left outside the run's prefix {RUN_PREFIX}: {sorted(left)[:5]}"


def job_queue(rt: Runtime) -> LocalJobQueue | DrainedRQ:
    """Embedded: the in-process queue run by `drain()`. Redis: real RQ, drained by an RQ worker here."""
    if rt.config.redis.url:
        return DrainedRQ(rt.config.redis.url, prefix=rt.config.redis.prefix)
    return LocalJobQueue(threaded=False)


@pytest.fixture
def rt(db_url: str, fake: FakeApis, backend: str, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    with runtime_on(backend, db_url, fake.url, request) as runtime:
        yield runtime


@pytest.fixture
def push(rt: Runtime) -> Iterator[PushService]:
    """The same job functions, run when tests call `push.ctx.queue.drain()`: in this process, or by RQ."""
    svc = get_push(rt, PushContext.build(rt, queue=job_queue(rt)))
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
