"""/metrics, scraped over real HTTP: the series after a scripted conversation and a notice, queue depth from
Redis, reviews past their deadline, the token, and several processes' values added up (multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from bot import metrics
from bot.push import get_push
from bot.push.queue import LocalJobQueue
from bot.runtime import Runtime
from data.models import Signup, SignupStatus, Volunteer
from data.services import cancel_signup, sign_up
from data.timeutil import utcnow
from tests.conftest import REDIS_URL
from tests.data.helpers import make_activity
from tests.drivers.wechat import WechatDriver, flask_transport
from tests.fakes.wechat_api import FakeWechatAPI

from .conftest import samples, total, value

ROOT = Path(__file__).resolve().parents[2]


def scrape(url: str, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = requests.get(url + "/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return samples(r.text)


def drain(rt: Runtime) -> None:
    queue = get_push(rt).ctx.queue
    if isinstance(queue, LocalJobQueue):
        queue.drain()
        return
    from rq import SimpleWorker

    from bot.push.queue import QUEUES

    worker = SimpleWorker([queue.queue(n) for n in QUEUES], connection=queue.connection)  # type: ignore[attr-defined]
    worker.work(burst=True, with_scheduler=False, logging_level="WARNING")


def test_series_after_a_conversation_and_a_notice(ops_app: Flask, ops_rt: Runtime, http_url: str,
                                                    wechat_fake: FakeWechatAPI, clock: object) -> None:
    before = scrape(http_url)
    openid = "o-ops-metrics-1"
    wx = WechatDriver(flask_transport(ops_app.test_client()), openid=openid)
    for message in ["你好", "行", "明天有啥", "2", "1", "1"]:  # consent, then a sign-up
        wx.text(message)
    wx.text("取消")
    assert "已取消" in wx.text("1").text
    wx.text("呃呃啊啊哦")  # not understood, once
    assert "转给了" in wx.text("9").text
    # A notice to this person: WeChat refuses the customer message once (45015), the template goes out.
    with ops_rt.sessions() as s:
        vid = s.scalar(select(Volunteer.id).join(Volunteer.identities).where(
            Volunteer.identities.any(external_id=openid)))
    push = get_push(ops_rt)
    wechat_fake.fail("message/custom/send", errcode=45015)
    with ops_rt.sessions() as s:
        notice = push.create(s, title="通知", body="明天的活动改到下午两点。", now=utcnow(),
                             audience={"kind": "volunteers", "ids": [vid]})
        assert notice is not None
        push.queue(s, notice, utcnow())
        s.commit()
        nid = notice.id
    push.kick([nid])
    if ops_rt.redis is not None:  # on RQ the job waits in its queue until a worker takes it
        clock.shift(90)  # type: ignore[attr-defined]
        waiting = scrape(http_url)
        assert value(waiting, "yinling_queue_depth", queue="notices") >= 1
        assert value(waiting, "yinling_queue_oldest_job_seconds", queue="notices") >= 90
        assert value(waiting, "yinling_redis_up") == 1
    drain(ops_rt)
    after = scrape(http_url)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("yinling_turns_total", channel="wechat") == 10
    assert grew("yinling_turns_total", channel="wechat", intent="search_activities") >= 1
    assert grew("yinling_turn_seconds_count", channel="wechat") == 10
    assert grew("yinling_not_understood_total", channel="wechat") == 1
    assert grew("yinling_handoffs_total") == 1
    assert grew("yinling_signups_total", status="confirmed") == 1
    assert grew("yinling_cancellations_total") == 1
    assert grew("yinling_wechat_api_errors_total", errcode="45015") == 1
    assert grew("yinling_deliveries_total", route="wechat_template", outcome="sent") == 1
    if ops_rt.redis is not None:
        assert value(after, "yinling_queue_depth", queue="notices") == 0
    assert ("yinling_reviews_overdue", ()) in after
    # Bounded labels: no openid, no text anywhere in the exposition.
    text = requests.get(http_url + "/metrics", timeout=10).text
    assert openid not in text and "呃呃" not in text and "明天" not in text


def test_waitlist_promotion_and_overdue_reviews(ops_rt: Runtime, http_url: str, clock: object) -> None:
    before = scrape(http_url)
    now = utcnow()
    with ops_rt.sessions() as s:
        act = make_activity(s, now, capacity=1, starts_in_h=72)
        review = make_activity(s, now, capacity=5, starts_in_h=96, needs_review=True, title="要审核的活动")
        people = [Volunteer(created_at=now, skills=[], categories=[], availability=0, max_load=2) for _ in range(3)]
        s.add_all(people)
        s.flush()
        first = sign_up(s, volunteer_id=people[0].id, activity_id=act.id, now=now).signup
        sign_up(s, volunteer_id=people[1].id, activity_id=act.id, now=now)  # waitlisted
        sign_up(s, volunteer_id=people[2].id, activity_id=review.id, now=now)  # pending review
        s.commit()
        promoted = cancel_signup(s, signup_id=first.id, volunteer_id=people[0].id, now=now).promoted
        s.commit()
        assert len(promoted) == 1
    with ops_rt.sessions() as s:  # rolled back: counts nothing
        sign_up(s, volunteer_id=people[0].id, activity_id=review.id, now=now)
        s.rollback()
    mid = scrape(http_url)
    assert total(mid, "yinling_waitlist_promotions_total") - total(before, "yinling_waitlist_promotions_total") == 1
    assert total(mid, "yinling_signups_total", status="waitlisted") - total(
        before, "yinling_signups_total", status="waitlisted") == 1
    assert total(mid, "yinling_signups_total", status="pending") - total(
        before, "yinling_signups_total", status="pending") == 1
    assert total(mid, "yinling_cancellations_total") - total(before, "yinling_cancellations_total") == 1
    overdue_before = value(mid, "yinling_reviews_overdue")
    clock.shift(timedelta(hours=ops_rt.config.push.review_leader_after_hours, minutes=1))  # type: ignore[attr-defined]
    later = scrape(http_url)
    with ops_rt.sessions() as s:
        pending = s.scalars(select(Signup).where(Signup.status == SignupStatus.PENDING)).all()
    assert pending
    assert value(later, "yinling_reviews_overdue") >= overdue_before + 1


def test_late_wechat_reply_is_counted(ops_app: Flask, ops_rt: Runtime) -> None:
    wechat = ops_rt.config.wechat
    before = metrics.WECHAT_LATE._value.get()
    budget = wechat.reply_budget_seconds
    wechat.reply_budget_seconds = 0.0
    try:
        wx = WechatDriver(flask_transport(ops_app.test_client()), openid="o-ops-late")
        assert wx.text("你好").empty
    finally:
        wechat.reply_budget_seconds = budget
    assert metrics.WECHAT_LATE._value.get() == before + 1


def test_token_or_loopback_only(ops_app: Flask, ops_rt: Runtime, http_url: str) -> None:
    client = ops_app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    # Through a proxy on this host: the address is loopback, but the request came from outside.
    assert requests.get(http_url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"},
                        timeout=10).status_code == 403
    ops_rt.config.app.metrics_token = "scrape-token-123"
    try:
        assert requests.get(http_url + "/metrics", timeout=10).status_code == 401
        assert requests.get(http_url + "/metrics", headers={"Authorization": "Bearer wrong"},
                            timeout=10).status_code == 401
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                          headers={"Authorization": "Bearer scrape-token-123"}).status_code == 200
        assert "yinling_turns_total" in scrape(http_url, Authorization="Bearer scrape-token-123").__repr__()
    finally:
        ops_rt.config.app.metrics_token = None


def test_label_values_are_bounded() -> None:
    assert metrics.intent_label("search_activities") == "search_activities"
    assert metrics.intent_label("o-1234 13912344321") == "other"
    assert metrics.errcode_label(40013) == "40013"
    assert metrics.errcode_label(99999) == "other"
    assert metrics.errcode_label(None, 502) == "http_5xx"
    assert metrics.errcode_label(None, None) == "network"
    metrics.delivery("carrier pigeon", "lost")
    assert metrics.DELIVERIES.labels("other", "other")._value.get() >= 1


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    """Under gunicorn each worker writes its own file in PROMETHEUS_MULTIPROC_DIR; a scrape reads them all."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    bump = ("from bot import metrics; metrics.DELIVERIES.labels('sms', 'sent').inc({n});"
            "metrics.TURN_SECONDS.labels('sms').observe(0.3)")
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", bump.format(n=n)], cwd=ROOT, env=env, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", "import sys; from bot import metrics;"
                          "sys.stdout.write(metrics.exposition().decode())"],
                         cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True).stdout
    scraped = samples(out)
    assert value(scraped, "yinling_deliveries_total", route="sms", outcome="sent") == 5
    assert value(scraped, "yinling_turn_seconds_count", channel="sms") == 2


def test_a_command_started_before_the_directory_exists_makes_it(tmp_path: Path) -> None:
    """README's worker may start before gunicorn has made PROMETHEUS_MULTIPROC_DIR (or /run was emptied by a
    reboot): every `python -m bot` command stopped with FileNotFoundError while importing the metrics."""
    missing = tmp_path / "run" / "prom"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(missing)}
    done = subprocess.run([sys.executable, "-c", "from bot import metrics; metrics.delivery('sms', 'sent')"],
                          cwd=ROOT, env=env, timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-400:]
    assert any(missing.glob("counter_*.db"))


@pytest.mark.parametrize("bad", ["", "Bearer", "Basic scrape-token-123"])
def test_token_header_forms(ops_app: Flask, ops_rt: Runtime, bad: str) -> None:
    ops_rt.config.app.metrics_token = "scrape-token-123"
    try:
        r = ops_app.test_client().get("/metrics", headers={"Authorization": bad} if bad else {})
        assert r.status_code == 401
    finally:
        ops_rt.config.app.metrics_token = None


def test_the_readme_table_names_every_series_with_its_labels() -> None:
    """README's table is what an operator writes queries and alerts from: each series it names exists with
    exactly the labels it gives (in backquotes, outside parentheses, or `{label}` after the name), and no
    series of ours is left out."""
    import re

    import redis as redis_lib
    from prometheus_client import Counter, Histogram

    actual: dict[str, set[str]] = {}
    for obj in vars(metrics).values():
        if isinstance(obj, Counter | Histogram) and obj._name.startswith("yinling_"):
            actual[obj._name.removesuffix("_total")] = set(obj._labelnames)
    client = redis_lib.Redis.from_url(REDIS_URL) if REDIS_URL else None
    scrape = metrics.ScrapeCollector(client, "readme:rq", ["replies"], lambda: 0, utcnow)
    for family in scrape.collect():
        actual[family.name] = set(family._labelnames)
    if client is not None:
        client.close()

    documented: dict[str, set[str]] = {}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for names, labels in re.findall(r"^\| (`yinling_[^|]*)\| ([^|]*)\|$", readme, re.M):
        given = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", labels)))
        for name, braces in re.findall(r"`(yinling_\w+)(?:\{(\w+)\})?`", names):
            documented[name.removesuffix("_total")] = given | ({braces} if braces else set())
    assert documented == actual
