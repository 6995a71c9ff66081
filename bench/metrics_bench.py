"""Metrics bench: what counting and logging add to one turn, and how long a scrape of /metrics takes.

    .venv/bin/python bench/metrics_bench.py [--turns 20000] [--scrapes 200] [--redis redis://127.0.0.1:6379/0]

Prints microseconds per turn for the turn's probe (counters, histogram, the `turn done` line) with plain and
JSON log lines, and p50 / p99 of a /metrics scrape on the demo database (SQLite; queue depth from Redis when
--redis is given).
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session  # noqa: E402

from bot import logs, metrics  # noqa: E402
from bot.app import create_app  # noqa: E402
from data.crypto import PhoneVault  # noqa: E402
from data.db import make_engine  # noqa: E402
from data.migrate import upgrade  # noqa: E402
from data.seed import load_demo  # noqa: E402
from data.timeutil import utcnow  # noqa: E402

SECRET = "bench-secret-key-0123456789"


def probe_cost(turns: int, fmt: str) -> float:
    logs.setup(logging.INFO, fmt, io.StringIO(), force=True)
    turn = SimpleNamespace(parse={"intent": {"name": "search_activities"}}, understood=True)
    start = time.perf_counter()
    for n in range(turns):
        probe = metrics.TurnProbe("wechat", f"req{n:08d}")
        probe.read(turn)
        probe.done()
    return (time.perf_counter() - start) / turns * 1e6


def scrape_times(scrapes: int, redis_url: str | None) -> list[float]:
    tmp = Path(tempfile.mkdtemp(prefix="metrics-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s, s.begin():
        load_demo(s, utcnow(), PhoneVault(SECRET))
    engine.dispose()
    app = create_app({"database.url": url, "redis.url": redis_url, "secret_key": SECRET,
                      "redis.prefix": f"bench:{uuid.uuid4().hex[:6]}:"})
    client = app.test_client()
    out = []
    for _ in range(scrapes):
        t = time.perf_counter()
        r = client.get("/metrics")
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20000)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--redis")
    args = parser.parse_args()
    for fmt in ("plain", "json"):
        print(f"turn probe + '{fmt}' log line: {probe_cost(args.turns, fmt):.1f} µs per turn")
    logging.getLogger().setLevel(logging.WARNING)
    times = sorted(scrape_times(args.scrapes, args.redis))
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    where = "SQLite + Redis queues" if args.redis else "SQLite, no Redis"
    print(f"/metrics scrape ({where}): p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, "
          f"max {times[-1]:.1f} ms over {len(times)}")


if __name__ == "__main__":
    main()
