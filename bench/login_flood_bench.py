"""Login-flood bench: WeChat webhook latency while /admin/login is flooded with wrong passwords.

    .venv/bin/python bench/login_flood_bench.py [--seconds 20] [--flooders 8] [--flood-rate 8] [--clients 10]
        [--think 0.2]
        [--workers 2] [--threads 8] [--redis-url redis://127.0.0.1:6379/15]

Each password check costs ~0.2 s of CPU (scrypt). The flood comes through a proxy (trusted_proxies: 1)
from a new address on every request, with a new user name each time: the worst case, where neither the
per-address limit nor the per-name lock-out applies and only the deployment-wide cap on password checks
(admin.login_checks_per_10s) protects the webhook. Three runs on the same gunicorn set-up: no flood,
flood with the log-in limits switched off (the state before issue 13), flood with the default limits.
Prints webhook p50/p99 and the flood's answers per run. Target: p99 under flood stays far below
WeChat's 5-second window and close to the quiet run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.webhook_bench import drive, free_port, gunicorn, prepare_database, wait_ready  # noqa: E402
from tests.drivers.wechat import APP_ID, TOKEN  # noqa: E402


def flood(port: int, stop: threading.Event, n: int, rate: float) -> Counter[str]:
    """`n` connections posting wrong passwords until `stop`, `rate` tries per second in all (0 = as fast as
    they can); counts the answers (401 checked, 429 refused)."""
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def one(k: int) -> None:
        rng = random.Random(k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/admin/login")
        res = conn.getresponse()
        page = res.read().decode("utf-8")
        cookie = (res.getheader("Set-Cookie") or "").split(";")[0]
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        csrf = token.group(1) if token else ""
        gap = n / rate if rate else 0.0
        next_at = time.monotonic() + rng.uniform(0, gap)
        while not stop.is_set():
            if gap:
                stop.wait(max(0.0, next_at - time.monotonic()))
                next_at += gap
                if stop.is_set():
                    break
            body = urlencode({"csrf": csrf, "username": f"guess{rng.randrange(10**9)}", "password": "wrong-pass"})
            addr = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            try:
                conn.request("POST", "/admin/login", body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                    "X-Forwarded-For": addr})
                status = conn.getresponse()
                status.read()
                kind = str(status.status)
            except (OSError, http.client.HTTPException) as exc:
                kind = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                answers[kind] += 1
        conn.close()

    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    stop.wait()
    for t in threads:
        t.join(timeout=35)
    return answers


def config_file(tmp: Path, name: str, limits: bool) -> Path:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data.setdefault("admin", {})["trusted_proxies"] = 1
    if not limits:
        data["admin"]["login_per_address_per_minute"] = 0
        data["admin"]["login_checks_per_10s"] = 0
        data["admin"]["login_checks_at_once"] = 0
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run(label: str, port: int, args: argparse.Namespace, flooders: int) -> dict[str, Any]:
    stop = threading.Event()
    result: dict[str, Counter[str]] = {}
    flood_thread = None
    if flooders:
        flood_thread = threading.Thread(target=lambda: result.update(f=flood(port, stop, flooders, args.flood_rate)), daemon=True)
        flood_thread.start()
        time.sleep(2.0)  # let the flood build up
    load = argparse.Namespace(**{**vars(args), "requests": 10_000, "max_seconds": args.seconds})
    out = drive(port, load, label)
    stop.set()
    if flood_thread is not None:
        flood_thread.join(timeout=60)
    out["flood"] = dict(result.get("f", Counter()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="webhook load per run")
    ap.add_argument("--flooders", type=int, default=8, help="concurrent log-in flood connections")
    ap.add_argument("--flood-rate", type=float, default=8.0,
                    help="log-in tries per second, all connections together (0 = as fast as they can)")
    ap.add_argument("--clients", type=int, default=10, help="WeChat users messaging meanwhile")
    ap.add_argument("--think", type=float, default=0.2, help="seconds each user waits between messages")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--redis-url", help="default: the in-process store (each worker counts on its own)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.mode, args.lockstep = "plain", False

    tmp = Path(tempfile.mkdtemp(prefix="yinling-loginbench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YINLING_", "WECHAT_"))}
    env.update({
        "PYTHONPATH": str(ROOT), "YINLING_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "YINLING_SECRET_KEY": "bench-secret-key-0123456789", "YINLING_LOG_LEVEL": "WARNING",
        "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, "WECHAT_API_BASE": "http://127.0.0.1:9",
    })
    if args.redis_url:
        env["YINLING_REDIS_URL"] = args.redis_url
        env["YINLING_REDIS_PREFIX"] = f"loginbench:{os.getpid()}:"
    prepare_database(env["YINLING_DATABASE_URL"], env)

    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports = {}
        for name, limits in (("off", False), ("on", True)):
            ports[name] = free_port()
            e = {**env, "YINLING_CONFIG": str(config_file(tmp, name, limits))}
            if args.redis_url:
                e["YINLING_REDIS_PREFIX"] = f"loginbench:{os.getpid()}:{name}:"
            procs.append(gunicorn("bot.wsgi:app", ports[name], e, args))
        for proc, port in zip(procs, ports.values(), strict=True):
            wait_ready(port, proc)
        warm = argparse.Namespace(**{**vars(args), "clients": 2, "requests": 8, "think": 0.0, "max_seconds": 30})
        for port in ports.values():
            drive(port, warm, "warm")
        store = "Redis" if args.redis_url else "in-process store"
        print(f"login flood bench: {args.clients} WeChat users (think {args.think:g} s) for {args.seconds:g} s, "
              f"{args.flooders} flood connections at {args.flood_rate:g} tries/s (new address and name each try), gunicorn -w {args.workers} "
              f"--threads {args.threads}, {os.cpu_count()} CPUs, SQLite, {store}")
        runs = [run("quiet", ports["on"], args, 0), run("flood, limits off", ports["off"], args, args.flooders),
                run("flood, limits on", ports["on"], args, args.flooders)]
        for r in runs:
            answers = " ".join(f"{k}:{v}" for k, v in sorted(r["flood"].items())) or "-"
            print(f"  {r['label']:>18}: webhook p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   "
                  f"{r['rps']:6.1f} msg/s   {r['errors']} errors   log-in answers {answers}")
        return 0
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
        if args.redis_url:
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for key in client.scan_iter(match=f"loginbench:{os.getpid()}:*"):
                client.delete(key)


if __name__ == "__main__":
    sys.exit(main())
