"""The state store protocol, the same tests on the in-process store and on real Redis."""

from __future__ import annotations

import time

from data.kv import MemoryStore, Store


def test_get_set_delete(store: Store) -> None:
    assert store.get("a") is None
    store.set("a", "1")
    assert store.get("a") == "1"
    store.set("a", "二")
    assert store.get("a") == "二"
    store.delete("a")
    assert store.get("a") is None
    store.delete("never-set")  # deleting a missing key is fine


def test_set_nx_only_once(store: Store) -> None:
    assert store.set_nx("k", "first", ttl=30) is True
    assert store.set_nx("k", "second", ttl=30) is False
    assert store.get("k") == "first"


def test_ttl_expires(store: Store) -> None:
    store.set("t", "x", ttl=1)
    assert store.set_nx("n", "x", ttl=1)
    assert store.get("t") == "x"
    time.sleep(1.3)
    assert store.get("t") is None
    assert store.set_nx("n", "y", ttl=1) is True


def test_incr_counts_within_window(store: Store) -> None:
    assert [store.incr("c", ttl=1) for _ in range(3)] == [1, 2, 3]
    time.sleep(1.3)
    assert store.incr("c", ttl=1) == 1


def test_incr_by_an_amount(store: Store) -> None:
    assert store.incr("b", 5, 4) == 4
    assert store.incr("b", 5, 3) == 7
    assert store.incr("b", 5) == 8


def test_get_many(store: Store) -> None:
    store.set("m1", "a")
    store.set("m3", "c")
    assert store.get_many(["m1", "m2", "m3"]) == ["a", None, "c"]
    assert store.get_many([]) == []


def test_ping(store: Store) -> None:
    assert store.ping() is True


def test_memory_store_prefix_isolates() -> None:
    shared_clock = [0.0]
    a = MemoryStore(prefix="a:", clock=lambda: shared_clock[0])
    a.set("x", "1", ttl=5)
    shared_clock[0] = 4.9
    assert a.get("x") == "1"
    shared_clock[0] = 5.0
    assert a.get("x") is None
