"""A tiny key-value store protocol for state, dedup and rate limits: in-process or Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

Write = tuple[str, str | None, int]  # (key, value, ttl seconds); a value of None deletes the key


class Store(Protocol):
    """What the bot needs from a key-value store. Values are str; TTLs in seconds."""

    def get(self, key: str) -> str | None: ...

    def get_many(self, keys: list[str]) -> list[str | None]: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def set_nx(self, key: str, value: str, ttl: int) -> bool: ...

    def delete(self, key: str) -> None: ...

    def delete_if(self, key: str, value: str) -> bool: ...

    def set_and_delete(self, key: str, value: str, ttl: int, other: str) -> None: ...

    def claim_two_and_peek(self, first: str, first_value: str, second: str, second_value: str, ttl: int,
                           pointer: str, target_prefix: str) -> tuple[bool, bool, str | None, str | None]: ...

    def write_and_delete_if(self, writes: list[Write], other: str, other_value: str) -> None: ...

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

    def set_and_delete(self, key: str, value: str, ttl: int, other: str) -> None:
        """`set(key, value, ttl)` and `delete(other)` together."""
        with self._lock:
            self._data[self._prefix + key] = (value, self._expiry(ttl))
            self._data.pop(self._prefix + other, None)

    def claim_two_and_peek(self, first: str, first_value: str, second: str, second_value: str, ttl: int,
                           pointer: str, target_prefix: str) -> tuple[bool, bool, str | None, str | None]:
        """`set_nx` of `first`, and only when that succeeded `set_nx` of `second`; with the first claim, the
        value of `pointer` and of the key it names (`target_prefix` + that value); as one step."""
        with self._lock:
            a, b = self._prefix + first, self._prefix + second
            if self._live(a) is not None:
                return False, False, None, None
            self._data[a] = (first_value, self._expiry(ttl))
            got2 = self._live(b) is None
            if got2:
                self._data[b] = (second_value, self._expiry(ttl))
            named = self._live(self._prefix + pointer)
            target = None if named is None else self._live(self._prefix + target_prefix + named)
            return True, got2, named, target

    def write_and_delete_if(self, writes: list[Write], other: str, other_value: str) -> None:
        """Each write (set with its TTL, or delete for None), then `delete_if(other, other_value)`, as one step."""
        with self._lock:
            for key, value, ttl in writes:
                if value is None:
                    self._data.pop(self._prefix + key, None)
                else:
                    self._data[self._prefix + key] = (value, self._expiry(ttl))
            o = self._prefix + other
            if self._live(o) == other_value:
                del self._data[o]

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
# KEYS: lock, dedup marker, pointer; ARGV: lock value, marker value, ttl, the prefix of the key the pointer names.
_CLAIM_TWO_AND_PEEK = ("if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then return {0, 0} end "
                       "local got2 = 0 "
                       "if redis.call('set', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then got2 = 1 end "
                       "local named = redis.call('get', KEYS[3]) "
                       "if not named then return {1, got2} end "
                       "return {1, got2, named, redis.call('get', ARGV[4] .. named)}")
# KEYS: the keys written, then the lock; ARGV: value, ttl per write ('' value with ttl '-' deletes), the lock's value.
_WRITE_AND_DELETE_IF = ("local n = #KEYS - 1 "
                        "for i = 1, n do "
                        "  if ARGV[2 * i] == '-' then redis.call('del', KEYS[i]) "
                        "  else redis.call('set', KEYS[i], ARGV[2 * i - 1], 'EX', ARGV[2 * i]) end "
                        "end "
                        "if redis.call('get', KEYS[n + 1]) == ARGV[2 * n + 1] then redis.call('del', KEYS[n + 1]) end "
                        "return 1")


class RedisStore:
    """The same protocol on Redis, shared by every worker; all keys get `prefix`."""

    def __init__(self, client: Any, prefix: str = "yinling:") -> None:
        self._r = client
        self._prefix = prefix
        self._delete_if: Any = None
        self._claim_two_and_peek: Any = None
        self._write_and_delete_if: Any = None

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

    def set_and_delete(self, key: str, value: str, ttl: int, other: str) -> None:
        """`set(key, value, ttl)` and `delete(other)`: one round trip (a pipeline)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.set(self._prefix + key, value, ex=ttl)
        pipe.delete(self._prefix + other)
        pipe.execute()

    def claim_two_and_peek(self, first: str, first_value: str, second: str, second_value: str, ttl: int,
                           pointer: str, target_prefix: str) -> tuple[bool, bool, str | None, str | None]:
        """`set_nx` of `first`, and only when that succeeded `set_nx` of `second`; with the first claim, the
        value of `pointer` and of the key it names (`target_prefix` + that value): one round trip (Lua). A person's turn lock, the message's dedup marker
        and their dialog state (the pointer: who this sender was last time) in one call."""
        if self._claim_two_and_peek is None:
            self._claim_two_and_peek = self._r.register_script(_CLAIM_TWO_AND_PEEK)
        out = self._claim_two_and_peek(keys=[self._prefix + first, self._prefix + second, self._prefix + pointer],
                                       args=[first_value, second_value, ttl, self._prefix + target_prefix])
        named = None if len(out) < 3 or out[2] is None else str(out[2])
        target = None if len(out) < 4 or out[3] is None else str(out[3])
        return bool(int(out[0])), bool(int(out[1])), named, target

    def write_and_delete_if(self, writes: list[Write], other: str, other_value: str) -> None:
        """Each write (set with its TTL, or delete for None), then `delete_if(other, other_value)`: one round
        trip (Lua)."""
        if self._write_and_delete_if is None:
            self._write_and_delete_if = self._r.register_script(_WRITE_AND_DELETE_IF)
        args: list[Any] = []
        for _key, value, ttl in writes:
            args += ["", "-"] if value is None else [value, max(1, int(ttl))]
        self._write_and_delete_if(keys=[self._prefix + k for k, _v, _t in writes] + [self._prefix + other],
                                  args=[*args, other_value])

    def incr(self, key: str, ttl: int, amount: int = 1) -> int:
        k = self._prefix + key
        pipe = self._r.pipeline()
        pipe.incrby(k, amount)
        pipe.expire(k, ttl, nx=True)
        value, _ = pipe.execute()
        return int(value)

    def ping(self) -> bool:
        return bool(self._r.ping())
