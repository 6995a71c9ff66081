"""The web unit's own command line, run: gunicorn serves the app with the production configuration, its access
log leaves query strings out, and USR1 (logrotate's postrotate) makes it reopen the log."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from data.db import make_engine
from data.migrate import upgrade
from tests.conftest import REDIS_URL, RUN_PREFIX, _missing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def exec_start(unit: str) -> list[str]:
    """ExecStart= of a unit as an argument list (continuation lines joined, systemd's %% unescaped)."""
    body = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(ln for ln in body.splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wait_for(check: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.wall_clock
def test_web_unit_command_serves_and_reopens_its_log(tmp_path: Path) -> None:
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    cmd = exec_start("yinling-web.service")
    assert cmd[0] == "/opt/yinling/.venv/bin/gunicorn" and cmd[-1] == "bot.wsgi:app"
    port = free_port()
    log = tmp_path / "access.log"
    cmd = [str(Path(sys.executable).parent / "gunicorn"), *cmd[1:]]
    cmd = [a.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("/var/log/yinling/access.log", str(log))
           for a in cmd]
    db = f"sqlite:///{tmp_path / 'web.db'}"
    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    env = {**os.environ, "YINLING_CONFIG": str(DEPLOY / "config.yaml"), "YINLING_SECRET_KEY": "w" * 24,
           "YINLING_DATABASE_URL": db, "YINLING_REDIS_URL": REDIS_URL,
           "YINLING_REDIS_PREFIX": f"{RUN_PREFIX}web{uuid.uuid4().hex[:6]}:"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: get(port, "/healthz") == 200, "gunicorn to answer /healthz")
        assert get(port, "/healthz?token=query-secret-42") == 200
        wait_for(lambda: "/healthz" in log.read_text(encoding="utf-8"), "the access log")
        text = log.read_text(encoding="utf-8")
        assert "query-secret-42" not in text and '"GET /healthz"' in text

        log.rename(tmp_path / "access.log.1")  # what logrotate does, then its postrotate: USR1 to the main process
        os.kill(proc.pid, signal.SIGUSR1)
        wait_for(lambda: log.exists(), "gunicorn to reopen its log")
        assert get(port, "/healthz") == 200
        wait_for(lambda: "/healthz" in log.read_text(encoding="utf-8"), "a line in the new log")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
