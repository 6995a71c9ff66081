"""The shared send-rate limiter: tokens taken from Redis in blocks, never more than the limit per second
across processes (and threads), and one Redis round trip per block rather than per message."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import redis as redis_lib

from bot.push.senders import RateLimiter
from data.kv import MemoryStore, RedisStore


class Clock:
    """A second that only moves when someone sleeps (sleeping means: wait for the next window)."""

    def __init__(self, t: float = 1_000_000.25) -> None:
        self.t = t
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)


class CountingRedis:
    """The real client, counting the round trips (pipelines) the limiter makes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.round_trips = 0

    def pipeline(self, transaction: bool = True) -> Any:
        self.round_trips += 1
        return self.client.pipeline(transaction=transaction)


def _limiter(r: Any, prefix: str, clock: Clock, limit: int, block: int | None = None) -> RateLimiter:
    return RateLimiter(RedisStore(r, prefix), {"wechat": limit}, clock=clock, sleep=clock.sleep, block=block)


def test_two_workers_share_the_limit_and_take_blocks(redis_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"test:{uuid.uuid4().hex[:6]}:"
    clock = Clock()
    counted = CountingRedis(client)
    a = _limiter(counted, prefix, clock, limit=20, block=6)
    b = _limiter(client, prefix, clock, limit=20, block=6)
    window = int(clock.t)
    assert all(a._take("wechat", window, 20) for _ in range(12))  # noqa: SLF001
    assert counted.round_trips == 2  # a block per round trip, not one per message
    granted = [lim._take("wechat", window, 20) for lim in (a, b) * 10]  # noqa: SLF001
    assert sum(granted) == 8  # never more than the limit in one second, across both workers
    clock.t += 1.0  # next second: tokens again
    assert a._take("wechat", int(clock.t), 20) and b._take("wechat", int(clock.t), 20)  # noqa: SLF001
    for key in client.scan_iter(match=prefix + "*"):
        assert 0 < client.ttl(key) <= 2  # the counters expire by themselves
        client.delete(key)


def test_acquire_waits_for_the_next_second_when_the_limit_is_used(redis_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"test:{uuid.uuid4().hex[:6]}:"
    clock = Clock(2_000_000.5)

    def sleep(seconds: float) -> None:
        clock.sleeps.append(seconds)
        clock.t = int(clock.t) + 1.0  # the wait ends in the next window

    lim = RateLimiter(RedisStore(client, prefix), {"wechat": 5}, clock=clock, sleep=sleep, block=2)
    for _ in range(12):
        lim.acquire("wechat")
    assert clock.sleeps == [0.5, 1.0]  # 5 in the first second, 5 in the next, 2 in the third
    default = RateLimiter(MemoryStore(), {})
    assert (default.block_size(300), default.block_size(10_000), default.block_size(1)) == (15, 64, 1)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def test_threads_of_one_worker_never_exceed_the_limit(redis_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"test:{uuid.uuid4().hex[:6]}:"
    clock = Clock()
    lim = _limiter(client, prefix, clock, limit=50, block=7)
    window = int(clock.t)
    granted: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            ok = lim._take("wechat", window, 50)  # noqa: SLF001
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 50
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def test_without_redis_every_message_counts_in_the_store() -> None:
    clock = Clock()
    store = MemoryStore()
    lim = RateLimiter(store, {"wechat": 3, "sms": 0}, clock=clock, sleep=clock.sleep)
    window = int(clock.t)
    assert [lim._take("wechat", window, 3) for _ in range(5)] == [True, True, True, False, False]  # noqa: SLF001
    lim.acquire("sms")  # no limit configured: never waits
    assert clock.sleeps == []
