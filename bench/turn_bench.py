"""Turn bench: the cost of one turn in-process, by kind — SQL statements, Redis commands and CPU — through the
real pipeline (`Pipeline.handle`: lock, dedup, identify, NLU, dialogs, message log, commit) on a throw-away
database with the demo region. Each of `--people` WeChat users runs the same day: a search (这周末有什么活动),
details (2), sign-up (报名, then 1 to confirm), and the next morning a reminder answer (`1`). Prints per
kind the statements per turn (always the same for a kind: tests/bot/test_turn_queries.py holds them) and the
CPU per turn (`time.process_time` of this process: Python, SQLAlchemy, the drivers; not the PostgreSQL
server), which moves far less with the machine's load than throughput does.

    .venv/bin/python bench/turn_bench.py [--people 200]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--redis-url redis://127.0.0.1:6379/7]
        [--profile DIR]   (cProfile of all turns, one .prof per kind; `--pyinstrument` prints a tree instead)
        [--show]          (print the replies of the first person, to see what the turns did)
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (kind, message) in order; the reminder answer comes after the reminder went out (see `remind`).
DAY = [("search", "这周末有什么活动"), ("details", "2"), ("signup", "报名"), ("confirm", "1"), ("menu", "0"),
       ("mine", "我的活动")]
REMINDER = ("reminder", "1")


class Counter:
    """Statements sent to the database (executemany counts once) and commands sent to Redis."""

    def __init__(self) -> None:
        self.sql = 0
        self.redis = 0
        self.statements: list[str] = []
        self.keep = False

    def on_sql(self, _conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        self.sql += 1
        if self.keep:
            self.statements.append(" ".join(statement.split())[:600])


def add_people(rt: Any, n: int, now: Any) -> list[str]:
    """`n` WeChat volunteers who agreed to the privacy terms (openid `bench-<id>`), like the demo's."""
    from sqlalchemy import insert

    from data.models import ChannelIdentity, Consent, Volunteer

    with rt.engine.begin() as conn:
        rows = [{"name": f"志愿者{i}", "created_at": now, "skills": [], "categories": [], "availability": 0,
                 "max_load": 9, "recommend_opt_out": False, "notices_opt_out": False, "elder_mode": False}
                for i in range(n)]
        ids = list(conn.execute(insert(Volunteer).returning(Volunteer.id), rows).scalars())
        conn.execute(insert(ChannelIdentity), [{"volunteer_id": v, "channel": "wechat", "external_id": f"bench-{v}",
                                                "created_at": now} for v in ids])
        conn.execute(insert(Consent), [{"volunteer_id": v, "kind": k, "granted": True, "channel": "wechat", "at": now}
                                       for v in ids for k in ("privacy", "notices", "recommendations")])
    return [f"bench-{v}" for v in ids]


def remind(rt: Any, openid: str, now: Any) -> None:
    """What the push layer leaves after the day-before reminder of each live sign-up: a notice and a delivery."""
    from sqlalchemy import select

    from data.models import ChannelIdentity, Signup, SignupStatus
    from data.models_push import Delivery, DeliveryStatus, Notice, NoticeStatus

    with rt.sessions() as s:
        vid = s.scalar(select(ChannelIdentity.volunteer_id).where(ChannelIdentity.external_id == openid))
        for signup in s.scalars(select(Signup).where(Signup.volunteer_id == vid,
                                                     Signup.status == SignupStatus.CONFIRMED)):
            notice = Notice(kind="reminder_day", title="活动提醒", body="提醒您：明天有您报名的活动。",
                            audience={}, activity_id=signup.activity_id, status=NoticeStatus.DONE, total=1,
                            created_at=now)
            s.add(notice)
            s.flush()
            s.add(Delivery(notice_id=notice.id, volunteer_id=vid, status=DeliveryStatus.SENT, channel="wechat",
                           updated_at=now, sent_at=now, attempts=1))
        s.commit()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--database-url", help="a PostgreSQL server (a throw-away database is made on it); "
                                           "default: a fresh SQLite file")
    ap.add_argument("--redis-url", help="default: the in-process store")
    ap.add_argument("--profile", metavar="DIR", help="cProfile per turn kind into DIR/<kind>.prof")
    ap.add_argument("--pyinstrument", action="store_true", help="print pyinstrument's tree of all turns")
    ap.add_argument("--show", action="store_true", help="print the first person's replies and statements")
    ap.add_argument("--webhook-mix", action="store_true",
                    help="each person sends bench/webhook_bench.py's messages instead (and no reminder)")
    ap.add_argument("--new-users", action="store_true",
                    help="people nobody knows yet, as in bench/webhook_bench.py (first contact: the privacy question)")
    args = ap.parse_args()
    day = DAY
    if args.webhook_mix:
        from bench.webhook_bench import MESSAGES

        day = [(f"{i + 1}:{m}", m) for i, m in enumerate(MESSAGES)]

    from sqlalchemy import create_engine, event, text, update
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from bot.config import load_config
    from bot.pipeline import Inbound, Pipeline
    from bot.runtime import build_runtime
    from data.crypto import PhoneVault
    from data.migrate import upgrade
    from data.models import Activity
    from data.seed import load_demo
    from data.timeutil import utcnow
    from dialogs import to_plain

    tmp = Path(tempfile.mkdtemp(prefix="yinling-turns-"))
    admin = None
    if args.database_url:
        name = f"yinling_tb_{uuid.uuid4().hex[:10]}"
        admin = create_engine(make_url(args.database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp / 'turns.db'}"
    prefix = f"turnbench:{uuid.uuid4().hex[:8]}:"
    secret = "bench-secret-key-0123456789"
    try:
        cfg = load_config(env={}, overrides={"database.url": url, "redis.url": args.redis_url,
                                             "redis.prefix": prefix, "secret_key": secret})
        try:
            rt = build_runtime(cfg, ping_when_idle=True)  # as the web app's
        except TypeError:  # older code: no such choice
            rt = build_runtime(cfg)
        upgrade(rt.engine)
        now = utcnow()
        with Session(rt.engine) as s, s.begin():
            load_demo(s, now, PhoneVault(secret))
            # Room for everyone: the bench is about the cost of a turn, not about full activities.
            s.execute(update(Activity).values(capacity=1_000_000))
        people = ([f"new-{i}" for i in range(args.people)] if args.new_users
                  else add_people(rt, args.people, now))
        rt.load_nlu()
        pipeline = Pipeline(rt)

        counter = Counter()
        event.listen(rt.engine, "before_cursor_execute", counter.on_sql)
        store_cls = type(rt.store)
        for meth in ("get", "get_many", "set", "set_nx", "delete", "delete_if", "incr", "claim_two_and_peek",
                     "write_and_delete_if", "set_and_delete"):
            orig = getattr(store_cls, meth, None)
            if orig is None:
                continue

            def counted(self: Any, *a: Any, _orig: Any = orig, **kw: Any) -> Any:
                counter.redis += 1
                return _orig(self, *a, **kw)

            setattr(store_cls, meth, counted)

        sql: dict[str, list[int]] = defaultdict(list)
        red: dict[str, list[int]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        wall: dict[str, list[float]] = defaultdict(list)
        profiles: dict[str, cProfile.Profile] = defaultdict(lambda: cProfile.Profile(time.process_time))
        instrument = None
        if args.pyinstrument:
            from pyinstrument import Profiler

            instrument = Profiler(interval=0.0005)

        def turn(kind: str, openid: str, message: str, at: Any, msg_id: int, show: bool) -> None:
            inbound = Inbound(channel="wechat", sender=openid, text=message, dedup_key=str(msg_id))
            counter.sql = counter.redis = 0
            counter.keep, counter.statements = show, []
            prof = profiles[kind] if args.profile else None
            if instrument is not None:
                instrument.start()
            if prof is not None:
                prof.enable()
            c0, w0 = time.process_time(), time.perf_counter()
            out = pipeline.handle(inbound, now=at)
            c1, w1 = time.process_time(), time.perf_counter()
            if prof is not None:
                prof.disable()
            if instrument is not None:
                instrument.stop()
            sql[kind].append(counter.sql)
            red[kind].append(counter.redis)
            cpu[kind].append(c1 - c0)
            wall[kind].append(w1 - w0)
            if show:
                print(f"--- {kind}: {message}  ({counter.sql} statements, {counter.redis} store commands)")  # noqa: T201
                print(to_plain(out.replies))  # noqa: T201
                for st in counter.statements:
                    print(f"    sql: {st}")  # noqa: T201

        msg = 0
        start = now + timedelta(hours=1)
        for i, openid in enumerate(people):
            at = start + timedelta(seconds=i)
            for kind, message in day:
                msg += 1
                turn(kind, openid, message, at, msg, args.show and i == 0)
                at += timedelta(seconds=20)
        later = start + timedelta(hours=2)
        for openid in people if not args.webhook_mix else ():
            remind(rt, openid, later)
        for i, openid in enumerate(people if not args.webhook_mix else ()):
            msg += 1
            turn(REMINDER[0], openid, REMINDER[1], later + timedelta(minutes=5, seconds=i), msg, args.show and i == 0)

        db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        store = "Redis" if args.redis_url else "in-process store"
        print(f"turn bench: {args.people} people, {db}, {store}, load average {os.getloadavg()[0]:.1f}")  # noqa: T201
        print(f"  {'kind':<13} {'SQL/turn':>8} {'store/turn':>10} {'CPU ms p50':>10} {'mean':>6} "  # noqa: T201
              f"{'wall ms p50':>11}")
        kinds = [k for k, _m in day] + ([] if args.webhook_mix else [REMINDER[0]])
        for kind in kinds:
            s_, r_ = sql[kind], red[kind]
            rng = (f"{min(s_)}" if min(s_) == max(s_) else f"{min(s_)}-{max(s_)}")
            rrng = (f"{min(r_)}" if min(r_) == max(r_) else f"{min(r_)}-{max(r_)}")
            print(f"  {kind:<13} {rng:>8} {rrng:>10} {1000 * statistics.median(cpu[kind]):10.2f} "  # noqa: T201
                  f"{1000 * statistics.fmean(cpu[kind]):6.2f} {1000 * statistics.median(wall[kind]):11.2f}")
        all_cpu = [c for k in kinds for c in cpu[k]]
        print(f"  all turns: CPU {1000 * statistics.fmean(all_cpu):.2f} ms mean per turn, "  # noqa: T201
              f"{sum(sum(sql[k]) for k in kinds) / len(all_cpu):.1f} statements mean")
        if args.profile:
            out_dir = Path(args.profile)
            out_dir.mkdir(parents=True, exist_ok=True)
            for kind, prof in profiles.items():
                prof.dump_stats(str(out_dir / f"{kind}.prof"))
            print(f"  profiles in {out_dir}/<kind>.prof")  # noqa: T201
        if instrument is not None:
            print(instrument.output_text(unicode=True, color=False, show_all=False))  # noqa: T201
        rt.engine.dispose()
        if rt.redis is not None:
            for key in rt.redis.scan_iter(match=prefix + "*"):
                rt.redis.delete(key)
        return 0
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
