"""One prefix for everything a deployment keeps in Redis: two deployments (two prefixes) on one Redis, each
with a real RQ worker process, take only their own jobs, and leave no key outside their prefixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from bot.config import ROOT, ConfigError, load_config
from bot.push.queue import RQJobQueue
from bot.runtime import rq_key_prefix
from tests.conftest import RUN_PREFIX, TEST_SECRET

from .conftest import clear_redis
from .rq_probe import probe_specs

# Starts other processes: their clocks and this one's must agree (tests/conftest.py `clock`).
pytestmark = pytest.mark.wall_clock


def _run(args: list[str], prefix: str, redis_url: str, tmp: Path) -> None:
    env = {**os.environ, "YINLING_REDIS_URL": redis_url, "YINLING_REDIS_PREFIX": prefix,
           "YINLING_DATABASE_URL": f"sqlite:///{tmp / 'unused.db'}", "YINLING_SECRET_KEY": TEST_SECRET,
           "YINLING_LOG_LEVEL": "WARNING"}
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-3000:]


def _worker(prefix: str, redis_url: str, tmp: Path) -> None:
    """`python -m bot worker --burst`: a real RQ worker process that stops when its queues are empty."""
    _run(["-m", "bot", "worker", "--burst", "--no-tick"], prefix, redis_url, tmp)


@pytest.mark.redis
@pytest.mark.slow
def test_two_deployments_on_one_redis_each_take_only_their_own_jobs(redis_url: str, tmp_path: Path) -> None:
    a = RUN_PREFIX  # this process's deployment (RQ's prefix is one per process)
    b = RUN_PREFIX.removesuffix(":") + "-other:"  # not under a's prefix, nor a's under it
    clear_redis(redis_url, a)
    clear_redis(redis_url, b)
    client = redis.Redis.from_url(redis_url)
    before = set(client.scan_iter(count=1000))
    try:
        RQJobQueue(redis_url, prefix=a).enqueue(probe_specs("A", a + "probe-log", 6))
        _run(["-m", "tests.push.rq_probe", redis_url, b, "B", "5"], b, redis_url, tmp_path)
        # A's worker runs first and alone: if the deployments shared queues it would take B's jobs too.
        _worker(a, redis_url, tmp_path)
        assert client.lrange(a + "probe-log", 0, -1) == [f"A>{a}".encode()] * 6
        assert client.llen(b + "probe-log") == 0  # B's jobs wait for B's worker
        _worker(b, redis_url, tmp_path)
        assert client.lrange(b + "probe-log", 0, -1) == [f"B>{b}".encode()] * 5
        assert client.lrange(a + "probe-log", 0, -1) == [f"A>{a}".encode()] * 6
        new = {k.decode() for k in set(client.scan_iter(count=1000)) - before}
        for p in (a, b):  # RQ's keys are there (finished jobs, worker records) ...
            assert any(k.startswith(rq_key_prefix(p) + ":job:probe-") for k in new)
            assert any(k.startswith(rq_key_prefix(p) + ":worker") for k in new)
        assert sorted(k for k in new if not k.startswith((a, b))) == []  # ... and nothing outside the prefixes
    finally:
        clear_redis(redis_url, b)
        clear_redis(redis_url, a)
        client.close()


def test_a_process_that_loaded_rq_first_does_not_start(tmp_path: Path) -> None:
    """RQ reads its key prefix once, on import: imported before the runtime, it would use `rq:` keys outside the
    deployment's prefix, where the deployment's other processes never look. Start-up stops and says why."""
    code = ("import rq, sys\nfrom bot.config import ConfigError\nfrom bot.runtime import build_runtime\n"
            "try:\n    build_runtime()\nexcept ConfigError as exc:\n    sys.exit(str(exc))\n")
    env = {**os.environ, "YINLING_REDIS_URL": "redis://127.0.0.1:1/0", "YINLING_REDIS_PREFIX": "city-a:",
           "YINLING_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "YINLING_SECRET_KEY": TEST_SECRET}
    env.pop("RQ_KEY_PREFIX", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=60,
                         check=False)
    assert out.returncode == 1 and "RQ_KEY_PREFIX=city-a:rq" in out.stderr.decode(), out.stderr.decode()[-2000:]


def test_the_prefix_must_be_one_redis_and_rq_accept() -> None:
    env = {"YINLING_SECRET_KEY": TEST_SECRET}
    assert load_config(env={**env, "YINLING_REDIS_PREFIX": "city-a:"}).redis.prefix == "city-a:"
    assert load_config(env=env).redis.prefix == "yinling:"  # an existing deployment keeps its store keys
    with pytest.raises(ConfigError, match="redis.prefix"):
        load_config(env={**env, "YINLING_REDIS_PREFIX": "城市 a:"})
