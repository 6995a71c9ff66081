"""Ack bench: how fast the webhooks answer the provider while the turn is still running, and how fast the
Rasa client gives up. These numbers used to be wall-clock asserts in unit tests (< 1.0 s, < 0.7 s, < 0.8 s,
< 0.45 s); the tests now check the behaviour (answer first, turn later) and the timings live here.

    .venv/bin/python bench/ack_bench.py [--runs 50]

Each turn is held (a patched `respond` waiting on an event) so what is measured is only the answer to the
provider. Prints p50 / p99 / max in milliseconds per case, next to the limit the provider gives us:
- SMS Gateway for Android: the app's webhook, one message per POST (the gateway retries slow answers);
- Aliyun SMS reply push, a batch of 5 messages per POST (Aliyun expects an answer within a few seconds);
- WeChat, a turn slower than the reply budget: the empty answer should come right after the budget
  (WeChat gives up at 5 s, and retries);
- WeChat, a billion-laughs body refused (never expanded);
- the Rasa HTTP client with a 100 ms timeout against a server that does not answer.
"""

from __future__ import annotations

import argparse
import http.server
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session  # noqa: E402

import bot.pipeline  # noqa: E402
from data.crypto import PhoneVault  # noqa: E402
from data.db import make_engine  # noqa: E402
from data.kv import MemoryStore  # noqa: E402
from data.migrate import upgrade  # noqa: E402
from data.seed import load_demo  # noqa: E402
from data.timeutil import utcnow  # noqa: E402
from tests.drivers.sms import TEST_SECRET, SmsHarness, new_phone  # noqa: E402
from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN, WechatDriver, flask_transport  # noqa: E402
from tests.fakes.sms_aliyun import FakeAliyunSms  # noqa: E402
from tests.fakes.sms_android import FakeAndroidGateway  # noqa: E402

RELEASE = threading.Event()


def held_respond(real: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def held(turn: Any) -> Any:
        RELEASE.wait(30)
        return real(turn)

    return held


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def report(name: str, ms: list[float], limit: str) -> None:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{name:<46} n={len(ms):<4} p50={statistics.median(ms):7.1f} ms  p99={p99:7.1f} ms  "
          f"max={ms[-1]:7.1f} ms   ({limit})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the cases log warnings by design (refusals, timeouts)
    logging.getLogger().setLevel(logging.CRITICAL)

    tmp = Path(tempfile.mkdtemp(prefix="ackbench-"))
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    upgrade(engine)
    with Session(engine) as s, s.begin():
        load_demo(s, utcnow(), PhoneVault(TEST_SECRET))
    print(f"database: SQLite (demo region); store: in-process; {args.runs} runs per case")
    harnesses: list[SmsHarness] = []

    real = bot.pipeline.respond
    bot.pipeline.respond = held_respond(real)  # type: ignore[assignment]
    try:
        android = FakeAndroidGateway()
        h = SmsHarness(engine, MemoryStore(), {
            "sms.providers": ["android"], "sms.outbound": "android", "sms.android.base_url": android.url,
            "sms.android.password": android.password, "sms.android.signing_key": android.signing_key})
        url = h.url("android", None)
        report("SMS Android webhook answered", timed(lambda: android.deliver(url, new_phone(), "你好"), args.runs),
               "gateway retries slow answers")
        harnesses.append(h)

        aliyun = FakeAliyunSms(templates={"SMS_100": {"p1": 35}})
        ha = SmsHarness(engine, MemoryStore(), {
            "sms.providers": ["aliyun"], "sms.outbound": "aliyun", "sms.aliyun.endpoint": aliyun.host,
            "sms.aliyun.scheme": "http", "sms.aliyun.access_key_id": aliyun.key_id,
            "sms.aliyun.access_key_secret": aliyun.key_secret, "sms.aliyun.sign_name": "银龄志愿",
            "sms.aliyun.templates": {"reply": {"id": "SMS_100", "vars": {"p1": 35}}}})
        harnesses.append(ha)
        aurl = ha.url("aliyun")
        report("Aliyun push of 5 answered", timed(
            lambda: aliyun.post_push(aurl, aliyun.push_body([(new_phone(), "你好") for _ in range(5)])),
            args.runs), "Aliyun expects an answer within seconds")

        budget = 0.3
        wx = SmsHarness(engine, MemoryStore(), {"wechat.token": TOKEN, "wechat.app_id": APP_ID,
                                               "wechat.aes_key": AES_KEY})
        harnesses.append(wx)
        wx.app.extensions["wechat"].cfg.reply_budget_seconds = budget
        client = wx.app.test_client()
        slow_runs = max(5, args.runs // 5)
        report(f"WeChat slow turn: empty answer (budget {budget:.1f} s)", timed(
            lambda: WechatDriver(flask_transport(client)).text("找活动"), slow_runs), "WeChat gives up at 5 s")
        laughs = (ROOT / "tests" / "fixtures" / "wechat" / "billion_laughs.xml").read_text(encoding="utf-8")
        d = WechatDriver(flask_transport(client))
        report("WeChat billion-laughs body refused", timed(lambda: d.post(*d.sign(laughs)), args.runs),
               "must not expand")
    finally:
        RELEASE.set()
        for harness in harnesses:
            harness.close()
        bot.pipeline.respond = real  # type: ignore[assignment]

    from nlu.rasa_client import RasaHTTPParser

    silent = threading.Event()

    class Silent(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            silent.wait(30)

        def log_message(self, *a: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    parser = RasaHTTPParser(f"http://127.0.0.1:{server.server_port}/", timeout=0.1)
    from datetime import datetime

    report("Rasa client gives up (timeout 100 ms)", timed(lambda: parser.parse("明天有啥活动", datetime(2026, 12, 5)),
                                                            max(5, args.runs // 5)), "then the built-in NLU")
    silent.set()
    server.shutdown()


if __name__ == "__main__":
    main()
