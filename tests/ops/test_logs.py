"""Structured logs: JSON lines with the turn's request id, channel, intent and duration; never a phone
number, an ID-card number or what a person wrote, in either format."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask

from bot import logs, metrics
from bot.runtime import Runtime
from tests.drivers.wechat import WechatDriver, flask_transport

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13912344321"
ID_CARD = "110101199003071234"
PRIVATE = "我孙女下个月要考大学了心里着急"  # a sentence only the person wrote
SMS_PHONE = "13700009876"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every record of the process at DEBUG, through our handler, into a buffer (root's handlers restored)."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    stream = io.StringIO()
    logs.setup(logging.DEBUG, "json", stream, force=True)
    try:
        yield stream
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def settle_sms(app: Flask, rt: Runtime) -> None:
    """Run the SMS replies the webhook queued (an RQ burst worker on Redis, else the reply threads)."""
    if rt.redis is not None:
        import redis
        from rq import Queue, SimpleWorker

        conn = redis.Redis.from_url(rt.config.redis.url or "")
        queue = Queue(rt.config.sms.queue, connection=conn)
        if queue.count:
            SimpleWorker([queue], connection=conn).work(burst=True, with_scheduler=False)
        conn.close()
    app.extensions["yinling.sms"].drain(15.0)


def conversation(app: Flask, rt: Runtime) -> None:
    wx = WechatDriver(flask_transport(app.test_client()), openid="o-ops-logs-1")
    for message in ["你好", "行", f"我的电话是{PHONE}，身份证号{ID_CARD}", PRIVATE, "9", f"打{PHONE}找我", "0"]:
        wx.text(message)
    client = app.test_client()
    for message in ["明天有啥", f"{PRIVATE}，电话{PHONE}", f"身份证{ID_CARD}"]:
        r = client.post("/sms/console", json={"phone": SMS_PHONE, "text": message})
        assert r.status_code < 300
        settle_sms(app, rt)


def test_json_lines_carry_the_turn_and_nothing_private(ops_app: Flask, ops_rt: Runtime,
                                                      captured: io.StringIO) -> None:
    conversation(ops_app, ops_rt)
    out = captured.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]  # every line is one JSON object
    turns = [rec for rec in lines if rec["message"] == "turn done"]
    assert {t["channel"] for t in turns} == {"wechat", "sms"}
    assert len(turns) == 10
    for t in turns:
        assert len(t["request_id"]) >= 8 and isinstance(t["duration_ms"], float) and t["intent"]
        assert {"time", "level", "logger"} <= set(t)
    assert any(t["intent"] == "human_handoff" for t in turns)
    for secret in (PHONE, ID_CARD, SMS_PHONE, PRIVATE, "孙女下个月", PHONE[-4:] + ID_CARD[:2]):
        assert secret not in out, secret


def test_lines_inside_a_turn_carry_its_request_id(captured: io.StringIO) -> None:
    probe = metrics.TurnProbe("sms", "req-abc-123", clock=iter([1.0, 1.25]).__next__)
    logging.getLogger("yinling.dialogs").warning("something odd in this turn")
    probe.read(SimpleNamespace(parse={"intent": {"name": "sign_up"}}, understood=False))
    assert probe.done() == 0.25
    logging.getLogger("yinling.push").info("after the turn")
    inside, done, after = (json.loads(line) for line in captured.getvalue().splitlines())
    assert (inside["request_id"], inside["channel"], inside["level"]) == ("req-abc-123", "sms", "WARNING")
    assert (done["message"], done["intent"], done["duration_ms"], done["understood"]) == (
        "turn done", "sign_up", 250.0, False)
    assert "request_id" not in after and "channel" not in after


def test_plain_lines_are_masked_too() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    logs.setup(logging.INFO, "plain", stream, force=True)
    try:
        logging.getLogger("yinling.test").info("someone wrote %s and %s", PHONE, ID_CARD)
        logging.getLogger("yinling.test").warning(f"inline {PHONE}")
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    out = stream.getvalue()
    assert PHONE not in out and ID_CARD not in out
    assert "139****4321" in out and "yinling.test" in out
    assert not out.lstrip().startswith("{")


def test_log_format_from_the_environment() -> None:
    assert logs.log_format({}) == "plain"
    assert logs.log_format({"YINLING_LOG_FORMAT": "JSON"}) == "json"
    with pytest.raises(ValueError, match="YINLING_LOG_FORMAT"):
        logs.log_format({"YINLING_LOG_FORMAT": "xml"})


def test_the_command_line_writes_json_lines(tmp_path: Path) -> None:
    env = {**os.environ, "YINLING_LOG_FORMAT": "json", "YINLING_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "YINLING_REDIS_URL": "", "YINLING_CONFIG": str(ROOT / "config.yaml")}
    r = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    assert records and all({"time", "level", "logger", "message"} <= set(rec) for rec in records)
    bad = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT,
                         env={**env, "YINLING_LOG_FORMAT": "xml"}, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "YINLING_LOG_FORMAT" in bad.stderr
