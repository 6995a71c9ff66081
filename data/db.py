"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, ping_when_idle: bool = False, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and `BEGIN IMMEDIATE`.

    PostgreSQL connections are pinged whenever the pool hands one out (`pool_pre_ping`), or with
    `ping_when_idle` only after they sat idle a while (`_ping_when_idle`: for the webhook, whose turns run
    their first statement again on a new connection when the old one turns out dead).

    `BEGIN IMMEDIATE` makes every SQLite transaction take the write lock up front, so two
    sign-ups for the last place are serialized instead of failing with a stale snapshot.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it consistent; saves an fsync per commit
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            _ensure_math(dbapi_conn)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if not ping_when_idle or kwargs.get("pool_pre_ping"):
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    kwargs.setdefault("pool_recycle", RECYCLE_SECONDS)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 10.0  # a pooled connection unused this long is pinged before it is handed out again
RECYCLE_SECONDS = 1800  # and one older than this is replaced


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection only when it has been idle a while, instead of on every checkout.

    `pool_pre_ping` costs a round trip per checkout: per turn, for a connection used a moment ago. A
    connection that sat idle (the server restarted, a firewall dropped it) is pinged and replaced if dead;
    one in constant use is handed out as it is, and a turn whose first statement finds it dead after all
    (the server went away between two turns) runs that statement again on a new connection
    (`bot.pipeline`). Elsewhere (the admin pages on the same engine) such a first statement fails once; the
    pool then replaces all its connections.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:  # noqa: BLE001 - any failure: the pool replaces the connection
            raise exc.DisconnectionError() from e


def _ensure_math(dbapi_conn: Any) -> None:
    """Distance search needs sin, cos, asin, sqrt, power and radians in SQL: SQLite has them when built
    with its math functions (3.35+, most builds); otherwise Python's are registered on the connection."""
    try:
        dbapi_conn.execute("SELECT asin(sqrt(power(sin(radians(1.0)), 2))) + cos(0.0)").fetchone()
    except sqlite3.OperationalError:
        for name, nargs, fn in (("sin", 1, math.sin), ("cos", 1, math.cos), ("asin", 1, math.asin),
                                ("sqrt", 1, math.sqrt), ("power", 2, math.pow), ("radians", 1, math.radians)):
            dbapi_conn.create_function(name, nargs, fn, deterministic=True)


_HELD = "held_rows"  # session.info: strong references to what the session loaded (`hold_loaded`)


def hold_loaded(session: Session) -> None:
    """Keep every object this session loads until the session ends, so a row read twice in one turn is read
    from the database once (SQLAlchemy's identity map holds objects only weakly: an activity read to name it
    and read again to show it was otherwise gone in between). For short sessions only: one inbound turn."""
    session.info[_HELD] = []


@event.listens_for(Session, "loaded_as_persistent")
def _hold(session: Session, instance: Any) -> None:
    held = session.info.get(_HELD)
    if held is not None:
        held.append(instance)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (replies are rendered afterwards)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back afterwards, whatever the code in it commits
    (commits become savepoints): tests and the conversation evaluator start each case from the same data."""
    conn = engine.connect()
    trans = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()
        trans.rollback()
        conn.close()
