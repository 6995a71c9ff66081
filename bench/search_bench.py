"""Search benchmark: the demo region, then N more published activities (default 100,000) spread over 180
days and over the region's communities, on PostgreSQL in a throw-away database. Prints p50/p99 (ms) of
`search_activities` per query kind, a fresh session per search as the bot has one per message, the demo
size alongside, and with --explain the plan of each kind at full size (EXPLAIN ANALYZE) to show the
indexes at work. The machine's load average is printed with the numbers: on a shared 2-core machine
they move with it.

    YINLING_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
    .venv/bin/python bench/search_bench.py --activities 100000 --explain [--light]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TITLES = ["书法进社区", "老年书法班", "剪纸课堂", "义诊服务", "理发进社区", "陪老人聊天", "环境清扫", "读报会",
          "交通劝导", "关爱留守儿童", "政策宣讲", "垃圾分类宣传", "量血压", "法律咨询日", "助残送餐", "植树",
          "文艺汇演服务", "社区图书角整理", "防诈骗讲座", "健康操教学", "马拉松赛会服务", "冬季扫雪", "送温暖",
          "牧区流动义诊", "敬老院探访", "智能手机教学", "暑期托管", "手工编织", "爱心早餐", "安全巡逻"]
DESCRIPTIONS = ["在社区活动室，需要有耐心", "带上老花镜", "室外活动，注意保暖", "需要会写毛笔字的志愿者",
                "帮老人量血压、测血糖", "给孩子们讲故事", "站着的时间较长", "有车的志愿者优先", None]
CATEGORIES = ["助老", "环境保护", "社区服务", "医疗健康", "文化教育", "关爱儿童", "文明交通", "助残",
              "法律咨询", "应急救援", "赛会服务", "扶贫济困"]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--activities", type=int, default=100_000)
    ap.add_argument("--places", type=int, default=2_000,
                    help="communities added around the demo townships (a region has thousands); 0 = demo places only")
    ap.add_argument("--runs", type=int, default=200, help="searches per query kind")
    ap.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each kind at full size")
    ap.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    ap.add_argument("--light", action="store_true",
                    help="list-line rows, as the search screen reads them (default: Activity objects, as recommend)")
    args = ap.parse_args()
    pg = os.environ.get("YINLING_BENCH_POSTGRES_URL") or os.environ.get("YINLING_TEST_POSTGRES_URL")
    if not pg:
        print("set YINLING_BENCH_POSTGRES_URL (PostgreSQL)")  # noqa: T201
        return 2

    from sqlalchemy import create_engine, event, insert, select, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from data import services as svc
    from data.crypto import PhoneVault
    from data.db import make_engine
    from data.migrate import upgrade
    from data.models import Activity, ActivityStatus, Place, PlaceLevel, Team
    from data.seed import load_demo
    from data.timeutil import to_local, to_utc, utcnow

    server = make_url(pg)
    name = f"yinling_sbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        now = utcnow()
        with Session(engine) as s, s.begin():
            load_demo(s, now, PhoneVault("bench-secret-key-0123456789"))
        with Session(engine) as s:
            district = s.scalars(select(Place).where(Place.name == "赛罕区")).one().id
            point = s.scalars(select(Place).where(Place.name == "阳光社区")).one()
            here = (float(point.lat or 0), float(point.lon or 0))
        today = to_local(now).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        sat = today + timedelta(days=(5 - today.weekday()) % 7)
        kinds: dict[str, dict[str, Any]] = {
            "this weekend": {"time_from": to_utc(sat), "time_to": to_utc(sat + timedelta(days=2))},
            "district subtree, next 7 days": {"place_id": district, "time_to": now + timedelta(days=7)},
            "one category, all dates": {"category": "文化教育"},
            "text 书法, all dates": {"text": "书法"},
            "text 智能手机, all dates": {"text": "智能手机"},
            "near a point, 5 km, all dates": {"near": here, "max_km": 5.0},
            "nearest first, next 7 days": {"near": here, "time_to": now + timedelta(days=7)},
        }

        db_ms: list[float] = []

        def on_exec(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            """PostgreSQL's own time (planning + execution) for each statement, by EXPLAIN ANALYZE."""
            cursor.execute("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + statement, params)
            plan = cursor.fetchone()[0][0]
            db_ms.append(plan["Planning Time"] + plan["Execution Time"])

        def measure(label: str) -> dict[str, tuple[float, ...]]:
            """Per kind: wall p50/p99, client CPU p50/p99, database p50/p99 (ms), total."""
            out = {}
            for kind, q in kinds.items():
                times: list[float] = []
                cpu: list[float] = []
                db: list[float] = []
                total = 0
                for i in range(args.runs + 5):
                    t, c = time.perf_counter(), time.process_time()
                    with Session(engine) as s:
                        res = svc.search_activities(s, now=now, limit=4, light=args.light, **q)
                        total = res.total
                    if i >= 5:  # the first few warm the caches
                        times.append((time.perf_counter() - t) * 1000)
                        cpu.append((time.process_time() - c) * 1000)
                event.listen(engine, "before_cursor_execute", on_exec)
                try:
                    for _ in range(max(20, args.runs // 4)):
                        db_ms.clear()
                        with Session(engine) as s:
                            svc.search_activities(s, now=now, limit=4, light=args.light, **q)
                        db.append(sum(db_ms))
                finally:
                    event.remove(engine, "before_cursor_execute", on_exec)
                out[kind] = (statistics.median(times), pct(times, 99), statistics.median(cpu), pct(cpu, 99),
                             statistics.median(db), pct(db, 99), total)
            print(f"measured {label}; load average {os.getloadavg()[0]:.1f}", flush=True)  # noqa: T201
            return out

        demo = measure("demo data")
        t0 = time.perf_counter()
        rng = random.Random(14)
        with Session(engine) as s, s.begin():
            team_ids = list(s.scalars(select(Team.id)))
            townships = list(s.scalars(select(Place).where(Place.level == PlaceLevel.TOWNSHIP)))
            village_rows = []
            for i in range(args.places):
                town = rng.choice(townships)
                village_rows.append({
                    "name": f"压测社区{i}", "level": PlaceLevel.VILLAGE, "parent_id": town.id, "path": town.path,
                    "lat": (town.lat or 0) + rng.uniform(-0.15, 0.15), "lon": (town.lon or 0) + rng.uniform(-0.2, 0.2)})
            if village_rows:
                ids = list(s.execute(insert(Place).returning(Place.id), village_rows).scalars())
                for pid, row in zip(ids, village_rows, strict=True):
                    s.execute(Place.__table__.update().where(Place.id == pid).values(path=f"{row['path']}{pid}/"))
            place_ids = list(s.scalars(select(Place.id).where(Place.level == PlaceLevel.VILLAGE)))
        base = now.replace(minute=0, second=0, microsecond=0)
        for start in range(0, args.activities, 5_000):
            rows = []
            for _ in range(start, min(args.activities, start + 5_000)):
                at = base + timedelta(hours=rng.randint(1, 180 * 24))
                rows.append({
                    "title": rng.choice(TITLES), "category": rng.choice(CATEGORIES), "team_id": rng.choice(team_ids),
                    "place_id": rng.choice(place_ids), "starts_at": at, "ends_at": at + timedelta(hours=2),
                    "capacity": rng.randint(5, 30), "physical_load": rng.randint(1, 3),
                    "description": rng.choice(DESCRIPTIONS), "status": ActivityStatus.PUBLISHED,
                    "needs_review": False, "auto_confirm": True, "created_at": now, "updated_at": now})
            with engine.begin() as conn:
                conn.execute(insert(Activity), rows)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        print(f"{args.activities} activities at {args.places} more places loaded in "  # noqa: T201
              f"{time.perf_counter() - t0:.0f}s", flush=True)
        full = measure(f"{args.activities} activities")

        print(f"\nsearch_activities, limit 4, {args.runs} runs each (ms): wall clock (what a message waits; moves "  # noqa: T201
              "with the machine's load), the client's CPU (SQLAlchemy + psycopg), and PostgreSQL's own time "
              "(planning + execution, EXPLAIN ANALYZE)")
        head = f"{'query':30} {'':6} {'wall p50':>8} {'p99':>7} {'cpu p50':>8} {'p99':>6} {'db p50':>7} {'p99':>6} {'total':>6}"
        print(head)  # noqa: T201
        for kind in kinds:
            for label, row in (("demo", demo[kind]), (f"{args.activities // 1000}k", full[kind])):
                more = "+" if row[6] >= svc.COUNT_CAP else ""
                print(f"{kind:30} {label:6} {row[0]:8.2f} {row[1]:7.2f} {row[2]:8.2f} {row[3]:6.2f} "  # noqa: T201
                      f"{row[4]:7.2f} {row[5]:6.2f} {row[6]:>5}{more}")
        print(f"(total: {svc.COUNT_CAP}+ means the count stopped at the cap, shown as 超过{svc.COUNT_CAP})")  # noqa: T201

        if args.explain:
            captured: list[str] = []

            def show_plan(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
                if statement.lstrip().upper().startswith("SELECT") and "activities" in statement:
                    captured.append(statement)
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF) " + statement, params)
                    plan = "\n".join("    " + r[0] for r in cursor.fetchall())
                    print(plan)  # noqa: T201

            run_explain: Callable[..., None] = show_plan
            for kind, q in kinds.items():
                print(f"\n== {kind}")  # noqa: T201
                event.listen(engine, "before_cursor_execute", run_explain)
                try:
                    with Session(engine) as s:
                        svc.search_activities(s, now=now, limit=4, light=args.light, **q)
                finally:
                    event.remove(engine, "before_cursor_execute", run_explain)
        if args.keep:
            print("kept:", engine.url.render_as_string(hide_password=False))  # noqa: T201
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
