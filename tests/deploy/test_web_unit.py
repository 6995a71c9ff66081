"""The web unit's own command line, run: gunicorn serves the app with the production configuration, its access
log leaves query strings out, USR1 (logrotate's postrotate) makes it reopen the log; and the nginx site in
front of it, run."""

from __future__ import annotations

import http.client
import os
import re
import shlex
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from data.db import make_engine
from data.migrate import upgrade
from tests.conftest import REDIS_URL, RUN_PREFIX, _missing
from tests.deploy.kit import DEPLOY, ROOT, render_nginx, tool
from tests.loopback import free_port


def exec_start(unit: str) -> list[str]:
    """ExecStart= of a unit as an argument list (continuation lines joined, systemd's %% unescaped)."""
    body = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(ln for ln in body.splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))


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


@dataclass
class Web:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    """gunicorn started with the web unit's own ExecStart (program, port and log file moved), the production
    configuration, a migrated SQLite file and the test Redis."""
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    cmd = exec_start("yinling-web.service")
    assert cmd[0] == "/opt/yinling/.venv/bin/gunicorn" and cmd[-1] == "bot.wsgi:app"
    port = free_port()
    log = tmp_path / "access.log"
    cmd = [str(Path(sys.executable).parent / "gunicorn"), *cmd[1:]]
    cmd = [a.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("/var/log/yinling/access.log", str(log))
           .replace("/opt/yinling/", f"{ROOT}/") for a in cmd]
    db = f"sqlite:///{tmp_path / 'web.db'}"
    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    env = {**os.environ, "YINLING_CONFIG": str(DEPLOY / "config.yaml"), "YINLING_SECRET_KEY": "w" * 24,
           "YINLING_DATABASE_URL": db, "YINLING_REDIS_URL": REDIS_URL,
           "YINLING_REDIS_PREFIX": f"{RUN_PREFIX}web{uuid.uuid4().hex[:6]}:",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}  # the unit's Environment=, moved
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: get(port, "/healthz") == 200, "gunicorn to answer /healthz")
        yield Web(proc, port, log)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def logged(web: Web, needle: str) -> str:
    wait_for(lambda: needle in web.log.read_text(encoding="utf-8"), f"{needle!r} in the access log")
    return web.log.read_text(encoding="utf-8")


@pytest.mark.wall_clock
def test_web_unit_command_serves_and_reopens_its_log(web: Web, tmp_path: Path) -> None:
    assert get(web.port, "/healthz?token=query-secret-42") == 200
    text = logged(web, '"GET /healthz"')
    assert "query-secret-42" not in text

    web.log.rename(tmp_path / "access.log.1")  # what logrotate does, then its postrotate: USR1 to the main process
    os.kill(web.proc.pid, signal.SIGUSR1)
    wait_for(lambda: web.log.exists(), "gunicorn to reopen its log")
    assert get(web.port, "/healthz") == 200
    logged(web, "/healthz")


@pytest.mark.wall_clock
def test_nginx_in_front_of_the_web_unit(web: Web, tmp_path: Path) -> None:
    """The site, run: HTTP moves to HTTPS, HTTPS reaches the app, a body over app.max_body_bytes stops at nginx
    with 413, /metrics is not served outside, and the app's last X-Forwarded-For hop is the real client."""
    nginx = tool("nginx")
    http_port, https_port = free_port(), free_port()
    (tmp_path / "nginx").mkdir()
    conf = render_nginx(tmp_path / "nginx", ports=(http_port, https_port, web.port))
    proc = subprocess.Popen([nginx, "-p", str(tmp_path / "nginx"), "-c", str(conf), "-e",
                             str(tmp_path / "nginx" / "logs" / "error.log"), "-g", "daemon off;"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate

    def https(method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10, context=tls)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()

    try:
        wait_for(lambda: https("GET", "/healthz")[0] == 200, "nginx to proxy /healthz")
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        conn.request("GET", "/admin?x=1")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 301 and resp.getheader("Location", "").startswith("https://") \
            and resp.getheader("Location", "").endswith("/admin?x=1")

        big = b"<xml>" + b"x" * 65536 + b"</xml>"  # over max_body_bytes (65536)
        assert https("POST", "/wechat", big, {"Content-Type": "text/xml"})[0] == 413
        assert https("GET", "/metrics")[0] == 404
        assert https("GET", "/healthz", headers={"X-Forwarded-For": "203.0.113.9"})[0] == 200
        text = logged(web, "203.0.113.9")  # the request after /metrics: the app has logged what it saw by now
        assert "/metrics" not in text and "/wechat" not in text  # both stopped at nginx
        line = text.splitlines()[-1]
        m = re.search(r'\] (.*?) "GET', line)  # the X-Forwarded-For the app received (the unit's log format)
        assert m is not None, line
        hops = [h.strip() for h in m.group(1).split(",")]
        assert hops == ["203.0.113.9", "127.0.0.1"]  # the forged hop first; trusted_proxies=1 takes the last
    finally:
        stop(proc)
