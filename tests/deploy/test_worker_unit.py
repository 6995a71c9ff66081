"""The worker unit's own command line, run: its RQ workers register, and the stop systemd gives it
(KillMode=mixed: SIGTERM to the main process only) ends every process of the unit well inside TimeoutStopSec."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from data.db import make_engine
from data.migrate import upgrade
from tests.conftest import REDIS_URL, RUN_PREFIX, _missing
from tests.deploy.kit import DEPLOY, ROOT


def unit_text(name: str) -> str:
    return (DEPLOY / "systemd" / name).read_text(encoding="utf-8")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.wall_clock
def test_worker_unit_starts_its_workers_and_stops_on_sigterm_to_the_main_process(tmp_path: Path) -> None:
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    import redis

    body = unit_text("yinling-worker.service")
    assert "KillMode=mixed" in body
    stop_limit = int(re.search(r"^TimeoutStopSec=(\d+)$", body, re.M).group(1))  # type: ignore[union-attr]
    line = next(ln for ln in body.splitlines() if ln.startswith("ExecStart="))
    cmd = shlex.split(line.removeprefix("ExecStart="))
    assert cmd[:3] == ["/opt/yinling/.venv/bin/python", "-m", "bot"]
    processes = int(cmd[cmd.index("--processes") + 1])
    db = f"sqlite:///{tmp_path / 'worker.db'}"
    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    prefix = f"{RUN_PREFIX}wk{uuid.uuid4().hex[:6]}:"
    env = {**os.environ, "YINLING_CONFIG": str(DEPLOY / "config.yaml"), "YINLING_SECRET_KEY": "w" * 24,
           "YINLING_DATABASE_URL": db, "YINLING_REDIS_URL": REDIS_URL, "YINLING_REDIS_PREFIX": prefix}
    env.pop("RQ_KEY_PREFIX", None)  # the child binds its own, from the deployment's prefix
    proc = subprocess.Popen([sys.executable, *cmd[1:]], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 60
        while client.scard(f"{prefix}rq:workers") < processes:
            assert proc.poll() is None, "the worker exited at start"
            assert time.monotonic() < deadline, "the RQ workers did not register"
            time.sleep(0.2)

        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)  # what systemd does first with KillMode=mixed
        while (proc.poll() is None or group_alive(proc.pid)) and time.monotonic() - started < stop_limit:
            time.sleep(0.2)  # poll() reaps the main process: a zombie would still count as alive
        assert not group_alive(proc.pid), "a process of the unit outlived the main one (systemd would SIGKILL it)"
        assert client.scard(f"{prefix}rq:workers") == 0  # each worker said goodbye: nothing left registered
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        client.close()
