"""A real gunicorn with two workers in multiprocess mode: whichever worker answers the scrape, /metrics counts
the turns every worker ran."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import REDIS_URL, RUN_PREFIX, TEST_SECRET, _missing
from tests.drivers.wechat import TOKEN, WechatDriver
from tests.loopback import free_port

from .conftest import demo_database, samples, total

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.wall_clock
@pytest.mark.slow
def test_two_gunicorn_workers_one_scrape(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                                         tmp_path: Path) -> None:
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    db_url = demo_database("sqlite", request, tmp_path_factory)
    port = free_port()
    prefix = f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}:"
    multiproc = tmp_path / "prom"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "YINLING_DATABASE_URL": db_url,
           "YINLING_REDIS_URL": REDIS_URL or "", "YINLING_REDIS_PREFIX": prefix, "YINLING_SECRET_KEY": TEST_SECRET,
           "WECHAT_TOKEN": TOKEN, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2",
           "GUNICORN_THREADS": "2", "YINLING_LOG_FORMAT": "json"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen([str(gunicorn), "-c", "scripts/gunicorn_conf.py", "bot.wsgi:app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still loading
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)

        def transport(method: str, path: str, body: bytes) -> tuple[int, bytes]:
            r = requests.request(method, base + path, data=body, headers={"Content-Type": "text/xml"}, timeout=30)
            return r.status_code, r.content

        for n in range(3):
            wx = WechatDriver(transport, openid=f"o-gunicorn-{n}")
            for message in ["你好", "行"]:
                assert not wx.text(message).empty
        for _ in range(8):  # several scrapes: both workers answer some; every one counts all six turns
            r = requests.get(base + "/metrics", timeout=10)
            assert r.status_code == 200
            assert total(samples(r.text), "yinling_turns_total", channel="wechat") == 6
        assert list(multiproc.glob("counter_*.db")), "the workers write their values into the shared directory"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        import redis

        client = redis.Redis.from_url(REDIS_URL or "")
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
    # The JSON log lines of the service: one per turn, with its fields.
    lines = err.decode("utf-8", "replace").splitlines()
    turns = [line for line in lines if '"turn done"' in line]
    assert len(turns) == 6 and all('"channel": "wechat"' in t and '"duration_ms"' in t for t in turns)
    # gunicorn's own lines (starting, booting workers, shutting down) too: a JSON pipeline reads every line.
    assert any("Booting worker" in line for line in lines)
    for line in lines:
        assert isinstance(json.loads(line), dict), line
        assert "signature=" not in line  # no access log with WeChat's query strings on stderr
