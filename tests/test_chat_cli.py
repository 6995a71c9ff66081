"""`python -m bot chat` driven non-interactively: messages piped on stdin, replies on stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Starts other processes: their clocks and this one's must agree (tests/conftest.py `clock`).
pytestmark = pytest.mark.wall_clock

ROOT = Path(__file__).resolve().parents[1]


def _bot(args: list[str], db: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YINLING_")}
    env["YINLING_REDIS_URL"] = ""
    return subprocess.run([sys.executable, "-m", "bot", "--database-url", db, *args], input=stdin, text=True,
                          capture_output=True, cwd=ROOT, env=env, timeout=120, check=False)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = f"sqlite:///{tmp_path_factory.mktemp('chat') / 'chat.db'}"
    res = _bot(["db", "seed-demo"], db)
    assert res.returncode == 0, res.stderr
    return db


def test_new_user_piped(demo_db: str) -> None:
    res = _bot(["chat", "--user", "测试"], demo_db, "明天有啥活\n2\n")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "> 明天有啥活" in out and "回复1同意" in out
    first, second = out.split("> 2")
    assert "活动有" in second and "回复数字看详情" in second
    assert "Traceback" not in res.stderr


def test_demo_volunteer_sms(demo_db: str) -> None:
    res = _bot(["chat", "--user", "张桂兰", "--channel", "sms"], demo_db, "明天有啥活\n2\n1\n1\n9\n")
    assert res.returncode == 0, res.stderr
    replies = [block.split("\n", 1)[1] for block in res.stdout.split("> ")[1:]]
    assert len(replies) == 5
    assert all(len(r.strip()) <= 140 for r in replies), replies
    assert "回1报名" in replies[1] and "回1确认" in replies[2]
    assert "报好了" in replies[3] or "已排队" in replies[3]
    assert "（后台）转人工" in res.stderr


def test_empty_database_says_what_to_do(tmp_path: Path) -> None:
    res = _bot(["chat"], f"sqlite:///{tmp_path / 'empty.db'}", "你好\n")
    assert res.returncode == 2 and "seed-demo" in res.stderr
