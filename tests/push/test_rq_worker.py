"""A real RQ worker process on real Redis: a notice survives the worker being killed mid-send; nobody gets
it twice (counted at the fake WeChat API), and the only people not reached are those whose message was in
flight when the worker died, reported `uncertain` (at most one chunk: one message per send thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.config import ROOT
from bot.push import PushContext, RQJobQueue, get_push
from bot.push.senders import DEFAULT_SEND_THREADS
from bot.runtime import build_runtime
from data.models import ChannelIdentity
from data.models_push import Delivery, Notice, NoticeStatus
from data.timeutil import utcnow
from tests.conftest import RUN_PREFIX, TEST_SECRET
from tests.fakes.push_apis import FakeApis

from .conftest import clear_redis, push_config
from .helpers import new_team, person

# Starts other processes: their clocks and this one's must agree (tests/conftest.py `clock`).
pytestmark = pytest.mark.wall_clock

PEOPLE = 120


def _worker(tmp: Path, db_url: str, redis_url: str, prefix: str, fake: FakeApis) -> subprocess.Popen[bytes]:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    cfg["push"].update({"batch_size": 25, "sending_lease_seconds": 2, "wechat_per_second": 0,
                        "retry_backoff_seconds": [1, 2]})
    cfg["wechat"]["templates"] = {"notice": "TPL-NOTICE"}
    cfg["app"]["log_level"] = "WARNING"
    path = tmp / "worker.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "YINLING_CONFIG": str(path), "YINLING_DATABASE_URL": db_url, "YINLING_REDIS_URL": redis_url,
           "YINLING_REDIS_PREFIX": prefix, "YINLING_SECRET_KEY": TEST_SECRET, "WECHAT_APP_ID": "wxpush0123456789",
           "WECHAT_APP_SECRET": "push-secret", "WECHAT_API_BASE": fake.url}
    # Its own session: killing the group takes RQ's scheduler process down with it, like a host crash.
    # `--no-duties`: the demo database's reminders and monthly summary are not this test's deliveries.
    with open(tmp / "worker.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot", "worker", "--no-duties"], cwd=ROOT, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=log)


def _stop(p: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        return
    p.wait(timeout=20)


@pytest.mark.redis
@pytest.mark.slow
def test_worker_killed_mid_notice_sends_nothing_twice_and_reports_the_in_flight_chunk(
        db_url: str, redis_url: str, fake: FakeApis, tmp_path: Path) -> None:
    # RQ keeps one key prefix per process: the workers share this test process's (the run's) to take its jobs.
    prefix = RUN_PREFIX
    clear_redis(redis_url, prefix)
    rt = build_runtime(push_config(db_url, fake.url, redis_url=redis_url, prefix=prefix, **{"push.batch_size": 25}))
    queue = RQJobQueue(redis_url, prefix=prefix)
    push = get_push(rt, PushContext.build(rt, queue=queue))
    now = utcnow()
    with rt.sessions() as s:
        team = new_team(s)
        for i in range(PEOPLE):
            person(s, rt, now, f"队员{i}", openid=f"o{i:04d}", team=team)
        n = push.create(s, title="通知", body="周六上午9点社区大扫除，请带手套。", now=now,
                        audience={"kind": "team", "team_id": team.id})
        assert n is not None
        push.queue(s, n, now)
        nid = n.id
        s.commit()
    fake.delay = 0.005
    fake.hold_at = 40  # the 40th send hangs: the worker is killed while WeChat has the message
    push.kick([nid])
    first = _worker(tmp_path, db_url, redis_url, prefix, fake)
    second = None
    try:
        assert fake.held.wait(30), (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        _stop(first, signal.SIGKILL)
        fake.hold.set()
        sent_before_restart = fake.total()
        assert 0 < sent_before_restart < PEOPLE
        second = _worker(tmp_path, db_url, redis_url, prefix, fake)
        deadline = time.monotonic() + 45
        status = None
        while time.monotonic() < deadline:
            with rt.sessions() as s:
                status = s.scalar(select(Notice.status).where(Notice.id == nid))
            if status == NoticeStatus.DONE:
                break
            time.sleep(0.2)
        assert status == NoticeStatus.DONE, f"notice stuck in {status}"
    finally:
        _stop(first, signal.SIGKILL)
        if second is not None:
            _stop(second, signal.SIGTERM)
    audience = {f"o{i:04d}" for i in range(PEOPLE)}
    everything = fake.per_address()
    counts = {a: c for a, c in everything.items() if a in audience}  # the notice's deliveries, nothing else
    assert set(counts.values()) == {1}  # nothing sent twice
    assert set(everything) == set(counts)  # with the duties off, the worker sent nothing but the notice
    with rt.sessions() as s:
        rows = s.execute(select(ChannelIdentity.external_id, Delivery.status)
                         .join(Delivery, Delivery.volunteer_id == ChannelIdentity.volunteer_id)
                         .where(Delivery.notice_id == nid)).all()
    status_of = {openid: str(st.value) for openid, st in rows}
    assert len(status_of) == PEOPLE and set(status_of.values()) == {"sent", "uncertain"}
    uncertain = {o for o, st in status_of.items() if st == "uncertain"}
    # Only the chunk in flight when the worker died is uncertain (the held message among them); every row
    # reported sent reached WeChat, and whoever WeChat never got is reported, not silently lost.
    assert 1 <= len(uncertain) <= DEFAULT_SEND_THREADS
    assert {o for o, st in status_of.items() if st == "sent"} <= set(counts)
    assert set(status_of) - set(counts) <= uncertain
    assert len(counts) >= PEOPLE - len(uncertain) + 1  # the held message did arrive
    rt.engine.dispose()
    clear_redis(redis_url, prefix)
