"""Shared fixtures: databases (SQLite and PostgreSQL), stores (memory and real Redis), demo data."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from data.crypto import PhoneVault
from data.db import make_engine
from data.kv import MemoryStore, RedisStore, Store
from data.migrate import upgrade
from data.seed import load_demo
from data.timeutil import utcnow

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


def _missing(what: str, var: str) -> None:
    if REQUIRE:
        pytest.fail(f"{what} is required in CI but {var} is not set or not reachable")
    pytest.skip(f"{what} not configured ({var})")


@pytest.fixture(scope="session")
def vault() -> PhoneVault:
    return PhoneVault(TEST_SECRET)


@pytest.fixture(scope="session")
def seed_now() -> datetime:
    """The naive-UTC moment the demo data was loaded at; activities are relative to it."""
    return utcnow()


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
    conn = engine.connect()
    trans = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()
        trans.rollback()
        conn.close()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """The same tests run on the in-process store and on real Redis with a unique key prefix."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    rs = RedisStore.from_url(REDIS_URL, prefix=prefix)
    try:
        rs.ping()
    except Exception as exc:  # noqa: BLE001
        _missing(f"Redis ({exc.__class__.__name__})", "YINLING_TEST_REDIS_URL")
    yield rs
    for key in rs.client.scan_iter(match=prefix + "*"):
        rs.client.delete(key)
