"""Webhook bench: our /wechat under gunicorn next to a minimal wechatpy echo app, driven by signed messages.

    .venv/bin/python bench/webhook_bench.py [--clients 50] [--requests 20] [--workers 2] [--threads 4]
        [--database-url postgresql+psycopg://...] [--redis-url redis://127.0.0.1:6379/15] [--mode plain|safe]
        [--rounds 3] [--baseline /path/to/an/older/checkout]

Three apps run as `gunicorn -w 2` on free loopback ports: ours (the whole service), "channel" (our webhook
with a constant turn instead of NLU + dialogs + database: the channel's own cost) and a minimal wechatpy
echo app. Each concurrent client is one WeChat user sending text messages one after another (a fresh MsgId
each, so nothing is a duplicate), optionally pausing `--think` seconds like a person. Prints throughput,
p50/p99 latency, CPU per request (gunicorn's; for ours also the PostgreSQL backends serving its database) and
the ratios to echo. Target: p99 < 100 ms at 50 users on 2 cores, within 3x of echo.

Throughput on a shared 2-core VM moves by ±40 % from one run to the next, so compare in one run: `--rounds N`
drives every app N times in turn (A B C A B C ...) and prints the medians, and `--baseline DIR` adds a fourth
app, "before": the same service from another checkout (`git worktree add /tmp/before <commit>`), on a database of
its own, so that "2x the throughput of <commit>" is measured side by side.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN, WechatDriver, build_xml  # noqa: E402

MESSAGES = ("找活动", "1", "2", "0", "明天有什么活动", "礼拜六上午有啥", "0", "我的活动")


# -- the echo app (served by gunicorn as `bench.webhook_bench:echo_app`) --------------------------------
def echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The smallest correct wechatpy handler: check the signature, parse, echo the text back."""
    from urllib.parse import parse_qs

    from wechatpy import parse_message
    from wechatpy.exceptions import InvalidSignatureException
    from wechatpy.replies import create_reply
    from wechatpy.utils import check_signature

    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    try:
        check_signature(os.environ["WECHAT_TOKEN"], q.get("signature", ""), q.get("timestamp", ""),
                        q.get("nonce", ""))
    except InvalidSignatureException:
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"forbidden"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    msg = parse_message(environ["wsgi.input"].read(length))
    body = create_reply(getattr(msg, "content", "success"), msg).render().encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


# -- our channel alone (served as `bench.webhook_bench:channel_app`): the full webhook, a constant turn -------
_channel_app: Any = None
_channel_lock = threading.Lock()


def channel_app(environ: dict[str, Any], start_response: Any) -> Any:
    """Our real /wechat (signature, XML, dedup bookkeeping, worker thread, reply) with the dialogs replaced by
    a constant menu, to tell the channel's own cost from the conversation's (NLU, dialogs, database)."""
    global _channel_app
    with _channel_lock:
        if _channel_app is None:
            from bot.app import create_app
            from bot.pipeline import SORRY, Outcome

            class Constant:
                def handle(self, inbound: Any, now: Any = None, **kw: Any) -> Outcome:
                    return Outcome([SORRY], None, False, inbound.request_id)

            _channel_app = create_app()
            _channel_app.extensions["wechat"].pipeline = Constant()
    return _channel_app(environ, start_response)


# -- servers -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn on :{port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn on :{port} did not come up in {timeout:.0f}s")


def gunicorn(app: str, port: int, env: dict[str, str], args: argparse.Namespace,
             root: Path = ROOT) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
           "--threads", str(args.threads), "--backlog", "512", "--log-level", "warning", "--timeout", "60"]
    return subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=None if args.verbose else subprocess.DEVNULL)


def prepare_database(url: str, env: dict[str, str], root: Path = ROOT) -> None:
    for step in (["db", "upgrade"], ["db", "seed-demo"]):
        subprocess.run([sys.executable, "-m", "bot", *step], cwd=root, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fresh_database(url: str, suffix: str) -> str:
    """A new empty database beside `url`'s on the same PostgreSQL server (dropped first if left from a run)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    name = f"{u.database}_{suffix}"
    _on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return u.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    _on_server(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _on_server(url: str, *statements: str) -> None:
    """Run statements on `url`'s PostgreSQL server, outside any database's transaction."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


# -- clients --------------------------------------------------------------------------------------------
def drive(port: int, args: argparse.Namespace, label: str) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    empty = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + args.max_seconds
    start_gate = threading.Barrier(args.clients + 1)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def transport(method: str, path: str, body: bytes) -> tuple[int, bytes]:
            nonlocal conn
            for attempt in (1, 2):
                try:
                    conn.request(method, path, body=body, headers={"Content-Type": "text/xml"})
                    res = conn.getresponse()
                    return res.status, res.read()
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    if attempt == 2:
                        raise
            raise AssertionError

        d = WechatDriver(transport, mode=args.mode, openid=f"oBench{label}{n:04d}{os.getpid()}")
        rng = random.Random(n)
        start_gate.wait()
        if args.think and not args.lockstep:
            time.sleep(rng.uniform(0, args.think))  # people don't all start at the same second
        for i in range(args.requests):
            if time.monotonic() > deadline:
                break
            if args.think and i:
                # a person reads the reply and types the next message: think ± 50 % (or exactly, in lockstep)
                time.sleep(args.think if args.lockstep else rng.uniform(0.5, 1.5) * args.think)
            fields = d._fields("text", Content=MESSAGES[i % len(MESSAGES)], MsgId=n * 1_000_000 + i + 1)
            query, body = d.sign(build_xml(fields))
            t0 = time.perf_counter()
            try:
                status, raw = transport("POST", f"/wechat?{_qs(query)}", body)
            except OSError as exc:
                with lock:
                    errors.append(type(exc).__name__)
                continue
            took = time.perf_counter() - t0
            with lock:
                latencies.append(took)
                if status != 200:
                    errors.append(f"http {status}")
                elif raw.strip() in (b"", b"success"):
                    empty[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "label": label, "requests": len(latencies), "errors": len(errors), "empty": empty[0], "wall": wall,
        "rps": len(latencies) / wall if wall else 0.0,
        "p50": _pct(latencies, 50) * 1000, "p99": _pct(latencies, 99) * 1000,
        "mean": (statistics.fmean(latencies) * 1000) if latencies else 0.0,
        "error_kinds": sorted(set(errors))[:5],
    }


class CPU:
    """CPU seconds of an app's gunicorn (master and workers) and, for ours, of the PostgreSQL backends serving
    its database (Linux /proc): per request they move far less with the machine's load than throughput."""

    def __init__(self, proc: subprocess.Popen[bytes], database_url: str | None) -> None:
        self.proc, self.url = proc, database_url

    def _backends(self) -> dict[int, float]:
        if not self.url or "postgres" not in self.url:
            return {}
        from sqlalchemy import create_engine, text

        from bench.fanout_bench import cpu_seconds

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND pid <> pg_backend_pid()")).scalars().all()
        finally:
            engine.dispose()
        return {int(p): cpu_seconds(int(p)) for p in pids}

    def __enter__(self) -> CPU:
        from bench.busy_day import tree_cpu

        self.web0, self.db0 = tree_cpu(self.proc.pid), self._backends()
        return self

    def __exit__(self, *_exc: Any) -> None:
        from bench.busy_day import tree_cpu

        self.web = tree_cpu(self.proc.pid) - self.web0
        self.db = sum(c - self.db0.get(p, 0.0) for p, c in self._backends().items())


def _median_run(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result of several runs of an app: the median of each number, the sums of the counts."""
    out: dict[str, Any] = {k: statistics.median(r[k] for r in rs)
                           for k in ("rps", "p50", "p99", "mean", "wall", "cpu_web", "cpu_db")}
    for k in ("requests", "errors", "empty"):
        out[k] = sum(r[k] for r in rs)
    out["error_kinds"] = sorted({e for r in rs for e in r["error_kinds"]})[:5]
    return out


def _qs(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="messages per client")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread); "
                    "4 as deploy/systemd/yinling-web.service")
    ap.add_argument("--think", type=float, default=0.0,
                    help="seconds each user waits between messages (0 = back to back, the stress case)")
    ap.add_argument("--lockstep", action="store_true",
                    help="with --think: every user starts together and waits exactly --think (a synchronized "
                         "burst of --clients messages every --think seconds); default: random start, think ± 50 %%")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop each run after this long")
    ap.add_argument("--mode", choices=("plain", "safe"), default="plain")
    ap.add_argument("--database-url", help="default: a fresh SQLite file")
    ap.add_argument("--redis-url", help="default: the in-process store (each worker its own)")
    ap.add_argument("--rounds", type=int, default=1, help="drive every app this many times, in turn; print medians")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="another checkout of the service (an older commit), run beside ours as 'before'")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="yinling-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YINLING_", "WECHAT_"))}
    env.update({
        "PYTHONPATH": str(ROOT), "YINLING_DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "YINLING_SECRET_KEY": "bench-secret-key-0123456789", "YINLING_LOG_LEVEL": "WARNING",
        "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, **({"WECHAT_AES_KEY": AES_KEY} if args.mode == "safe" else {}),
        "WECHAT_API_BASE": "http://127.0.0.1:9",  # nothing outbound should happen in this bench
    })
    if args.redis_url:
        env["YINLING_REDIS_URL"] = args.redis_url
        env["YINLING_REDIS_PREFIX"] = f"bench:{os.getpid()}:"
    prepare_database(env["YINLING_DATABASE_URL"], env)
    envs = {name: env for name in ("ours", "channel", "echo")}
    roots = {name: ROOT for name in envs}
    if args.baseline is not None:
        base = args.baseline.resolve()
        url = env["YINLING_DATABASE_URL"]
        base_url = fresh_database(url, "before") if "postgres" in url else f"sqlite:///{tmp / 'before.db'}"
        envs["before"] = {**env, "PYTHONPATH": str(base), "YINLING_DATABASE_URL": base_url,
                          **({"YINLING_REDIS_PREFIX": f"bench:{os.getpid()}:before:"} if args.redis_url else {})}
        roots["before"] = base
        prepare_database(base_url, envs["before"], base)

    procs: list[subprocess.Popen[bytes]] = []
    try:
        apps = {"ours": "bot.wsgi:app", "channel": "bench.webhook_bench:channel_app",
                "echo": "bench.webhook_bench:echo_app"}
        if args.baseline is not None:
            apps = {"before": "bot.wsgi:app", **apps}
        ports = {name: free_port() for name in apps}
        for name, target in apps.items():
            procs.append(gunicorn(target, ports[name], envs[name], args, roots[name]))
        for proc, port in zip(procs, ports.values(), strict=True):
            wait_ready(port, proc)
        warm = argparse.Namespace(**{**vars(args), "clients": 4, "requests": 8, "think": 0.0})
        for name, port in ports.items():
            drive(port, warm, "w" + name)
        db_apps = {"ours", "before"}
        db = "PostgreSQL" if "postgres" in env["YINLING_DATABASE_URL"] else "SQLite"
        store = "Redis" if args.redis_url else "in-process store"
        print(f"webhook bench: {args.clients} clients x {args.requests} signed text messages ({args.mode} mode), "
              f"gunicorn -w {args.workers} --threads {args.threads}, {os.cpu_count()} CPUs, {db}, {store}, "
              f"think {args.think:g} s{' in lockstep' if args.lockstep else (' ± 50 %, random start' if args.think else '')}"
              + (f", {args.rounds} rounds (medians)" if args.rounds > 1 else ""))
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ports}
        for rnd in range(args.rounds):
            for (name, port), proc in zip(ports.items(), procs, strict=True):
                with CPU(proc, envs[name]["YINLING_DATABASE_URL"] if name in db_apps else None) as cpu:
                    r = drive(port, args, f"{name}{rnd}" if rnd else name)
                n = max(1, r["requests"])
                r["cpu_web"], r["cpu_db"] = 1000 * cpu.web / n, 1000 * cpu.db / n
                runs[name].append(r)
            if args.rounds > 1:
                print(f"  round {rnd + 1}: " + "   ".join(f"{name} {rs[-1]['rps']:.0f} req/s" for name, rs in runs.items()))
        results = {name: _median_run(rs) for name, rs in runs.items()}
        for name, r in results.items():
            r["label"] = name
            r["cpu"] = f"CPU/req: gunicorn {r['cpu_web']:.2f} ms" + (
                f", PostgreSQL {r['cpu_db']:.2f} ms" if name in db_apps and r["cpu_db"] else "")
        for r in results.values():
            print(f"  {r['label']:>7}: {r['rps']:7.1f} req/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   "
                  f"mean {r['mean']:7.1f} ms   {r['requests']} requests, {r['errors']} errors, "
                  f"{r['empty']} empty {' '.join(r['error_kinds'])}   {r['cpu']}")
        echo = results["echo"]
        if "before" in results:
            b, o = results["before"], results["ours"]
            print(f"  ours/before: throughput {o['rps'] / b['rps'] if b['rps'] else float('inf'):.2f}x, "
                  f"gunicorn CPU per request {o['cpu_web'] / b['cpu_web'] if b['cpu_web'] else 0:.2f}x "
                  f"(before: {args.baseline})")
        for name in [n for n in ("ours", "before", "channel") if n in results]:
            r = results[name]
            print(f"  ratio {name}/echo: throughput {echo['rps'] / r['rps'] if r['rps'] else float('inf'):.2f}x "
                  f"lower, p50 {r['p50'] / echo['p50'] if echo['p50'] else float('inf'):.2f}x, "
                  f"p99 {r['p99'] / echo['p99'] if echo['p99'] else float('inf'):.2f}x")
        return 0 if all(r["errors"] == 0 for r in runs["ours"]) else 1
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
        before_url = envs.get("before", {}).get("YINLING_DATABASE_URL", "")
        if "postgres" in before_url:
            drop_database(before_url)
        if args.redis_url:
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for key in client.scan_iter(match=env["YINLING_REDIS_PREFIX"] + "*"):
                client.delete(key)


if __name__ == "__main__":
    sys.exit(main())
