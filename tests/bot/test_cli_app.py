"""The command line and the web app as an operator meets them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.app import create_app

from ..conftest import REDIS_URL, TEST_SECRET

# Starts other processes: their clocks and this one's must agree (tests/conftest.py `clock`).
pytestmark = pytest.mark.wall_clock

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, db: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YINLING_DATABASE_URL": f"sqlite:///{db}", "YINLING_SECRET_KEY": TEST_SECRET,
           **(extra_env or {})}
    env.pop("YINLING_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_help_lists_commands(tmp_path: Path) -> None:
    out = run_cli("--help", db=tmp_path / "x.db").stdout
    for cmd in ("serve", "db", "activities"):
        assert cmd in out
    sub = run_cli("activities", "--help", db=tmp_path / "x.db").stdout
    assert "import" in sub and "list" in sub


def test_upgrade_seed_list_import(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    assert run_cli("db", "upgrade", db=db).returncode == 0
    first = run_cli("db", "seed-demo", db=db)
    assert first.returncode == 0 and "已加载演示数据" in first.stdout
    again = run_cli("db", "seed-demo", db=db)
    assert again.returncode == 0 and "没有加载" in again.stdout  # re-running keeps existing data
    listing = run_cli("activities", "list", db=db).stdout
    assert "暖冬行动" in listing and "星期" in listing
    csv = tmp_path / "new.csv"
    csv.write_text("title,category,team,place,address,start,end,capacity,description,contact_name,contact_phone\n"
                   "冬至包饺子,助老,阳光社区志愿服务队,阳光社区,食堂,2030-12-21 10:00,2030-12-21 13:00,12,,,\n",
                   encoding="utf-8")
    ok = run_cli("activities", "import", str(csv), db=db)
    assert ok.returncode == 0 and "新增 1" in ok.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("title,category\n只有标题,助老\n", encoding="utf-8")
    failed = run_cli("activities", "import", str(bad), db=db)
    assert failed.returncode == 1 and "第2行" in failed.stderr and "Traceback" not in failed.stderr
    assert run_cli("activities", "import", str(tmp_path / "missing.csv"), db=db).returncode == 2


def test_config_error_is_one_line_not_a_trace(tmp_path: Path) -> None:
    r = run_cli("activities", "list", db=tmp_path / "x.db", extra_env={"YINLING_PORT": "abc"})
    assert r.returncode == 2 and "app.port" in r.stderr and "Traceback" not in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_healthz(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    assert run_cli("db", "seed-demo", db=db).returncode == 0
    port = _free_port()
    env = {**os.environ, "YINLING_DATABASE_URL": f"sqlite:///{db}", "YINLING_SECRET_KEY": TEST_SECRET}
    env.pop("YINLING_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    body = resp.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert '"database":"ok"' in body.replace(" ", "")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "/wechat" in out and "python -m bot chat" in out


def test_healthz_embedded(tmp_path: Path) -> None:
    app = create_app({"database.url": f"sqlite:///{tmp_path / 'h.db'}", "secret_key": TEST_SECRET})
    r = app.test_client().get("/healthz")
    assert r.status_code == 200
    assert r.json is not None and r.json["database"] == "ok" and "in-process" in r.json["redis"]


def test_healthz_with_redis_and_when_redis_is_down(tmp_path: Path) -> None:
    if not REDIS_URL:
        pytest.skip("Redis not configured")
    app = create_app({"database.url": f"sqlite:///{tmp_path / 'h.db'}", "redis.url": REDIS_URL,
                      "secret_key": TEST_SECRET})
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.json is not None and r.json["redis"] == "ok"
    down = create_app({"database.url": f"sqlite:///{tmp_path / 'h.db'}", "redis.url": "redis://127.0.0.1:1/0",
                       "secret_key": TEST_SECRET})
    r2 = down.test_client().get("/healthz")
    assert r2.status_code == 503 and r2.json is not None and r2.json["redis"].startswith("error")


def test_body_limit(tmp_path: Path) -> None:
    """`app.max_body_bytes` caps every request body: the same 5,000-byte form is refused with 413 under a
    1,000-byte limit and read (then refused for what it says) under the default 64 KiB."""
    form = {"username": "wangxy", "password": "x" * 5000}
    small = create_app({"database.url": f"sqlite:///{tmp_path / 'h.db'}", "secret_key": TEST_SECRET,
                        "app.max_body_bytes": 1000})
    assert small.test_client().post("/admin/login", data=form).status_code == 413
    assert small.test_client().post("/admin/login", data={"username": "wangxy", "password": "x"}).status_code != 413
    default = create_app({"database.url": f"sqlite:///{tmp_path / 'h.db'}", "secret_key": TEST_SECRET})
    assert default.test_client().post("/admin/login", data=form).status_code != 413
