"""Fan-out benchmark: one notice to N volunteers (default 100,000) through a fake WeChat API on loopback,
with 1, 2 and 4 RQ worker processes on real Redis and PostgreSQL. Prints deliveries/s, the queue and
bookkeeping overhead per delivery, and checks zero duplicates and zero losses at the fake. Stops by itself.

    YINLING_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
    YINLING_BENCH_REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/fanout_bench.py --people 100000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789"


def fake_server(port_q: Any) -> None:
    """WeChat's stable_token + template/send + custom/send, answering at once; GET /stats, POST /reset."""
    counts: Counter[str] = Counter()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall)

        def _answer(self, data: Any) -> None:
            out = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self) -> None:  # noqa: N802
            self._answer({"total": sum(counts.values()), "people": len(counts),
                          "max": max(counts.values()) if counts else 0})

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/reset"):
                counts.clear()
                return self._answer({})
            if self.path.startswith("/cgi-bin/stable_token"):
                return self._answer({"access_token": "tok", "expires_in": 7200})
            body = json.loads(raw or b"{}")
            counts[str(body.get("touser"))] += 1
            self._answer({"errcode": 0, "errmsg": "ok", "msgid": 1})

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server.daemon_threads = True
    port_q.put(server.server_address[1])
    server.serve_forever()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run before giving up")
    ap.add_argument("--profile", metavar="DIR", help="run each worker under cProfile, writing DIR/w<N>-<i>.prof")
    args = ap.parse_args()
    pg = os.environ.get("YINLING_BENCH_POSTGRES_URL") or os.environ.get("YINLING_TEST_POSTGRES_URL")
    redis_url = os.environ.get("YINLING_BENCH_REDIS_URL") or "redis://127.0.0.1:6379/14"
    if not pg:
        print("set YINLING_BENCH_POSTGRES_URL (PostgreSQL) and optionally YINLING_BENCH_REDIS_URL")  # noqa: T201
        return 2

    import redis
    import requests
    import yaml
    from sqlalchemy import create_engine, func, insert, select, text
    from sqlalchemy.engine import make_url

    from bot.config import load_config
    from bot.push import PushContext, RQJobQueue, get_push
    from bot.runtime import build_runtime
    from data.migrate import upgrade
    from data.models import ChannelIdentity, Team, TeamKind, TeamMember, Volunteer
    from data.models_push import Delivery, Notice, NoticeStatus
    from data.timeutil import utcnow

    port_q: Any = multiprocessing.get_context("spawn").Queue()
    fake = multiprocessing.get_context("spawn").Process(target=fake_server, args=(port_q,), daemon=True)
    fake.start()
    fake_url = f"http://127.0.0.1:{port_q.get(timeout=10)}"

    server = make_url(pg)
    name = f"yinling_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = server.set(database=name).render_as_string(hide_password=False)
    r = redis.Redis.from_url(redis_url)
    prefix = f"bench:{uuid.uuid4().hex[:6]}:"
    procs: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a killed bench still drops its database
    try:
        cfg_data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
        cfg_data["push"].update({"batch_size": args.batch, "wechat_per_second": 0, "sms_per_second": 0})
        cfg_data["wechat"]["templates"] = {"notice": "TPL"}
        cfg_data["app"]["log_level"] = "WARNING"
        tmp = Path(tempfile.mkdtemp())
        (tmp / "bench.yaml").write_text(yaml.safe_dump(cfg_data, allow_unicode=True), encoding="utf-8")
        env = {**os.environ, "YINLING_CONFIG": str(tmp / "bench.yaml"), "YINLING_DATABASE_URL": db_url,
               "YINLING_REDIS_URL": redis_url, "YINLING_REDIS_PREFIX": prefix, "YINLING_SECRET_KEY": SECRET,
               "WECHAT_APP_ID": "wxbench", "WECHAT_APP_SECRET": "bench", "WECHAT_API_BASE": fake_url}
        cfg = load_config(path=tmp / "bench.yaml", env=env)
        rt = build_runtime(cfg)
        upgrade(rt.engine)
        t0 = time.perf_counter()
        now = utcnow()
        with rt.sessions() as s:
            team = Team(name="压测队", kind=TeamKind.COMMUNITY)
            s.add(team)
            s.flush()
            team_id = team.id
            s.commit()
        with rt.engine.begin() as conn:
            for start in range(0, args.people, 10_000):
                rows = [{"name": f"志愿者{i}", "created_at": now, "skills": [], "categories": [], "availability": 0,
                         "max_load": 2, "recommend_opt_out": False, "notices_opt_out": False, "elder_mode": False}
                        for i in range(start, min(args.people, start + 10_000))]
                ids = list(conn.execute(insert(Volunteer).returning(Volunteer.id), rows).scalars())
                conn.execute(insert(ChannelIdentity), [{"volunteer_id": v, "channel": "wechat", "external_id": f"o{v}",
                                                        "created_at": now} for v in ids])
                conn.execute(insert(TeamMember), [{"team_id": team_id, "volunteer_id": v, "joined_at": now}
                                                  for v in ids])
        print(f"{args.people} volunteers loaded in {time.perf_counter() - t0:.1f}s")  # noqa: T201

        queue = RQJobQueue(redis_url)
        for qn in ("replies", "notices"):
            queue.queue(qn).empty()
        push = get_push(rt, PushContext.build(rt, queue=queue))
        # The sender alone (token cached, instant API): what one delivery costs without queue and bookkeeping.
        sender = push.ctx.senders["wechat"]
        n_probe = 500
        t = time.perf_counter()
        for i in range(n_probe):
            sender.send_notice(f"probe{i}", "通知", "内容")
        send_ms = (time.perf_counter() - t) * 1000 / n_probe
        print(f"sender alone: {send_ms:.2f} ms per template message")  # noqa: T201

        for workers in [int(w) for w in args.workers.split(",")]:
            requests.post(f"{fake_url}/reset", timeout=5)
            with rt.sessions() as s:
                notice = push.create(s, title="压测通知", body=f"{workers}个工作进程", now=utcnow(),
                                     audience={"kind": "team", "team_id": team_id}, team_id=team_id)
                assert notice is not None
                push.queue(s, notice, utcnow())
                nid = notice.id
                s.commit()
            started = time.perf_counter()
            push.kick([nid])
            # Not --burst: a worker that starts before the fan-out job has enqueued the batches would leave.
            def command(i: int, workers: int = workers) -> list[str]:
                prof = ["-m", "cProfile", "-o", str(Path(args.profile) / f"w{workers}-{i}.prof")] \
                    if args.profile else []
                return [sys.executable, *prof, "-m", "bot", "worker", "--no-tick"]

            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
            procs = [subprocess.Popen(command(i), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
                     for i in range(workers)]
            fanned = None
            status = None
            while time.perf_counter() - started < args.timeout:
                with rt.sessions() as s:
                    status = s.scalar(select(Notice.status).where(Notice.id == nid))
                    if fanned is None and status == NoticeStatus.SENDING:
                        fanned = time.perf_counter() - started
                if status == NoticeStatus.DONE:
                    break
                time.sleep(0.25)
            elapsed = time.perf_counter() - started
            for p in procs:
                p.send_signal(signal.SIGTERM)  # RQ's warm shutdown: finish the current job, then leave
            for p in procs:
                p.wait(timeout=120)
            procs = []
            stats = requests.get(f"{fake_url}/stats", timeout=30).json()
            with rt.sessions() as s:
                by = dict(s.execute(select(Delivery.status, func.count()).where(Delivery.notice_id == nid)
                                    .group_by(Delivery.status)).all())
            sent = int(by.get("sent", 0) or sum(v for k, v in by.items() if str(getattr(k, "value", k)) == "sent"))
            rate = sent / elapsed if elapsed else 0.0
            per = 1000 * workers / rate if rate else float("nan")
            print(  # noqa: T201
                f"workers={workers}: {sent} sent in {elapsed:.1f}s (fan-out {fanned or 0:.1f}s) → {rate:,.0f} deliveries/s, "
                f"{rate / workers:,.0f}/s per worker; {per:.2f} ms per delivery per worker, of which "
                f"queue+bookkeeping ≈ {max(0.0, per - send_ms):.2f} ms; "
                f"duplicates={stats['total'] - stats['people']} (max per person {stats['max']}), "
                + (f"lost={args.people - stats['people']}" if status == NoticeStatus.DONE else
                   f"UNFINISHED after --timeout {args.timeout:.0f}s: {args.people - stats['people']} not yet sent")
                + f"; status={getattr(status, 'value', status)}")
        rt.engine.dispose()
        return 0
    finally:
        for p in procs:
            p.kill()
        fake.terminate()
        for key in r.scan_iter(match=prefix + "*"):
            r.delete(key)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
