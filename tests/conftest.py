"""Shared fixtures: databases (SQLite and PostgreSQL), stores (memory and real Redis), demo data."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.runtime import bind_rq_prefix, rq_key_prefix
from data.crypto import PhoneVault
from data.db import make_engine, rolled_back
from data.kv import MemoryStore, RedisStore, Store
from data.migrate import upgrade
from data.seed import load_demo
from tests.clock import session_instant

REQUIRE = os.environ.get("YINLING_REQUIRE_SERVICES") == "1"
# Property tests (tests/dialogs/test_property.py): repeatable cases by default; YINLING_PROPERTY_RANDOM=1 (CI)
# draws a fresh seed per run, YINLING_PROPERTY_SEED=N replays one. The seed is printed in the header and at the end.
PROPERTY_SEED: int | None = (int(os.environ["YINLING_PROPERTY_SEED"]) if os.environ.get("YINLING_PROPERTY_SEED")
                             else random.SystemRandom().randrange(2**32)
                             if os.environ.get("YINLING_PROPERTY_RANDOM") == "1" else None)


def pytest_report_header(config: pytest.Config) -> str:
    if PROPERTY_SEED is None:
        return "property tests: repeatable cases (YINLING_PROPERTY_RANDOM=1 for a fresh seed)"
    return f"property tests: seed {PROPERTY_SEED} (replay: YINLING_PROPERTY_SEED={PROPERTY_SEED})"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if PROPERTY_SEED is not None:  # again at the end: `-q` (CI) shows no header
        terminalreporter.write_line(f"property tests: seed {PROPERTY_SEED} (replay: YINLING_PROPERTY_SEED={PROPERTY_SEED})")


PG_URL = os.environ.get("YINLING_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("YINLING_TEST_REDIS_URL")
TEST_SECRET = "test-secret-key-0123456789"
# This test run's Redis namespace. RQ's keys (queues, jobs, registries, workers) are one per process: they
# go under RUN_PREFIX, bound here before anything imports RQ; store keys of each test get a prefix of
# their own beneath it. Two runs sharing one Redis never meet, and the run removes its keys at the end.
RUN_PREFIX = f"test:{uuid.uuid4().hex[:8]}:"
bind_rq_prefix(RUN_PREFIX)
import rq.defaults  # noqa: E402 - RQ reads its key prefix when first imported: now, with this run's

assert rq.defaults.RQ_KEY_PREFIX == rq_key_prefix(RUN_PREFIX), "RQ was imported before tests/conftest.py bound it"


@pytest.fixture(scope="session", autouse=True)
def _redis_run_cleanup() -> Iterator[None]:
    """At the end of the run, remove every key it left under RUN_PREFIX (RQ's worker records, results...)."""
    yield
    if not REDIS_URL:
        return
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        for key in client.scan_iter(match=RUN_PREFIX + "*", count=1000):
            client.delete(key)
        client.close()
    except redis.RedisError:
        pass


def _missing(what: str, var: str) -> None:
    if REQUIRE:
        pytest.fail(f"{what} is required in CI but {var} is not set or not reachable")
    pytest.skip(f"{what} not configured ({var})")


@pytest.fixture(scope="session")
def vault() -> PhoneVault:
    return PhoneVault(TEST_SECRET)


_SESSION_NOW = session_instant()


@pytest.fixture(scope="session")
def seed_now() -> datetime:
    """The session instant (tests/clock.py), naive UTC: the demo data is loaded relative to it."""
    return _SESSION_NOW


@pytest.fixture(scope="session", autouse=True)
def _session_clock(seed_now: datetime) -> Iterator[time_machine.travel]:
    """Session and module fixtures (a demo loaded with `utcnow()`) run at the session instant too."""
    travel = time_machine.travel(seed_now.replace(tzinfo=UTC), tick=True)
    travel.start()
    yield travel
    travel.stop()


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest, seed_now: datetime,
          _session_clock: time_machine.travel) -> Iterator[time_machine.Traveller | None]:
    """Every test starts at the session instant, and the clock ticks from there (time-machine).

    So a run that starts at 23:58 still sees the day it started on in every test, and code that reads
    the wall clock (the webhooks) agrees with the demo data. A test that needs another moment moves it:
    `clock.move_to(...)` or `clock.shift(...)`.

    Tests marked `wall_clock` keep the real clock (None here): they start other processes (an RQ worker,
    the gammu hook, the dev server), which cannot be moved, and whose signatures and leases must agree with
    this process's clock. They check nothing that depends on the date.
    """
    if request.node.get_closest_marker("wall_clock"):
        _session_clock.stop()
        try:
            yield None
        finally:
            _session_clock.start()
        return
    with time_machine.travel(seed_now.replace(tzinfo=UTC), tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session (so parallel runs never collide)."""
    if not PG_URL:
        _missing("PostgreSQL", "YINLING_TEST_POSTGRES_URL")
    base = make_url(PG_URL)
    name = f"yinling_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        _missing(f"PostgreSQL ({exc.__class__.__name__})", "YINLING_TEST_POSTGRES_URL")
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_database_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of the given kind: a fresh SQLite file, or a fresh PostgreSQL schema-free DB."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server = make_url(request.getfixturevalue("pg_server_url"))
    name = f"yinling_f_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return server.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           vault: PhoneVault, seed_now: datetime) -> Iterator[Engine]:
    """A migrated database with the demo region loaded once per backend and test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = request.getfixturevalue("pg_server_url")
    eng = make_engine(url)
    upgrade(eng)
    with Session(eng) as s, s.begin():
        load_demo(s, seed_now, vault)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (code may commit freely)."""
    with rolled_back(engine) as s:
        yield s


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """The same tests run on the in-process store and on real Redis with a unique key prefix."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    prefix = f"{RUN_PREFIX}{uuid.uuid4().hex[:10]}:"
    rs = RedisStore.from_url(REDIS_URL, prefix=prefix)
    try:
        rs.ping()
    except Exception as exc:  # noqa: BLE001
        _missing(f"Redis ({exc.__class__.__name__})", "YINLING_TEST_REDIS_URL")
    yield rs
    for key in rs.client.scan_iter(match=prefix + "*"):
        rs.client.delete(key)
