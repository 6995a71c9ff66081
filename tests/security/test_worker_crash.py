"""Attack 5 (a fault): a worker killed mid-turn must not leave the message unanswered for WeChat's retries,
and a retry while the first turn still runs must not run it twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.web import runtime_of
from data.models import MessageLog
from tests.conftest import REDIS_URL, TEST_SECRET, _missing
from tests.drivers.wechat import APP_ID, TOKEN, build_xml

from .conftest import AppMaker, wechat

# Starts another process: its clock and this one's must agree (tests/conftest.py `clock`).
pytestmark = pytest.mark.wall_clock

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from bot.app import create_app
    from bot.web import runtime_of

    cfg = json.loads(sys.argv[1])
    marker = Path(sys.argv[2])
    app = create_app(cfg)

    class Stuck:  # the turn reaches NLU, says so, and never comes back: then the worker is killed
        def parse(self, text, now):
            marker.write_text("in turn")
            time.sleep(600)

    runtime_of(app)._nlu = Stuck()
    query, body = sys.argv[3], sys.argv[4].encode()
    app.test_client().post("/wechat?" + query, data=body, content_type="text/xml")
    time.sleep(600)
""")


def _logged(rt: Any, openid: str) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(MessageLog)
                            .where(MessageLog.address == openid, MessageLog.direction == "in")) or 0)


@pytest.fixture
def redis_app(make_app: AppMaker, db_url: str) -> Any:  # noqa: ARG001
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    prefix = f"crash:{uuid.uuid4().hex[:8]}:"
    overrides = {"redis.url": REDIS_URL, "redis.prefix": prefix, "wechat.lease_seconds": 1,
                 "wechat.reply_budget_seconds": 4.0}
    return make_app(**overrides), overrides


def test_retry_after_a_killed_worker_runs_the_turn(redis_app: Any, db_url: str, tmp_path: Path) -> None:
    app, overrides = redis_app
    rt = runtime_of(app)
    d = wechat(app)
    d.event("subscribe")
    query, body = d.sign(build_xml(d._fields("text", Content="找活动", MsgId=int(time.time() * 1000))))
    from urllib.parse import urlencode

    cfg = {"database.url": db_url, "secret_key": TEST_SECRET, "wechat.token": TOKEN, "wechat.app_id": APP_ID,
           "wechat.api_base": "http://127.0.0.1:9", **overrides}
    marker = tmp_path / "in-turn"
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg), str(marker), urlencode(query),
                              body.decode()], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the worker never reached the turn"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)  # the worker dies mid-turn: nothing committed, marker left behind
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    # WeChat's retries: the same request again, a few seconds apart.
    answers = []
    for _ in range(3):
        answers.append(d.post(query, body))
        if answers[-1].fields is not None:
            break
        time.sleep(1.5)
    assert any(a.fields is not None and "1" in a.text for a in answers), [a.body[:60] for a in answers]
    assert _logged(rt, d.openid) == 2  # subscribe + this message, once


def test_retry_while_the_first_turn_still_runs_does_not_run_it_twice(redis_app: Any) -> None:
    app, _ = redis_app
    rt = runtime_of(app)
    d = wechat(app)
    d.event("subscribe")
    real = rt.nlu
    calls: list[str] = []

    class Slow:  # 3 s: three leases long, still alive
        def parse(self, text: str, now: Any) -> Any:
            calls.append(text)
            time.sleep(3.0)
            return real.parse(text, now)

    rt._nlu = Slow()
    query, body = d.sign(build_xml(d._fields("text", Content="找活动", MsgId=int(time.time() * 1000) + 7)))
    first: list[Any] = []
    t = threading.Thread(target=lambda: first.append(d.post(query, body)))
    t.start()
    time.sleep(1.5)
    second = d.post(query, body)
    t.join()
    rt._nlu = real
    assert calls == ["找活动"]
    assert _logged(rt, d.openid) == 2
    assert first[0].fields is not None and second.fields is not None and first[0].text == second.text


def test_the_lease_is_renewed_while_a_slow_turn_runs(redis_app: Any) -> None:
    """Below the webhook: two deliveries straight into the pipeline, the turn six leases long."""
    from bot.pipeline import Inbound

    app, _ = redis_app
    rt = runtime_of(app)
    pipeline = app.extensions["wechat"].pipeline
    real = rt.nlu
    calls: list[str] = []

    class Slow:
        def parse(self, text: str, now: Any) -> Any:
            calls.append(text)
            time.sleep(3.0)
            return real.parse(text, now)

    rt._nlu = Slow()
    openid = "oLease" + uuid.uuid4().hex[:8]
    outcomes: list[Any] = []

    def deliver() -> None:
        inbound = Inbound(channel="wechat", sender=openid, text="你好", dedup_key=f"{openid}:1")
        outcomes.append(pipeline.handle(inbound, dedup_lease=0.5, dup_wait=5.0))

    t = threading.Thread(target=deliver)
    t.start()
    time.sleep(1.0)  # two leases later: only renewal keeps the marker
    deliver()
    t.join()
    rt._nlu = real
    assert calls == ["你好"]
    assert sorted(o.duplicate for o in outcomes) == [False, True]
