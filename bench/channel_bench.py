"""Channel bench: the CPU our /wechat webhook itself costs per message, in-process, next to a bare wechatpy echo.

    .venv/bin/python bench/channel_bench.py [--mode plain|safe|both] [--requests 2000] [--rounds 5]
        [--redis-url redis://127.0.0.1:6379/12] [--profile]

Calls `bench.webhook_bench:channel_app` (the real webhook: signature, replay and size checks, XML, dedup
bookkeeping, the hand-off to the turn thread, the reply; a constant turn instead of NLU + dialogs + database)
and `bench.webhook_bench:echo_app` as plain WSGI callables from one thread, with signed messages made beforehand
(tests/drivers/wechat.py). Prints the CPU per request (`time.process_time` of this process, every thread: the
turn thread included) as the median and the minimum of `--rounds` rounds of `--requests` requests (the minimum moves least with
the machine's load), and the channel's cost beyond
echo. `--profile` adds a cProfile of one round of the channel sorted by tottime. Without `--redis-url` the store
is the in-process one. Prints numbers only: it never judges them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN, WechatDriver, build_xml  # noqa: E402

MESSAGES = ("找活动", "1", "2", "0", "明天有什么活动", "礼拜六上午有啥", "0", "我的活动")


def requests_for(mode: str, n: int, tag: str) -> list[tuple[str, bytes]]:
    """`n` signed (query string, body) pairs from 50 users, each message with a fresh MsgId."""
    drivers = [WechatDriver(lambda *_a: (200, b""), mode=mode, openid=f"oChan{tag}{u:04d}{os.getpid()}")
               for u in range(50)]
    out = []
    for i in range(n):
        d = drivers[i % len(drivers)]
        fields = d._fields("text", Content=MESSAGES[i % len(MESSAGES)], MsgId=10_000_000 + i)
        query, body = d.sign(build_xml(fields))
        out.append((urlencode(query), body))
    return out


def call(app: Any, qs: str, body: bytes) -> bytes:
    environ = {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/wechat", "QUERY_STRING": qs,
        "CONTENT_TYPE": "text/xml", "CONTENT_LENGTH": str(len(body)), "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    status: list[str] = []

    def start_response(s: str, _headers: Any, _exc: Any = None) -> Any:
        status.append(s)
        return None

    result = app(environ, start_response)
    try:
        out = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not status or not status[0].startswith("200") or out in (b"", b"success"):
        raise SystemExit(f"unexpected answer {status} {out[:80]!r}")
    return out


def access_log_filters(n: int) -> float:
    """CPU per gunicorn access-log record of the filters our app puts on `gunicorn.access` (secrets masked):
    the record carries gunicorn's atoms, built by gunicorn from a webhook call's request and response."""
    import logging
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger, SafeAtoms

    qs, body = requests_for("plain", 1, "log")[0]
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": f"/wechat?{qs}", "PATH_INFO": "/wechat", "QUERY_STRING": qs,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SCRIPT_NAME": "", "CONTENT_TYPE": "text/xml",
               "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": "Mozilla/4.0",
               "HTTP_ACCEPT": "*/*", "HTTP_CONNECTION": "keep-alive", "wsgi.url_scheme": "http",
               "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
               "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "SERVER_SOFTWARE": "gunicorn"}
    req = SimpleNamespace(headers=[("HOST", "127.0.0.1:8000"), ("CONTENT-TYPE", "text/xml"),
                                   ("CONTENT-LENGTH", str(len(body))), ("USER-AGENT", "Mozilla/4.0"),
                                   ("ACCEPT", "*/*"), ("CONNECTION", "keep-alive")])
    from bot.app import CSP

    resp = SimpleNamespace(status="200 OK", sent=400, headers=[
        ("Content-Type", "application/xml; charset=utf-8"), ("Content-Length", "400"),
        ("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY")])
    glog = Logger(Config())
    fmt = Config().access_log_format
    atoms = [glog.atoms(resp, req, environ, timedelta(microseconds=1500)) for _ in range(n)]
    filters = logging.getLogger("gunicorn.access").filters
    records = [logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, fmt, (SafeAtoms(a),), None)
               for a in atoms]
    t0 = time.process_time()
    for record in records:
        for f in filters:
            f.filter(record)  # type: ignore[union-attr]
    spent = (time.process_time() - t0) / n
    if "signature=***" not in records[0].getMessage():
        raise SystemExit("the access-log line was not masked")
    return spent


def one_round(app: Any, reqs: list[tuple[str, bytes]]) -> float:
    t0 = time.process_time()
    for qs, body in reqs:
        call(app, qs, body)
    return (time.process_time() - t0) / len(reqs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("plain", "safe", "both"), default="both")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--redis-url")
    ap.add_argument("--profile", action="store_true", help="cProfile one round of the channel (sorted by tottime)")
    args = ap.parse_args()

    modes = ("plain", "safe") if args.mode == "both" else (args.mode,)
    tmp = Path(tempfile.mkdtemp(prefix="yinling-chbench-"))
    for k in [k for k in os.environ if k.startswith(("YINLING_", "WECHAT_"))]:
        del os.environ[k]
    os.environ.update({
        "YINLING_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "YINLING_SECRET_KEY": "bench-secret-key-0123456789",
        "YINLING_LOG_LEVEL": "WARNING", "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID,
        "WECHAT_API_BASE": "http://127.0.0.1:9",
    })
    if args.redis_url:
        os.environ["YINLING_REDIS_URL"] = args.redis_url
        os.environ["YINLING_REDIS_PREFIX"] = f"chbench:{os.getpid()}:"
    import logging

    logging.getLogger().setLevel(logging.WARNING)  # as under gunicorn: no handler of ours, INFO lines dropped

    from bench import webhook_bench

    store = "Redis" if args.redis_url else "in-process store"
    print(f"channel bench: {args.rounds} rounds x {args.requests} signed text messages, one thread, {store}; "
          "CPU per request = time.process_time / requests: median and min of the rounds")
    for mode in modes:
        if mode == "safe":
            os.environ["WECHAT_AES_KEY"] = AES_KEY
        else:
            os.environ.pop("WECHAT_AES_KEY", None)
        webhook_bench._channel_app = None  # a fresh app for this mode's configuration
        channel, echo = webhook_bench.channel_app, webhook_bench.echo_app
        call(channel, *requests_for(mode, 1, "warm")[0])
        if mode == "plain":
            call(echo, *requests_for(mode, 1, "warmecho")[0])
        ch, ec = [], []
        for r in range(args.rounds):
            ch.append(one_round(channel, requests_for(mode, args.requests, f"c{r}")))
            if mode == "plain":  # the echo app reads plain messages only
                ec.append(one_round(echo, requests_for(mode, args.requests, f"e{r}")))
        line = (f"  {mode:>5}: channel median {1000 * statistics.median(ch):.3f} ms/req, "
                f"min {1000 * min(ch):.3f}")
        if ec:
            line += (f"   echo median {1000 * statistics.median(ec):.3f}, min {1000 * min(ec):.3f}   "
                     f"channel - echo (medians) {1000 * (statistics.median(ch) - statistics.median(ec)):.3f} ms")
        print(line)
        if args.profile:
            reqs = requests_for(mode, args.requests, "prof")
            prof = cProfile.Profile()
            prof.enable()
            for qs, body in reqs:
                call(channel, qs, body)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
            print(out.getvalue())
    logs = [access_log_filters(args.requests) for _ in range(args.rounds)]
    print(f"  access-log filters (gunicorn --access-logfile): median {1000 * statistics.median(logs):.3f} ms/record, "
          f"min {1000 * min(logs):.3f}")
    if webhook_bench._channel_app is not None:
        webhook_bench._channel_app.extensions["wechat"].pool.shutdown(wait=True)
    if args.redis_url:  # leave the database as it was
        import redis

        client = redis.Redis.from_url(args.redis_url)
        for key in client.scan_iter(f"chbench:{os.getpid()}:*", count=1000):
            client.delete(key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
