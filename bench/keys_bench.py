"""Key rotation benchmark: N volunteers with a phone and an SMS identity under the old key, then
`rotate_keys` to a new one. Prints rows per second and the whole time, on SQLite (a file) and, with
YINLING_BENCH_POSTGRES_URL, on PostgreSQL in a throw-away database; the load average alongside, since on a
shared machine the numbers move with it.

    YINLING_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
    .venv/bin/python bench/keys_bench.py --people 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OLD = "bench-old-secret-0123456789"
NEW = "bench-new-secret-9876543210"


def fill(url: str, people: int) -> None:
    from sqlalchemy import insert

    from data.crypto import PhoneVault
    from data.db import make_engine
    from data.migrate import upgrade
    from data.models import ChannelIdentity, Volunteer

    engine = make_engine(url)
    upgrade(engine)
    old = PhoneVault(OLD)
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        for start in range(0, people, 2000):
            phones = [f"139{n:08d}" for n in range(start, min(people, start + 2000))]
            conn.execute(insert(Volunteer), [
                {"id": start + i + 1, "created_at": now, "skills": [], "categories": [], "availability": 0,
                 "max_load": 2, "phone_enc": old.encrypt(p), "phone_hash": old.lookup_hash(p),
                 "phone_masked": p[:3] + "****" + p[-4:]} for i, p in enumerate(phones)])
            conn.execute(insert(ChannelIdentity), [
                {"volunteer_id": start + i + 1, "channel": "sms", "external_id": old.lookup_hash(p),
                 "address_enc": old.encrypt(p), "created_at": now} for i, p in enumerate(phones)])
    engine.dispose()


def measure(label: str, url: str, people: int, batch: int) -> None:
    from data.crypto import PhoneVault
    from data.db import make_engine, make_sessionmaker
    from data.keys import pending, rotate_keys

    fill(url, people)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    t0 = time.perf_counter()
    report = rotate_keys(sessions, PhoneVault(NEW, [OLD]), batch_size=batch)
    took = time.perf_counter() - t0
    t1 = time.perf_counter()
    again = rotate_keys(sessions, PhoneVault(NEW, [OLD]), batch_size=batch)
    rerun = time.perf_counter() - t1
    left = sum(pending(sessions, PhoneVault(NEW)).values())
    engine.dispose()
    print(f"{label:10} {people} people, {report.rotated} rows re-keyed in {took:.1f} s "  # noqa: T201
          f"({report.rotated / took:.0f} rows/s, batches of {batch}); a second run checks {again.tables['volunteers'].current}"
          f" volunteers in {rerun:.1f} s; left under the old key: {left}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # noqa: T201
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/keys.db", args.people, args.batch)
    pg = os.environ.get("YINLING_BENCH_POSTGRES_URL")
    if not pg:
        print("PostgreSQL: set YINLING_BENCH_POSTGRES_URL")  # noqa: T201
        return 0
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"yinling_keys_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(pg).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        measure("PostgreSQL", make_url(pg).set(database=name).render_as_string(hide_password=False),
                args.people, args.batch)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
