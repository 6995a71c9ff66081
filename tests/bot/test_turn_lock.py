"""The pipeline's per-person turn lock, the one every channel goes through (memory store and real Redis)."""

from __future__ import annotations

import logging
import threading

import pytest

from bot.config import load_config
from bot.pipeline import Pipeline
from bot.runtime import Runtime
from data.crypto import PhoneVault
from data.kv import Store

from ..conftest import TEST_SECRET

PHONE = "13800138000"


def pipeline(store: Store, vault: PhoneVault) -> Pipeline:
    """A pipeline over `store` alone: the lock needs no database and no NLU."""
    config = load_config(env={}, overrides={"secret_key": TEST_SECRET})
    return Pipeline(Runtime(config, None, None, store, vault))  # type: ignore[arg-type]


def hold(p: Pipeline, channel: str, sender: str, rid: str, events: list[str], entered: threading.Event,
         release: threading.Event) -> threading.Thread:
    """A turn in another thread that takes the lock, says so, and keeps it until `release`."""
    def run() -> None:
        with p.one_turn_at_a_time(channel, sender, rid):
            events.append(f"{rid}-in")
            entered.set()
            release.wait(10)
            events.append(f"{rid}-out")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert entered.wait(10)
    return t


@pytest.mark.parametrize(("channel", "sender"), [("wechat", "oOpenId-1"), ("sms", PHONE)])
def test_the_same_persons_next_turn_waits_for_the_previous_one(store: Store, vault: PhoneVault, channel: str,
                                                                sender: str) -> None:
    p = pipeline(store, vault)
    events: list[str] = []
    release = threading.Event()
    first = hold(p, channel, sender, "a", events, threading.Event(), release)
    second_in = threading.Event()

    def second() -> None:
        with p.one_turn_at_a_time(channel, sender, "b"):
            events.append("b-in")
            second_in.set()

    t = threading.Thread(target=second, daemon=True)
    t.start()
    assert not second_in.wait(0.3)  # the first turn still runs
    release.set()
    first.join(10)
    t.join(10)
    assert events == ["a-in", "a-out", "b-in"]
    assert store.get(p.turn_key(channel, sender)) is None  # released by its owner


def test_another_person_does_not_wait(store: Store, vault: PhoneVault) -> None:
    p = pipeline(store, vault)
    release = threading.Event()
    turns = [hold(p, "sms", PHONE, "a", [], threading.Event(), release)]
    try:  # each `hold` fails unless its turn starts while the first one still runs
        turns.append(hold(p, "sms", "13900139000", "c", [], threading.Event(), release))  # another number
        turns.append(hold(p, "wechat", PHONE, "d", [], threading.Event(), release))  # another channel
    finally:
        release.set()
        for t in turns:
            t.join(10)


def test_a_channel_that_widens_its_turn_does_not_wait_for_itself(store: Store, vault: PhoneVault,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """SMS holds the lock across its opt-out words and the reply; the pipeline's own turn inside goes on."""
    p = pipeline(store, vault)
    key = p.turn_key("sms", PHONE)
    with caplog.at_level(logging.WARNING, logger="yinling.pipeline"):
        with p.one_turn_at_a_time("sms", PHONE, "outer", wait=0.0):
            with p.one_turn_at_a_time("sms", PHONE, "inner", wait=0.0):
                assert store.get(key) == "outer"
            assert store.get(key) == "outer"  # the nested turn does not release the channel's lock
        assert store.get(key) is None
    assert "still running" not in caplog.text


def test_a_phone_number_is_not_in_the_store_key(store: Store, vault: PhoneVault) -> None:
    p = pipeline(store, vault)
    key = p.turn_key("sms", "+86 138-0013-8000")
    assert key == p.turn_key("sms", PHONE)  # the same number however it is written
    assert "138" not in key.removeprefix("turn:sms:")
