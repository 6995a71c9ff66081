"""Fan-out benchmark: one notice to N volunteers (default 100,000) through a fake WeChat API on loopback,
with 1, 2 and 4 RQ worker processes on real Redis and PostgreSQL. Prints wall-clock deliveries/s, the
workers' CPU per delivery (on a small machine the fake API, PostgreSQL and Redis share the cores with the
workers, so CPU per delivery is the figure that says how fast one worker is), the queue and bookkeeping
overhead per delivery (worker CPU minus the sender's own), the fake's CPU, the load average, and checks
zero duplicates and zero losses at the fake. Stops by itself.

    YINLING_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
    YINLING_BENCH_REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/fanout_bench.py --people 100000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789"


def fake_server(port_q: Any, marker: str = "") -> None:
    """WeChat's stable_token, template/send and custom/send on loopback, answering at once with WeChat's
    JSON (errcode 0, msgid); GET /stats, POST /reset. A bare asyncio HTTP/1.1 keep-alive server, so that on
    a small machine the fake costs far less CPU than the workers it measures (it shares the cores).
    With `marker`, customer-service messages without it (replies sent late, not the notice) are counted
    apart, as `others`."""
    import asyncio

    counts: Counter[str] = Counter()  # messages per person
    custom: Counter[str] = Counter()  # of which customer-service messages (inside the 48-hour window)
    others = 0  # customer-service messages without the marker
    msgid = 0

    def answer(data: Any, status: str = "200 OK") -> bytes:
        out = json.dumps(data).encode()
        return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(out)}\r\n\r\n"
                .encode() + out)

    def route(method: bytes, target: bytes, body: bytes) -> bytes:
        nonlocal msgid, others
        path = target.split(b"?", 1)[0]
        if method == b"GET" and path == b"/stats":
            return answer({"total": sum(counts.values()), "people": len(counts),
                           "max": max(counts.values()) if counts else 0, "custom": sum(custom.values()), "others": others})
        if path == b"/reset":
            counts.clear()
            custom.clear()
            others = 0
            return answer({})
        if path == b"/cgi-bin/stable_token":
            return answer({"access_token": "tok", "expires_in": 7200})
        if path in (b"/cgi-bin/message/template/send", b"/cgi-bin/message/custom/send"):
            if b"access_token=tok" not in target:
                return answer({"errcode": 40001, "errmsg": "invalid credential"})
            sent = json.loads(body or b"{}")
            to = str(sent.get("touser"))
            if path == b"/cgi-bin/message/custom/send":
                if marker and marker not in json.dumps(sent, ensure_ascii=False):
                    others += 1
                    msgid += 1
                    return answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})
                custom[to] += 1
            counts[to] += 1
            msgid += 1
            return answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})
        return answer({"errcode": 404, "errmsg": "no such api"}, "404 Not Found")

    class Conn(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            out: list[bytes] = []
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = self.buf[:end]
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if len(self.buf) < end + 4 + length:
                    break
                body = self.buf[end + 4 : end + 4 + length]
                self.buf = self.buf[end + 4 + length :]
                method, target = head.split(b" ", 2)[:2]
                out.append(route(method, target, body))
            if out:
                self.t.write(b"".join(out))

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Conn, "127.0.0.1", 0)
        port_q.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(serve())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_volunteers(rt: Any, people: int, now: Any) -> int:
    """A team `压测队` of `people` volunteers, each reachable on WeChat as openid `o<volunteer id>`; its id."""
    from sqlalchemy import insert

    from data.models import ChannelIdentity, Team, TeamKind, TeamMember, Volunteer

    with rt.sessions() as s:
        team = Team(name="压测队", kind=TeamKind.COMMUNITY)
        s.add(team)
        s.flush()
        team_id = int(team.id)
        s.commit()
    with rt.engine.begin() as conn:
        for start in range(0, people, 10_000):
            rows = [{"name": f"志愿者{i}", "created_at": now, "skills": [], "categories": [], "availability": 0,
                     "max_load": 2, "recommend_opt_out": False, "notices_opt_out": False, "elder_mode": False}
                    for i in range(start, min(people, start + 10_000))]
            ids = list(conn.execute(insert(Volunteer).returning(Volunteer.id), rows).scalars())
            conn.execute(insert(ChannelIdentity), [{"volunteer_id": v, "channel": "wechat", "external_id": f"o{v}",
                                                    "created_at": now} for v in ids])
            conn.execute(insert(TeamMember), [{"team_id": team_id, "volunteer_id": v, "joined_at": now}
                                              for v in ids])
    return team_id


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--send-threads", type=int, default=0,
                    help="push.send_threads for the workers (default: config.yaml's); a crash leaves at most "
                         "this many deliveries 'uncertain'")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run before giving up")
    ap.add_argument("--rate", type=int, default=1_000_000,
                    help="push.wechat_per_second: high enough not to bind, so the shared limiter is still exercised")
    ap.add_argument("--profile", metavar="DIR", help="run each worker under cProfile, writing DIR/w<N>-<i>.prof")
    ap.add_argument("--py-spy", metavar="DIR", dest="spy",
                    help="sample each worker (the thread holding the GIL: its Python CPU) with py-spy (pip install py-spy), writing "
                         "collapsed stacks to DIR/w<N>-<i>.txt")
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
        cfg_data["push"].update({"batch_size": args.batch, "wechat_per_second": args.rate, "sms_per_second": 0})
        if args.send_threads:
            cfg_data["push"]["send_threads"] = args.send_threads
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
        team_id = load_volunteers(rt, args.people, now)
        print(f"{args.people} volunteers loaded in {time.perf_counter() - t0:.1f}s")  # noqa: T201

        queue = RQJobQueue(redis_url)
        for qn in ("replies", "notices"):
            queue.queue(qn).empty()
        push = get_push(rt, PushContext.build(rt, queue=queue))
        # The sender alone (token cached, instant API): what one delivery costs without queue and bookkeeping.
        sender = push.ctx.senders["wechat"]
        # As the workers send (reachability already read for the chunk); best of three rounds of 1,000.
        rounds: list[tuple[float, float]] = []
        for i in range(50):
            sender.send_notice(f"warm{i}", "通知", "内容", checked=True)
        for r_ in range(3):
            t, c = time.perf_counter(), time.process_time()
            for i in range(1000):
                sender.send_notice(f"probe{r_}-{i}", "通知", "内容", checked=True)
            rounds.append(((time.perf_counter() - t), (time.process_time() - c)))
        send_ms, send_cpu_ms = min(w for w, _ in rounds), min(c for _, c in rounds)  # seconds per 1,000 = ms
        print(f"sender alone (one thread, token cached, instant API): {send_ms:.3f} ms wall, "  # noqa: T201
              f"{send_cpu_ms:.3f} ms CPU per template message")

        # What a worker costs to start and sit idle (imports, RQ registration): subtracted per worker below.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        idle = subprocess.Popen([sys.executable, "-m", "bot", "worker", "--no-tick"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL)
        time.sleep(6)
        idle.send_signal(signal.SIGTERM)
        idle.wait(timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        start_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"worker start-up and 6 s idle: {start_cpu:.2f} s CPU")  # noqa: T201

        for workers in [int(w) for w in args.workers.split(",")]:
            requests.post(f"{fake_url}/reset", timeout=5)
            with rt.sessions() as s:
                notice = push.create(s, title="压测通知", body=f"{workers}个工作进程", now=utcnow(),
                                     audience={"kind": "team", "team_id": team_id}, team_id=team_id)
                assert notice is not None
                push.queue(s, notice, utcnow())
                nid = notice.id
                s.commit()
            load_before = os.getloadavg()[0]
            children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            fake_before = cpu_seconds(fake.pid or 0)
            started = time.perf_counter()
            push.kick([nid])
            # Not --burst: a worker that starts before the fan-out job has enqueued the batches would leave.
            def command(i: int, workers: int = workers) -> list[str]:
                prof = ["-m", "cProfile", "-o", str(Path(args.profile) / f"w{workers}-{i}.prof")] \
                    if args.profile else []
                return [sys.executable, *prof, "-m", "bot", "worker", "--no-tick"]

            for d in (args.profile, args.spy):
                if d:
                    Path(d).mkdir(parents=True, exist_ok=True)
            procs = [subprocess.Popen(command(i), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
                     for i in range(workers)]
            spies = [subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(p.pid),
                                       "--format", "raw", "--rate", "200", "--nonblocking", "--threads", "--gil",
                                       "-o", str(Path(args.spy) / f"w{workers}-{i}.txt")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for i, p in enumerate(procs)] if args.spy else []
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
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            for spy in spies:  # they leave when their worker has left (after the CPU figure: not counted)
                spy.wait(timeout=60)
            worker_cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
            fake_cpu = cpu_seconds(fake.pid or 0) - fake_before
            load_after = os.getloadavg()[0]
            stats = requests.get(f"{fake_url}/stats", timeout=30).json()
            with rt.sessions() as s:
                by = dict(s.execute(select(Delivery.status, func.count()).where(Delivery.notice_id == nid)
                                    .group_by(Delivery.status)).all())
            sent = int(by.get("sent", 0) or sum(v for k, v in by.items() if str(getattr(k, "value", k)) == "sent"))
            rate = sent / elapsed if elapsed else 0.0
            cpu_ms = 1000 * max(0.0, worker_cpu - workers * start_cpu) / sent if sent else float("nan")
            lost = args.people - stats["people"]
            print(  # noqa: T201
                f"workers={workers}: {sent} sent in {elapsed:.1f}s (fan-out {fanned or 0:.1f}s) → {rate:,.0f} deliveries/s, "
                f"{rate / workers:,.0f}/s per worker wall-clock; worker CPU {worker_cpu:.1f}s, without start-up "
                f"{cpu_ms:.3f} ms per delivery (≈ {1000 / cpu_ms if cpu_ms else 0:,.0f} deliveries per CPU-second of "
                f"a worker), of which queue + bookkeeping ≈ {max(0.0, cpu_ms - send_cpu_ms):.3f} ms "
                f"(sender alone {send_cpu_ms:.3f} ms); "
                f"fake API CPU {1000 * fake_cpu / max(sent, 1):.3f} ms per delivery; "
                f"duplicates={stats['total'] - stats['people']} (max per person {stats['max']}), "
                + (f"lost={lost}" if status == NoticeStatus.DONE else
                   f"UNFINISHED after --timeout {args.timeout:.0f}s: {lost} not yet sent")
                + f"; status={getattr(status, 'value', status)}; load average {load_before:.2f} → {load_after:.2f} "
                f"on {os.cpu_count()} CPUs")
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
