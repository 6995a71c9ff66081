"""A busy notice day, end to end: N volunteers (default 100,000) on PostgreSQL + Redis get one notice through
real RQ workers (`python -m bot worker`) and the fake WeChat API on loopback, while 10 % of them answer
through the real webhook (our app under gunicorn) at random times, in bursts, within a compressed window:
reminder answers (`1`), searches, details and sign-ups. Prints the webhook's p50/p99, the workers'
deliveries/s before, during and after the answers, CPU per turn (gunicorn's CPU over the turns served),
the fan-out's time, and checks that every volunteer got the notice exactly once and every message got a
reply. Stops by itself; drops its database and Redis keys.

    YINLING_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
    YINLING_BENCH_REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/busy_day.py --people 5000

Pieces come from bench/fanout_bench.py (fake API, loading volunteers, CPU from /proc) and
bench/webhook_bench.py (gunicorn on loopback) and tests/drivers/wechat.py (signed messages).
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout_bench import SECRET, cpu_seconds, fake_server, load_volunteers  # noqa: E402
from bench.webhook_bench import free_port, gunicorn, wait_ready  # noqa: E402
from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN, WechatDriver  # noqa: E402

NOTICE_MARK = "请大家转告"  # in the notice's body: tells the notice from replies sent late at the fake API

# What people send after a notice, with think time between their messages (seconds, compressed).
SCRIPTS: list[tuple[float, list[str]]] = [
    (0.45, ["1"]),  # a reminder answer
    (0.15, ["收到"]),
    (0.20, ["这周末有什么活动", "2"]),  # a search and details
    (0.20, ["找活动", "1", "1", "1"]),  # search, details, sign up, confirm
]


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live children (gunicorn's master and workers)."""
    total = cpu_seconds(pid)
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return total + sum(tree_cpu(int(k)) for k in kids)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))] if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--answering", type=float, default=0.10, help="share of recipients who answer")
    ap.add_argument("--window", type=float, default=60.0,
                    help="seconds in which the answers arrive (10 minutes compressed; default 60)")
    ap.add_argument("--think", type=float, default=3.0, help="mean seconds between one person's messages")
    ap.add_argument("--bursts", type=int, default=4, help="bursts in the window (half the people arrive in them)")
    ap.add_argument("--rq-workers", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (as deployed)")
    ap.add_argument("--clients", type=int, default=48, help="client threads sending the answers")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    pg = os.environ.get("YINLING_BENCH_POSTGRES_URL") or os.environ.get("YINLING_TEST_POSTGRES_URL")
    redis_url = os.environ.get("YINLING_BENCH_REDIS_URL") or "redis://127.0.0.1:6379/14"
    if not pg:
        print("set YINLING_BENCH_POSTGRES_URL (PostgreSQL) and optionally YINLING_BENCH_REDIS_URL")  # noqa: T201
        return 2

    import redis
    import requests
    import yaml
    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.engine import make_url

    from bot.config import load_config
    from bot.push import PushContext, RQJobQueue, get_push
    from bot.runtime import build_runtime
    from data.migrate import upgrade
    from data.models import Signup
    from data.models_push import Delivery, Notice, NoticeStatus
    from data.seed import load_demo
    from data.timeutil import utcnow

    ctx = multiprocessing.get_context("spawn")
    port_q: Any = ctx.Queue()
    fake = ctx.Process(target=fake_server, args=(port_q, NOTICE_MARK), daemon=True)
    fake.start()
    fake_url = f"http://127.0.0.1:{port_q.get(timeout=10)}"

    server = make_url(pg)
    name = f"yinling_busy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = server.set(database=name).render_as_string(hide_password=False)
    r = redis.Redis.from_url(redis_url)
    prefix = f"busy:{uuid.uuid4().hex[:6]}:"
    procs: list[subprocess.Popen[bytes]] = []
    web: subprocess.Popen[bytes] | None = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a killed bench still cleans up
    try:
        cfg_data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
        cfg_data["push"].update({"wechat_per_second": 1_000_000, "sms_per_second": 0})
        cfg_data["wechat"]["templates"] = {"notice": "TPL"}
        cfg_data["app"]["log_level"] = "WARNING"
        tmp = Path(tempfile.mkdtemp())
        (tmp / "busy.yaml").write_text(yaml.safe_dump(cfg_data, allow_unicode=True), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("YINLING_", "WECHAT_"))}
        env.update({"PYTHONPATH": str(ROOT), "YINLING_CONFIG": str(tmp / "busy.yaml"), "YINLING_DATABASE_URL": db_url,
                    "YINLING_REDIS_URL": redis_url, "YINLING_REDIS_PREFIX": prefix, "YINLING_SECRET_KEY": SECRET,
                    "YINLING_LOG_LEVEL": "WARNING", "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID,
                    "WECHAT_AES_KEY": AES_KEY, "WECHAT_APP_SECRET": "bench", "WECHAT_API_BASE": fake_url})
        cfg = load_config(path=tmp / "busy.yaml", env=env)
        rt = build_runtime(cfg)
        upgrade(rt.engine)
        t0 = time.perf_counter()
        now = utcnow()
        with rt.sessions() as s:
            load_demo(s, now, rt.vault)
            s.commit()
        team_id = load_volunteers(rt, args.people, now)
        with rt.engine.begin() as conn:  # they have used the bot before: privacy consent given
            conn.execute(text("INSERT INTO consents (volunteer_id, kind, granted, channel, at) "
                              "SELECT volunteer_id, 'privacy', true, 'wechat', :now FROM team_members "
                              "WHERE team_id = :team"), {"now": now, "team": team_id})
        print(f"demo region + {args.people} volunteers loaded in {time.perf_counter() - t0:.1f}s", flush=True)  # noqa: T201

        port = free_port()
        web = gunicorn("bot.wsgi:app", port, env, args)
        wait_ready(port, web)

        # Who answers, when, and what: half spread evenly over the window, half in bursts of a few seconds.
        rng = random.Random(14)
        with rt.sessions() as s:
            from data.models import TeamMember
            ids = list(s.scalars(select(TeamMember.volunteer_id).where(TeamMember.team_id == team_id)))
        who = rng.sample(ids, max(1, int(len(ids) * args.answering)))
        bursts = sorted(rng.uniform(0, args.window * 0.9) for _ in range(max(1, args.bursts)))
        plan: list[tuple[float, int, int, list[str]]] = []  # (due, person, step, script)
        for n, vid in enumerate(who):
            at = rng.uniform(0, args.window) if n % 2 else rng.choice(bursts) + rng.uniform(0, 3)
            script = rng.choices([sc for _, sc in SCRIPTS], weights=[w for w, _ in SCRIPTS])[0]
            plan.append((at, vid, 0, script))
        heapq.heapify(plan)
        turns = sum(len(p[3]) for p in plan)

        queue = RQJobQueue(redis_url)
        for qn in ("replies", "notices"):
            queue.queue(qn).empty()
        push = get_push(rt, PushContext.build(rt, queue=queue))
        with rt.sessions() as s:
            notice = push.create(s, title="重要通知", body=f"明天上午社区有义诊，{NOTICE_MARK}。回复1收到。", now=utcnow(),
                                 audience={"kind": "team", "team_id": team_id}, team_id=team_id)
            assert notice is not None
            push.queue(s, notice, utcnow())
            nid = notice.id
            s.commit()

        latencies: list[float] = []
        errors: list[str] = []
        empty = [0]
        lock = threading.Lock()
        web_cpu0 = tree_cpu(web.pid)
        started = time.perf_counter()
        push.kick([nid])
        procs = [subprocess.Popen([sys.executable, "-m", "bot", "worker", "--no-tick"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL) for _ in range(args.rq_workers)]

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def transport(method: str, path: str, body: bytes) -> tuple[int, bytes]:
                nonlocal conn
                for attempt in (1, 2):
                    try:
                        conn.request(method, path, body=body, headers={"Content-Type": "text/xml"})
                        res = conn.getresponse()
                        return res.status, res.read()
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                        if attempt == 2:
                            raise
                raise AssertionError

            crng = random.Random(threading.get_ident())
            while True:
                with lock:
                    if not plan:
                        return
                    due, vid, step, script = heapq.heappop(plan)
                wait = started + due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                d = WechatDriver(transport, openid=f"o{vid}", mode="safe")  # the account has an AES key: WeChat encrypts
                query, body = d.sign(urlencode_fields(d, script[step]))
                t = time.perf_counter()
                try:
                    status, raw = transport("POST", f"/wechat?{urlencode(query)}", body)
                except OSError as exc:
                    with lock:
                        errors.append(type(exc).__name__)
                    continue
                took = time.perf_counter() - t
                with lock:
                    latencies.append(took)
                    if status != 200:
                        errors.append(f"http {status}")
                    elif raw.strip() in (b"", b"success"):
                        empty[0] += 1
                    if step + 1 < len(script):
                        nxt = time.perf_counter() - started + crng.uniform(0.5, 1.5) * args.think
                        heapq.heappush(plan, (nxt, vid, step + 1, script))

        def urlencode_fields(d: WechatDriver, content: str) -> str:
            from tests.drivers.wechat import build_xml

            return build_xml(d._fields("text", Content=content))

        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
        for th in threads:
            th.start()
        samples: list[tuple[float, int]] = []  # (seconds since kick, notices sent so far)
        answers_done = None
        status = None
        fanned = None
        while time.perf_counter() - started < args.timeout:
            el = time.perf_counter() - started
            samples.append((el, int(requests.get(f"{fake_url}/stats", timeout=30).json()["total"])))
            if answers_done is None and not any(th.is_alive() for th in threads):
                answers_done = el
            with rt.sessions() as s:
                status = s.scalar(select(Notice.status).where(Notice.id == nid))
            if status == NoticeStatus.DONE and fanned is None:
                fanned = el
            if fanned is not None and answers_done is not None:
                break
            time.sleep(0.5)
        web_cpu = tree_cpu(web.pid) - web_cpu0
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=120)
        procs = []
        stats = requests.get(f"{fake_url}/stats", timeout=30).json()
        with rt.sessions() as s:
            by = {str(getattr(k, "value", k)): v for k, v in s.execute(
                select(Delivery.status, func.count()).where(Delivery.notice_id == nid).group_by(Delivery.status))}
            signups = int(s.scalar(select(func.count()).select_from(Signup).where(Signup.created_at >= now)) or 0)

        def rate(a: float, b: float) -> float:
            inside = [(t, n) for t, n in samples if a <= t <= b]
            if len(inside) < 2:
                return float("nan")
            return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

        answer_end = min(args.window, answers_done or args.window)
        busy_end = min(answer_end, fanned or answer_end)
        lat = [x * 1000 for x in latencies]
        print(f"\nbusy day: {args.people} volunteers, {len(who)} answer ({turns} messages) within {args.window:.0f}s "  # noqa: T201
              f"in {args.bursts} bursts; gunicorn -w {args.workers} --threads {args.threads}; {args.rq_workers} RQ "
              f"workers; {os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f}")
        print(f"  webhook: {len(lat)} replies, p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms, "  # noqa: T201
              f"max {max(lat, default=0):.0f} ms; {len(errors)} errors {sorted(set(errors))[:4]}, "
              f"{empty[0]} without a passive reply; {signups} sign-ups made")
        print(f"  CPU per turn (gunicorn, whole run): {1000 * web_cpu / max(1, len(lat)):.1f} ms")  # noqa: T201
        done = f"done in {fanned:.1f}s" if fanned else "NOT DONE"
        print(f"  fan-out: {done}; deliveries/s while answers "  # noqa: T201
              f"arrive {rate(0, busy_end):,.0f}, after {rate(answer_end, fanned or 1e9):,.0f}; overall "
              f"{stats['total'] / fanned if fanned else 0:,.0f}")
        lost = args.people - stats["people"]
        print(f"  notices at the fake API: {stats['total']} to {stats['people']} people, max {stats['max']} per "  # noqa: T201
              f"person → lost {lost}, sent twice {stats['total'] - stats['people']}; deliveries {by}; "
              f"{stats.get('custom', 0)} of them as customer-service messages (the person wrote in the last 48 h); "
              f"{stats.get('others', 0)} replies sent late as customer-service messages")
        ok = fanned is not None and lost == 0 and stats["max"] == 1 and not errors
        print("  OK" if ok else "  PROBLEM")  # noqa: T201
        rt.engine.dispose()
        return 0 if ok else 1
    finally:
        for p in procs:
            p.kill()
        if web is not None:
            try:
                os.killpg(web.pid, signal.SIGTERM)
                web.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(web.pid, signal.SIGKILL)
        fake.terminate()
        for key in r.scan_iter(match=prefix + "*"):
            r.delete(key)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
