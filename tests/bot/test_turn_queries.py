"""How many SQL statements a typical turn sends, through the whole pipeline (lock, dedup, identify, NLU, dialogs,
message log, commit), on SQLite and PostgreSQL. Counts, not times: each turn kind has a ceiling measured when
the turn was made cheap (bench/turn_bench.py prints the same counts with the CPU per turn), so a change that
reads the same rows again, or logs a message in two statements, fails here. Transaction control (SQLite's
`BEGIN IMMEDIATE`) is not counted, so both databases have the same ceilings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from bot.config import load_config
from bot.pipeline import SORRY, Inbound, Pipeline
from bot.runtime import Runtime, build_runtime
from data import services
from data.crypto import PhoneVault
from data.migrate import upgrade
from data.models import Activity, ChannelIdentity, Consent, MessageLog, Signup, SignupStatus, Volunteer
from data.models_push import Delivery, DeliveryStatus, Notice, NoticeStatus
from data.records import pending_reminder, reminder_waiting
from data.seed import load_demo
from data.timeutil import utcnow
from dialogs import to_plain
from tests.conftest import TEST_SECRET, new_database_url

# Statements per turn kind, at most (measured: the same on both databases).
CEILING = {
    "search": 5,  # who, last_inbound_at (once a minute), privacy asked? (once: then in the state), search, log
    "details": 3,  # who (and whether a reminder waits), activity with its place's name, places left and own
    # sign-up (one query), log
    "signup": 8,  # who, listed names (one query), own sign-up? (twice), privacy, overlap, places left, log
    "confirm": 10,  # who (a reminder?), last_inbound_at, lock, own sign-up?, overlap, places, insert, place,
    # family helpers to copy to (亲情助手), log
    "menu": 2,  # who, log
    "mine": 3,  # who, sign-ups, log
    "reminder": 7,  # who (a reminder waits), last_inbound_at, the reminder with its activity and sign-up,
    # places left, place, the answer, log
}
DAY = [("search", "最近有什么活动", "活动有"), ("details", "2", "回复1报名"), ("signup", "报名", "确认报名"),
       ("confirm", "1", "报好了"), ("menu", "0", "找活动"), ("mine", "我的活动", "您报名的活动")]
_NLU: list[Any] = []


class Statements:
    """Counts what the engine sends to the database, transaction control aside."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.sent.append(statement)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """The runtime of one process on a fresh, migrated demo database (an in-process store)."""
    url = new_database_url(request.param, tmp_path_factory.mktemp("turns"), request)
    runtime = build_runtime(load_config(env={}, overrides={"database.url": url, "secret_key": TEST_SECRET}),
                            ping_when_idle=True)  # as the web app's (bot.app)
    upgrade(runtime.engine)
    with Session(runtime.engine) as s, s.begin():
        load_demo(s, utcnow(), PhoneVault(TEST_SECRET))
    if not _NLU:  # jieba takes seconds to load: one parser for both databases
        runtime.load_nlu()
        _NLU.append(runtime.nlu)
    runtime._nlu = _NLU[0]
    yield runtime
    runtime.engine.dispose()


def person(rt: Runtime, openid: str, now: datetime) -> int:
    """A WeChat volunteer who agreed to the privacy terms earlier, with no home place (searches go everywhere)."""
    with rt.engine.begin() as conn:
        vid = int(conn.execute(insert(Volunteer).returning(Volunteer.id), {
            "name": "测试", "created_at": now, "skills": [], "categories": [], "availability": 0, "max_load": 2,
            "recommend_opt_out": False, "notices_opt_out": False, "elder_mode": False}).scalar_one())
        conn.execute(insert(ChannelIdentity), {"volunteer_id": vid, "channel": "wechat", "external_id": openid,
                                               "created_at": now})
        conn.execute(insert(Consent), [{"volunteer_id": vid, "kind": k, "granted": True, "channel": "wechat",
                                        "at": now} for k in ("privacy", "notices")])
    return vid


def remind(rt: Runtime, vid: int, at: datetime) -> int:
    """What the push layer leaves after the day-before reminder of the person's sign-up; the delivery's id."""
    with rt.sessions() as s:
        signup = s.scalars(select(Signup).where(Signup.volunteer_id == vid,
                                                Signup.status == SignupStatus.CONFIRMED)).one()
        notice = Notice(kind="reminder_day", title="活动提醒", body="提醒您：明天有您报名的活动。", audience={},
                        activity_id=signup.activity_id, status=NoticeStatus.DONE, total=1, created_at=at)
        s.add(notice)
        s.flush()
        d = Delivery(notice_id=notice.id, volunteer_id=vid, status=DeliveryStatus.SENT, channel="wechat",
                     updated_at=at, sent_at=at, attempts=1)
        s.add(d)
        s.commit()
        return int(d.id)


def count(rt: Runtime, openid: str, text: str, at: datetime, msg_id: int) -> tuple[list[str], str]:
    """Statements of one turn, and its reply."""
    listener = Statements()
    event.listen(rt.engine, "before_cursor_execute", listener)
    try:
        out = Pipeline(rt).handle(Inbound(channel="wechat", sender=openid, text=text, dedup_key=f"{openid}-{msg_id}"), now=at)
    finally:
        event.remove(rt.engine, "before_cursor_execute", listener)
    return listener.sent, to_plain(out.replies)


def test_each_kind_of_turn_stays_within_its_statements(rt: Runtime) -> None:
    now = utcnow()
    openid = f"turns-{rt.engine.dialect.name}"
    vid = person(rt, openid, now)
    seen: dict[str, int] = {}
    at = now
    for n, (kind, text, expect) in enumerate(DAY, 1):
        sent, reply = count(rt, openid, text, at, n)
        assert expect in reply, (kind, reply)  # the turn did its work: a failed turn is cheap too
        seen[kind] = len(sent)
        at += timedelta(seconds=20)
    delivery_id = remind(rt, vid, at)
    sent, reply = count(rt, openid, "1", at + timedelta(minutes=5), 99)
    assert "会到" in reply, reply
    seen["reminder"] = len(sent)
    with rt.sessions() as s:
        assert s.get(Delivery, delivery_id).answer == "1"  # type: ignore[union-attr]
        assert s.scalar(select(Signup.status).where(Signup.volunteer_id == vid)) == SignupStatus.CONFIRMED
    over = {k: f"{seen[k]} > {CEILING[k]}" for k in CEILING if seen[k] > CEILING[k]}
    assert not over, f"turns that send more statements than they should: {over} (all: {seen})"


def test_a_turn_logs_both_directions_in_one_statement(rt: Runtime) -> None:
    now = utcnow()
    openid = f"log-{rt.engine.dialect.name}"
    vid = person(rt, openid, now)
    sent, _reply = count(rt, openid, "我的活动", now, 1)
    assert sum(1 for s in sent if "INSERT INTO message_log" in s) == 1
    with rt.sessions() as s:
        rows = s.execute(select(MessageLog.direction, MessageLog.text).where(MessageLog.volunteer_id == vid)
                         .order_by(MessageLog.id)).all()
    assert [d for d, _t in rows] == ["in", "out"]
    assert rows[0].text == "我的活动"


def test_a_hand_off_transcript_still_holds_the_message_that_asked_for_a_person(rt: Runtime) -> None:
    """The incoming line is written with the reply at the end of the turn, but a hand-off reads the log
    before that: it must find the message that asked for a person."""
    now = utcnow()
    openid = f"handoff-{rt.engine.dialect.name}"
    vid = person(rt, openid, now)
    calls: list[tuple[Any, ...]] = []

    class Push:
        def handoff_requested(self, *args: Any) -> None:
            calls.append(args)

    pipeline = Pipeline(rt, push=Push())
    pipeline.handle(Inbound(channel="wechat", sender=openid, text="我要找人工", dedup_key="h1"), now=now)
    assert calls, "no hand-off"
    transcript = calls[0][2]
    assert transcript and transcript[-1] == "in: 我要找人工", transcript
    with rt.sessions() as s:
        directions = list(s.scalars(select(MessageLog.direction).where(MessageLog.volunteer_id == vid)
                                    .order_by(MessageLog.id)))
    assert directions == ["in", "out"]  # written once each, not twice


@pytest.mark.parametrize("case", ["waiting", "answered", "too old", "cancelled", "not a reminder", "over"])
def test_the_pipelines_reminder_probe_agrees_with_the_dialogs_query(rt: Runtime, case: str) -> None:
    """The who-is-it query asks whether a reminder waits (`reminder_waiting`) so that a `1` with nothing
    waiting costs no query; it must find exactly what `pending_reminder` finds."""
    now = utcnow()
    vid = person(rt, f"probe-{case}-{rt.engine.dialect.name}", now)
    with rt.sessions() as s:
        act = s.scalars(select(Activity).where(Activity.starts_at > now + timedelta(hours=2))
                        .order_by(Activity.starts_at)).first()
        assert act is not None
        res = services.sign_up(s, volunteer_id=vid, activity_id=act.id, now=now)
        s.commit()
    sent = now - timedelta(hours=31) if case == "too old" else now - timedelta(minutes=5)
    delivery_id = remind(rt, vid, sent)
    with rt.sessions() as s:
        d = s.get(Delivery, delivery_id)
        assert d is not None
        if case == "answered":
            d.answer = "1"
        if case == "cancelled":
            s.get(Signup, res.signup.id).status = SignupStatus.CANCELLED  # type: ignore[union-attr]
        if case == "not a reminder":
            s.get(Notice, d.notice_id).kind = "notice"  # type: ignore[union-attr]
        s.commit()
    at = act.starts_at + timedelta(minutes=1) if case == "over" else now
    with rt.sessions() as s:
        probed = bool(s.scalar(select(reminder_waiting(vid, at))))
        found = pending_reminder(s, vid, at)
    assert probed == (found is not None) == (case == "waiting")


def _drop_connections(rt: Runtime) -> int:
    """What a PostgreSQL restart does to the pool: every other backend of the database is ended."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    killer = create_engine(rt.engine.url, poolclass=NullPool)
    try:
        with killer.connect() as conn:
            return len(conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())
    finally:
        killer.dispose()


def test_a_turn_after_the_database_dropped_its_connection_is_answered(rt: Runtime) -> None:
    """Pooled connections are not pinged on every checkout (data.db): when the server ended the connection
    between two turns, the next turn's first statement finds out and runs again on a new connection; the
    person gets the real answer and both lines are logged."""
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("the server ending a connection is PostgreSQL's")
    now = utcnow()
    openid = "dropped-postgresql"
    vid = person(rt, openid, now)
    pipeline = Pipeline(rt)
    pipeline.handle(Inbound(channel="wechat", sender=openid, text="0", dedup_key="drop-1"), now=now)
    assert _drop_connections(rt) >= 1
    out = pipeline.handle(Inbound(channel="wechat", sender=openid, text="我的活动", dedup_key="drop-2"),
                          now=now + timedelta(seconds=5))
    assert out.replies and out.replies != [SORRY], to_plain(out.replies)
    with rt.sessions() as s:
        texts = list(s.scalars(select(MessageLog.text).where(MessageLog.volunteer_id == vid,
                                                             MessageLog.direction == "in").order_by(MessageLog.id)))
    assert texts == ["0", "我的活动"]


def test_a_connection_idle_for_a_while_is_checked_before_use(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the turn (workers, the admin), a connection that sat idle is pinged when it is handed out, and
    replaced when the server has ended it."""
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("the server ending a connection is PostgreSQL's")
    from sqlalchemy import text

    from data import db

    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    assert _drop_connections(rt) >= 1
    with rt.engine.connect() as conn:
        assert conn.execute(text("SELECT 2")).scalar() == 2


def test_a_turn_makes_two_store_round_trips(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn lock and dedup marker claimed together with the dialog state read; the replies and the state
    stored with the lock's release: two calls to the store (each one Redis round trip), whatever the turn does
    (the first turn of a person not known to the store yet reads the state on its own)."""
    now = utcnow()
    openid = f"store-{rt.engine.dialect.name}"
    person(rt, openid, now)
    calls: list[str] = []
    for name in ("get", "get_many", "set", "set_nx", "delete", "delete_if", "incr", "claim_two_and_peek", "write_and_delete_if", "set_and_delete"):
        method = getattr(rt.store, name)

        def counted(*a: Any, _m: Any = method, _n: str = name, **kw: Any) -> Any:
            calls.append(_n)
            return _m(*a, **kw)

        monkeypatch.setattr(rt.store, name, counted)
    pipeline = Pipeline(rt)
    for n, (_kind, text, _expect) in enumerate(DAY, 1):
        calls.clear()
        pipeline.handle(Inbound(channel="wechat", sender=openid, text=text, dedup_key=f"{openid}-{n}"),
                        now=now + timedelta(seconds=20 * n))
        expected = ["claim_two_and_peek", "write_and_delete_if"] + (["get"] if n == 1 else [])
        assert sorted(calls) == sorted(expected), (text, calls)


def test_workers_and_commands_check_every_connection_they_take(rt: Runtime) -> None:
    """Only the web app's pool skips the ping of a connection used a moment ago (its turns retry); the engine of
    a worker or a command pings on every checkout, so a dropped connection never fails a job."""
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("the server ending a connection is PostgreSQL's")
    from sqlalchemy import text

    from data.db import make_engine

    engine = make_engine(rt.engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert _drop_connections(rt) >= 1
        with engine.connect() as conn:  # used a moment ago, dropped since: replaced all the same
            assert conn.execute(text("SELECT 2")).scalar() == 2
    finally:
        engine.dispose()
