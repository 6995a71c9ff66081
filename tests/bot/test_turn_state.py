"""The dialog state read with the turn lock and written with its release (bot.pipeline): on the in-process
store and on real Redis. A turn that fails leaves the conversation where it was; a state read for a volunteer
the sender no longer is never used."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.config import load_config
from bot.pipeline import SORRY, Inbound, Pipeline, who_key
from bot.runtime import Runtime, build_runtime
from data import profiles
from data.crypto import PhoneVault
from data.kv import Store
from data.migrate import upgrade
from data.seed import load_demo
from data.timeutil import utcnow
from dialogs import state as states
from dialogs import to_plain
from tests.bot.test_turn_queries import person
from tests.conftest import TEST_SECRET, new_database_url

_NLU: list[Any] = []


@pytest.fixture()
def rt(store: Store, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A demo database (SQLite) with the parametrized store (in-process, or Redis with its own prefix)."""
    url = new_database_url("sqlite", tmp_path, request)
    runtime = build_runtime(load_config(env={}, overrides={"database.url": url, "secret_key": TEST_SECRET}))
    runtime.store = store
    upgrade(runtime.engine)
    with Session(runtime.engine) as s, s.begin():
        load_demo(s, utcnow(), PhoneVault(TEST_SECRET))
    if not _NLU:
        runtime.load_nlu()
        _NLU.append(runtime.nlu)
    runtime._nlu = _NLU[0]
    yield runtime
    runtime.engine.dispose()


def say(pipeline: Pipeline, openid: str, text: str, n: int) -> str:
    out = pipeline.handle(Inbound(channel="wechat", sender=openid, text=text, dedup_key=f"{openid}-{n}"),
                          now=utcnow() + timedelta(seconds=20 * n))
    return to_plain(out.replies)


def test_a_failed_turn_leaves_the_conversation_where_it_was(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    openid = "state-failed"
    vid = person(rt, openid, utcnow())
    pipeline = Pipeline(rt)
    assert "活动有" in say(pipeline, openid, "最近有什么活动", 1)
    before = rt.store.get(states.key(vid))
    assert before is not None and states.State.from_json(before).listed

    def broken(*_a: Any, **_kw: Any) -> None:
        raise RuntimeError("the database went away at the end of the turn")

    monkeypatch.setattr("bot.pipeline.write_queued_log", broken)
    assert say(pipeline, openid, "2", 2) == to_plain([SORRY])
    assert rt.store.get(states.key(vid)) == before  # nothing committed: the list is still on screen
    monkeypatch.setattr("bot.pipeline.write_queued_log", profiles.write_queued_log)
    assert "回复1报名" in say(pipeline, openid, "2", 3)  # so 2 still picks the second activity of that list


def test_a_state_read_for_someone_else_is_not_used(rt: Runtime) -> None:
    """The store's pointer names the volunteer a sender was last time; when the sender is someone else now
    (their data deleted, a new volunteer made), that volunteer's state must not be read as theirs."""
    openid = "state-pointer"
    vid = person(rt, openid, utcnow())
    other = person(rt, "state-pointer-other", utcnow())
    pipeline = Pipeline(rt)
    turn_key = pipeline.turn_key("wechat", openid)
    # the other volunteer is in the middle of a sign-up: 1 would confirm it
    busy = states.State(flow="signup", step="confirm", data={"activity_id": 1, "party": 1})
    rt.store.set(states.key(other), busy.to_json(), 3600)
    rt.store.set(who_key(turn_key), str(other), 3600)
    reply = say(pipeline, openid, "1", 1)
    assert "报好了" not in reply and "报名成功" not in reply, reply
    assert rt.store.get(states.key(other)) == busy.to_json()  # untouched
    assert rt.store.get(who_key(turn_key)) == str(vid)  # names the sender's own volunteer again
    assert rt.store.get(states.key(vid)) is not None
