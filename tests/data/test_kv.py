"""The state store protocol, the same tests on the in-process store and on real Redis."""

from __future__ import annotations

import time
import uuid

import pytest

from data.kv import MemoryStore, RedisStore, Store
from tests.conftest import REDIS_URL, RUN_PREFIX, _missing


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


def test_delete_if_deletes_only_the_owners_value(store: Store) -> None:
    store.set("lock", "turn-a", ttl=30)
    assert store.delete_if("lock", "turn-b") is False  # another owner's lock stays
    assert store.get("lock") == "turn-a"
    assert store.delete_if("lock", "turn-a") is True
    assert store.get("lock") is None
    assert store.delete_if("lock", "turn-a") is False  # gone already
    assert store.delete_if("never-set", "x") is False


def test_claim_two_and_peek_takes_the_second_only_with_the_first(store: Store) -> None:
    assert store.claim_two_and_peek("lock", "turn-a", "dedup", "pending:a", 30, "who", "dlg:")[:2] == (True, True)
    assert (store.get("lock"), store.get("dedup")) == ("turn-a", "pending:a")
    # the first is taken: the second is not even tried
    store.delete("dedup")
    assert store.claim_two_and_peek("lock", "turn-b", "dedup", "pending:b", 30, "who", "dlg:")[:2] == (False, False)
    assert (store.get("lock"), store.get("dedup")) == ("turn-a", None)
    # the first is free, the second taken (a retry of a message already answered): the first is still taken
    store.delete("lock")
    store.set("dedup", "replies", ttl=30)
    assert store.claim_two_and_peek("lock", "turn-c", "dedup", "pending:c", 30, "who", "dlg:")[:2] == (True, False)
    assert (store.get("lock"), store.get("dedup")) == ("turn-c", "replies")


def test_write_and_delete_if_releases_only_the_owners_lock(store: Store) -> None:
    store.set("lock", "turn-a", ttl=30)
    store.set("who", "7", ttl=30)
    store.write_and_delete_if([("dedup", "replies-b", 30), ("state", "{}", 30)], "lock", "turn-b")
    assert (store.get("dedup"), store.get("state"), store.get("lock")) == ("replies-b", "{}", "turn-a")
    # another owner's lock stays; a None value deletes its key
    store.write_and_delete_if([("dedup", "replies-a", 30), ("who", None, 0), ("state", "新", 30)], "lock", "turn-a")
    assert (store.get("dedup"), store.get("who"), store.get("state"), store.get("lock")) == ("replies-a", None, "新", None)
    store.write_and_delete_if([("other", "x", 1)], "never-set", "x")
    assert store.get("other") == "x"
    time.sleep(1.3)
    assert store.get("other") is None  # the TTL holds


def test_claim_two_and_peek_reads_what_the_pointer_names_with_the_claim(store: Store) -> None:
    # nobody known yet: both claimed, nothing read
    assert store.claim_two_and_peek("lock", "turn-a", "dedup", "pending:a", 30, "who", "dlg:") == (
        True, True, None, None)
    store.write_and_delete_if([("who", "42", 30)], "lock", "turn-a")
    # the pointer names volunteer 42, who has no state yet
    assert store.claim_two_and_peek("lock", "turn-b", "dedup2", "pending:b", 30, "who", "dlg:") == (
        True, True, "42", None)
    store.write_and_delete_if([("dlg:42", '{"flow":"search"}', 30)], "lock", "turn-b")
    # the dedup marker already there (a retry): the lock is still taken, and the state read
    store.set("dedup3", "replies", ttl=30)
    assert store.claim_two_and_peek("lock", "turn-c", "dedup3", "pending:c", 30, "who", "dlg:") == (
        True, False, "42", '{"flow":"search"}')
    assert store.get("dedup3") == "replies"
    # the lock is held: nothing claimed, nothing read
    assert store.claim_two_and_peek("lock", "turn-d", "dedup4", "pending:d", 30, "who", "dlg:") == (
        False, False, None, None)
    assert (store.get("lock"), store.get("dedup4")) == ("turn-c", None)


def test_set_and_delete(store: Store) -> None:
    store.set("window", "old", ttl=30)
    store.set("unreachable", "48h", ttl=30)
    store.set_and_delete("window", "new", 1, "unreachable")
    assert (store.get("window"), store.get("unreachable")) == ("new", None)
    store.set_and_delete("window", "newer", 1, "never-set")  # nothing to delete is fine
    assert store.get("window") == "newer"
    time.sleep(1.3)
    assert store.get("window") is None  # the TTL holds


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


@pytest.mark.redis
def test_two_redis_prefixes_share_one_redis_without_meeting() -> None:
    """Two deployments' stores on one Redis: the same logical keys never collide, and every key each
    operation writes starts with its store's prefix."""
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    tag = uuid.uuid4().hex[:8]
    a = RedisStore.from_url(REDIS_URL or "", prefix=f"{RUN_PREFIX}{tag}-a:")
    b = RedisStore.from_url(REDIS_URL or "", prefix=f"{RUN_PREFIX}{tag}-b:")
    try:
        for store, value in ((a, "A"), (b, "B")):
            store.set("state:1", value, ttl=60)
            assert store.set_nx("dedup:m1", value, ttl=60)  # each deployment claims the message once
            assert store.incr("rate:wechat", ttl=60, amount=3) == 3
        assert a.get_many(["state:1", "dedup:m1"]) == ["A", "A"]
        assert b.get_many(["state:1", "dedup:m1"]) == ["B", "B"]
        written = {k for k in a.client.scan_iter(match=f"{RUN_PREFIX}{tag}-*")}
        assert written == {f"{RUN_PREFIX}{tag}-{d}:{k}" for d in "ab" for k in ("state:1", "dedup:m1", "rate:wechat")}
    finally:
        for key in a.client.scan_iter(match=f"{RUN_PREFIX}{tag}-*"):
            a.client.delete(key)
