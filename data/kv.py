"""A tiny key-value store protocol for state, dedup and rate limits: in-process or Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Store(Protocol):
    """What the bot needs from a key-value store. Values are str; TTLs in seconds."""

    def get(self, key: str) -> str | None: ...

    def get_many(self, keys: list[str]) -> list[str | None]: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def set_nx(self, key: str, value: str, ttl: int) -> bool: ...

    def delete(self, key: str) -> None: ...

    def delete_if(self, key: str, value: str) -> bool: ...

    def claim_two(self, first: str, first_value: str, second: str, second_value: str,
                  ttl: int) -> tuple[bool, bool]: ...

    def set_and_delete_if(self, key: str, value: str, ttl: int, other: str, other_value: str) -> None: ...

    def set_and_delete(self, key: str, value: str, ttl: int, other: str) -> None: ...

    def incr(self, key: str, ttl: int, amount: int = 1) -> int: ...

    def ping(self) -> bool: ...


class MemoryStore:
    """Thread-safe in-process store for embedded mode (one process only)."""

    def __init__(self, prefix: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._prefix = prefix
        self._clock = clock

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl: int | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(self._prefix + key)

    def get_many(self, keys: list[str]) -> list[str | None]:
        with self._lock:
            return [self._live(self._prefix + k) for k in keys]

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        with self._lock:
            self._data[self._prefix + key] = (value, self._expiry(ttl))

    def set_nx(self, key: str, value: str, ttl: int) -> bool:
        with self._lock:
            k = self._prefix + key
            if self._live(k) is not None:
                return False
            self._data[k] = (value, self._expiry(ttl))
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(self._prefix + key, None)

    def delete_if(self, key: str, value: str) -> bool:
        """Delete the key only while it holds `value` (a lock released by its owner only)."""
        with self._lock:
            k = self._prefix + key
            if self._live(k) != value:
                return False
            del self._data[k]
            return True

    def claim_two(self, first: str, first_value: str, second: str, second_value: str,
                  ttl: int) -> tuple[bool, bool]:
        """`set_nx` of `first`, and only when that succeeded `set_nx` of `second`, as one step."""
        with self._lock:
            a, b = self._prefix + first, self._prefix + second
            if self._live(a) is not None:
                return False, False
            self._data[a] = (first_value, self._expiry(ttl))
            if self._live(b) is not None:
                return True, False
            self._data[b] = (second_value, self._expiry(ttl))
            return True, True

    def set_and_delete_if(self, key: str, value: str, ttl: int, other: str, other_value: str) -> None:
        """`set(key, value, ttl)`, then `delete_if(other, other_value)`, as one step."""
        with self._lock:
            self._data[self._prefix + key] = (value, self._expiry(ttl))
            o = self._prefix + other
            if self._live(o) == other_value:
                del self._data[o]

    def set_and_delete(self, key: str, value: str, ttl: int, other: str) -> None:
        """`set(key, value, ttl)` and `delete(other)` together."""
        with self._lock:
            self._data[self._prefix + key] = (value, self._expiry(ttl))
            self._data.pop(self._prefix + other, None)

    def incr(self, key: str, ttl: int, amount: int = 1) -> int:
        """Add `amount` to a counter; the TTL starts with the first increment (a fixed window)."""
        with self._lock:
            k = self._prefix + key
            current = self._live(k)
            if current is None:
                self._data[k] = (str(amount), self._expiry(ttl))
                return amount
            value = int(current) + amount
            self._data[k] = (str(value), self._data[k][1])
            return value

    def ping(self) -> bool:
        return True


_DELETE_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_CLAIM_TWO = ("if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then return {0, 0} end "
              "if not redis.call('set', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return {1, 0} end "
              "return {1, 1}")
_SET_AND_DELETE_IF = ("redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
                      "if redis.call('get', KEYS[2]) == ARGV[3] then redis.call('del', KEYS[2]) end return 1")


class RedisStore:
    """The same protocol on Redis, shared by every worker; all keys get `prefix`."""

    def __init__(self, client: Any, prefix: str = "yinling:") -> None:
        self._r = client
        self._prefix = prefix
        self._delete_if: Any = None
        self._claim_two: Any = None
        self._set_and_delete_if: Any = None

    @classmethod
    def from_url(cls, url: str, prefix: str = "yinling:") -> RedisStore:
        import redis

        return cls(redis.Redis.from_url(url, decode_responses=True, socket_timeout=5), prefix)

    @property
    def client(self) -> Any:
        return self._r

    def get(self, key: str) -> str | None:
        value = self._r.get(self._prefix + key)
        return None if value is None else str(value)

    def get_many(self, keys: list[str]) -> list[str | None]:
        """One round trip (MGET) for all the keys."""
        if not keys:
            return []
        return [None if v is None else str(v) for v in self._r.mget([self._prefix + k for k in keys])]

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self._r.set(self._prefix + key, value, ex=ttl)

    def set_nx(self, key: str, value: str, ttl: int) -> bool:
        return bool(self._r.set(self._prefix + key, value, nx=True, ex=ttl))

    def delete(self, key: str) -> None:
        self._r.delete(self._prefix + key)

    def delete_if(self, key: str, value: str) -> bool:
        """Compare and delete in one round trip (a Lua script runs atomically on the server)."""
        if self._delete_if is None:
            self._delete_if = self._r.register_script(_DELETE_IF)
        return bool(self._delete_if(keys=[self._prefix + key], args=[value]))

    def claim_two(self, first: str, first_value: str, second: str, second_value: str,
                  ttl: int) -> tuple[bool, bool]:
        """`set_nx` of `first`, and only when that succeeded `set_nx` of `second`: one round trip (Lua)."""
        if self._claim_two is None:
            self._claim_two = self._r.register_script(_CLAIM_TWO)
        a, b = self._claim_two(keys=[self._prefix + first, self._prefix + second],
                               args=[first_value, second_value, ttl])
        return bool(int(a)), bool(int(b))

    def set_and_delete_if(self, key: str, value: str, ttl: int, other: str, other_value: str) -> None:
        """`set(key, value, ttl)`, then `delete_if(other, other_value)`: one round trip (Lua)."""
        if self._set_and_delete_if is None:
            self._set_and_delete_if = self._r.register_script(_SET_AND_DELETE_IF)
        self._set_and_delete_if(keys=[self._prefix + key, self._prefix + other], args=[value, ttl, other_value])

    def set_and_delete(self, key: str, value: str, ttl: int, other: str) -> None:
        """`set(key, value, ttl)` and `delete(other)`: one round trip (a pipeline)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.set(self._prefix + key, value, ex=ttl)
        pipe.delete(self._prefix + other)
        pipe.execute()

    def incr(self, key: str, ttl: int, amount: int = 1) -> int:
        k = self._prefix + key
        pipe = self._r.pipeline()
        pipe.incrby(k, amount)
        pipe.expire(k, ttl, nx=True)
        value, _ = pipe.execute()
        return int(value)

    def ping(self) -> bool:
        return bool(self._r.ping())
