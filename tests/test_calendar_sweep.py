"""Date-sensitive behaviour at every awkward instant of tests/clock.py's SWEEP, on SQLite and PostgreSQL.

At each instant the demo region is loaded as if it were that moment, the clock is moved there
(time-machine), and what the product promises is checked against calendar arithmetic done here:
- 明天 / 这周末 / 下周 / 下礼拜六 list exactly the upcoming activities of those days, page after page;
- day-before reminders go out in the evening for tomorrow's activities, once, and the two-hour ones
  for what starts soon; nothing is reminded twice when the tick runs again past midnight;
- the monthly summary goes out on the 1st after 9:00 for the month before, once;
- review escalation leaves activities that are already over alone;
- records are due the configured number of working days after the activity, on a working day;
- WeChat's customer-message window is open 48 hours after the last message, and closed at 48 hours.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.push import LocalJobQueue, PushContext, PushService, get_push
from bot.push.scheduled import escalate_reviews, monthly_summary, remind_records_due, send_reminders
from bot.push.senders import Contact, plan_routes
from bot.runtime import build_runtime
from data.crypto import PhoneVault
from data.db import make_engine
from data.kv import MemoryStore
from data.migrate import upgrade
from data.models import Activity, ActivityStatus, Consent, Signup, SignupStatus, Volunteer
from data.models_push import Notice
from data.records import records_due
from data.seed import load_demo
from data.timeutil import LOCAL, to_local, to_utc
from dialogs import Choices
from tests.clock import SWEEP, Instant
from tests.dialogs.conftest import Chat, real_parser
from tests.fakes.push_apis import FakeApis, serve
from tests.push.conftest import push_config

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, vault: PhoneVault) -> dict[str, Path]:
    """One migrated SQLite database per sweep instant, the demo loaded as if it were that moment."""
    out: dict[str, Path] = {}
    for instant in SWEEP:
        path = tmp_path_factory.mktemp("sweep") / f"{instant.name}.db"
        eng = make_engine(f"sqlite:///{path}")
        upgrade(eng)
        with Session(eng) as s, s.begin():
            load_demo(s, instant.utc, vault)
        eng.dispose()
        out[instant.name] = path
    return out


@pytest.fixture(scope="module")
def pg_templates(request: pytest.FixtureRequest, vault: PhoneVault) -> Iterator[dict[str, str]]:
    """The same on PostgreSQL, made on first use: database names to copy with CREATE DATABASE … TEMPLATE."""
    made: dict[str, str] = {}

    class Lazy(dict[str, str]):
        def __missing__(self, instant_name: str) -> str:
            server = make_url(request.getfixturevalue("pg_server_url"))
            name = f"yinling_swt_{uuid.uuid4().hex[:8]}"
            admin = _admin(server)
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            eng = make_engine(server.set(database=name).render_as_string(hide_password=False))
            upgrade(eng)
            with Session(eng) as s, s.begin():
                load_demo(s, next(i for i in SWEEP if i.name == instant_name).utc, vault)
            eng.dispose()
            made[instant_name] = name
            self[instant_name] = name
            return name

    yield Lazy()
    if made:
        admin = _admin(make_url(request.getfixturevalue("pg_server_url")))
        with admin.connect() as conn:
            for name in made.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _admin(server: Any) -> Any:
    return create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(params=[(i, b) for i in SWEEP for b in BACKENDS],
                ids=[f"{i.name}-{b}" for i in SWEEP for b in BACKENDS])
def world(request: pytest.FixtureRequest, templates: dict[str, Path], pg_templates: dict[str, str],
          tmp_path: Path, clock: time_machine.Traveller) -> Iterator[tuple[Instant, str]]:
    """(instant, database URL): a private copy of the demo as loaded at the instant; the clock is there."""
    instant, backend = request.param
    clock.move_to(instant.local.astimezone(UTC))
    if backend == "sqlite":
        target = tmp_path / "sweep.db"
        shutil.copy(templates[instant.name], target)
        yield instant, f"sqlite:///{target}"
        return
    template = pg_templates[instant.name]
    server = make_url(request.getfixturevalue("pg_server_url"))
    name = f"yinling_sw_{uuid.uuid4().hex[:10]}"
    admin = _admin(server)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield instant, server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# -- what the words mean, done by hand ------------------------------------------------------------------


def day_range(phrase: str, today: date) -> tuple[date, date]:
    """[first, last) local days the phrase names, weeks running Monday to Sunday."""
    monday = today - timedelta(days=today.weekday())
    if phrase == "明天有啥活":
        return today + timedelta(days=1), today + timedelta(days=2)
    if phrase == "这周末有啥活动":
        saturday = monday + timedelta(days=5)
        return max(saturday, today), monday + timedelta(days=7)
    if phrase == "下周有啥活":
        return monday + timedelta(days=7), monday + timedelta(days=14)
    if phrase == "下礼拜六有活吗":
        return monday + timedelta(days=12), monday + timedelta(days=13)
    raise AssertionError(phrase)


def _start_of(day: date) -> datetime:
    return to_utc(datetime(day.year, day.month, day.day, tzinfo=LOCAL))


ACTIVITY_LINE = re.compile(r"\d+月\d+日（星期.）(凌晨|早上|上午|中午|下午|晚上)\d+点")


def listed_titles(chat: Chat, first: str) -> list[str]:
    """Every option line of a search, turning pages until the bot says that is all."""
    lines: list[str] = []
    chat.send(first)
    for _ in range(30):
        last = next((r for r in reversed(chat.replies) if isinstance(r, Choices)), None)
        if last is None:
            break
        # Activity lines say a clock time; a "nothing then, how about 12月28日的活动" screen offers days.
        lines += [o for o in last.options if ACTIVITY_LINE.match(o)]
        before = chat.replies
        chat.send("还有吗")
        if chat.replies == before or not any(isinstance(r, Choices) for r in chat.replies):
            break
    return lines


@pytest.mark.parametrize("phrase", ["明天有啥活", "这周末有啥活动", "下周有啥活", "下礼拜六有活吗"])
def test_day_words_list_exactly_those_days(world: tuple[Instant, str], phrase: str) -> None:
    instant, url = world
    parser = real_parser()
    if parser is None:
        pytest.skip("nlu.Parser not available")
    now = instant.utc
    eng = make_engine(url)
    try:
        with Session(eng) as s:
            # Someone with no home: the whole region is searched, so the list is every activity of those days.
            v = Volunteer(name="测试员", created_at=now, skills=[], categories=[], availability=0, max_load=3)
            s.add(v)
            s.flush()
            s.add(Consent(volunteer_id=v.id, kind="privacy", granted=True, channel="wechat", at=now))
            s.flush()
            first, last = day_range(phrase, to_local(now).date())
            expected = list(s.scalars(select(Activity.title).where(
                Activity.status == ActivityStatus.PUBLISHED, Activity.starts_at >= now,
                Activity.starts_at >= _start_of(first), Activity.starts_at < _start_of(last))))
            chat = Chat(s, MemoryStore(), v, now, parser=parser.parse)
            lines = listed_titles(chat, phrase)
            s.rollback()
    finally:
        eng.dispose()
    shown = [t for t in expected if any(t in line for line in lines)]
    assert sorted(shown) == sorted(expected), f"{instant.name}: {phrase} missed {set(expected) - set(shown)}"
    assert len(lines) == len(expected), f"{instant.name}: {phrase} listed more than those days:\n" + \
        "\n".join(lines)
    for line in lines:  # and every line says a date inside the range
        m = re.match(r"(\d+)月(\d+)日", line)
        assert m, line
        shown_day = (int(m.group(1)), int(m.group(2)))
        days = [first + timedelta(days=k) for k in range((last - first).days)]
        assert shown_day in {(d.month, d.day) for d in days}, line


# -- scheduled duties ------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    with serve() as f:
        yield f


@pytest.fixture
def push(world: tuple[Instant, str], fake: FakeApis) -> Iterator[PushService]:
    _, url = world
    rt = build_runtime(push_config(url, fake.url))
    yield get_push(rt, PushContext.build(rt, queue=LocalJobQueue(threaded=False)))
    rt.engine.dispose()


def _notices(push: PushService, kind: str) -> list[Notice]:
    with push.rt.sessions() as s:
        return list(s.scalars(select(Notice).where(Notice.kind == kind)))


def test_reminders_day_before_in_the_evening_once(world: tuple[Instant, str], push: PushService) -> None:
    instant, _ = world
    now = instant.utc
    local = to_local(now)
    cfg = push.rt.config.push
    tomorrow = local.date() + timedelta(days=1)
    with push.rt.sessions() as s:
        confirmed = {a.id for a in s.scalars(select(Activity).join(Signup).where(
            Signup.status == SignupStatus.CONFIRMED, Activity.status == ActivityStatus.PUBLISHED))}
        acts = {a.id: a for a in s.scalars(select(Activity).where(Activity.id.in_(confirmed)))}
    soon = {i for i, a in acts.items() if now < a.starts_at <= now + timedelta(hours=cfg.reminder_hours_before)}
    day_before = {i for i, a in acts.items() if to_local(a.starts_at).date() == tomorrow and i not in soon
                  and a.starts_at > now + timedelta(hours=cfg.reminder_hours_before)}
    if local.hour < cfg.reminder_day_before_hour:
        day_before = set()

    send_reminders(push, now)
    assert {n.activity_id for n in _notices(push, "reminder_day")} == day_before, instant.name
    assert {n.activity_id for n in _notices(push, "reminder_2h")} == soon, instant.name
    # The tick runs every minute, past midnight too: nothing is reminded twice.
    for minutes in (1, 15, 30):
        send_reminders(push, now + timedelta(minutes=minutes))
    day_notices = _notices(push, "reminder_day")
    assert len(day_notices) == len({n.activity_id for n in day_notices})
    later_tomorrow = (local + timedelta(minutes=30)).date() + timedelta(days=1)
    for n in day_notices:
        start_day = to_local(acts[n.activity_id].starts_at).date()
        assert start_day in (tomorrow, later_tomorrow), instant.name


def test_monthly_summary_on_the_first_after_nine_once(world: tuple[Instant, str], push: PushService) -> None:
    instant, _ = world
    now = instant.utc
    local = to_local(now)
    due = local.day == push.rt.config.recognition.monthly_summary_day and local.hour >= 9
    assert monthly_summary(push, now) == (1 if due else 0)
    assert monthly_summary(push, now + timedelta(hours=1)) == 0 or not due
    notices = _notices(push, "monthly")
    if due:
        prev = (local.replace(day=1) - timedelta(days=1))
        assert [n.key for n in notices] == [f"monthly:{prev:%Y-%m}"]
    else:
        assert notices == []


def test_review_escalation_skips_activities_already_over(world: tuple[Instant, str], push: PushService) -> None:
    instant, _ = world
    now = instant.utc
    told: list[int] = []
    push.signup_needs_review = told.append  # type: ignore[method-assign]
    with push.rt.sessions() as s:
        team_id = s.scalars(select(Activity.team_id)).first()
        place_id = s.scalars(select(Activity.place_id)).first()
        v = s.scalars(select(Volunteer)).first()
        assert v is not None and team_id is not None and place_id is not None
        ids = {}
        for name, start in (("over", now - timedelta(hours=3)), ("running", now - timedelta(minutes=30)),
                            ("coming", now + timedelta(hours=30))):
            act = Activity(title=f"审核测试{name}", category="助老", team_id=team_id, place_id=place_id,
                           starts_at=start, ends_at=start + timedelta(hours=2), capacity=5, physical_load=1,
                           status=ActivityStatus.PUBLISHED, needs_review=True, created_at=now, updated_at=now)
            s.add(act)
            s.flush()
            sg = Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.PENDING, party_size=1,
                        channel="wechat", created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3))
            s.add(sg)
            s.flush()
            ids[name] = sg.id
        s.commit()
    escalate_reviews(push, now)
    assert ids["coming"] in told
    assert ids["over"] not in told and ids["running"] not in told


def test_records_due_on_a_working_day_after_the_activity(world: tuple[Instant, str], push: PushService) -> None:
    instant, _ = world
    now = instant.utc
    days = push.rt.config.push.records_due_working_days
    with push.rt.sessions() as s:
        team_id = s.scalars(select(Activity.team_id)).first()
        place_id = s.scalars(select(Activity.place_id)).first()
        ended = now - timedelta(minutes=20)
        act = Activity(title="刚结束的活动", category="助老", team_id=team_id, place_id=place_id,
                       starts_at=ended - timedelta(hours=2), ends_at=ended, capacity=5, physical_load=1,
                       status=ActivityStatus.PUBLISHED, created_at=now, updated_at=now)
        s.add(act)
        s.flush()
        v = s.scalars(select(Volunteer)).first()
        assert v is not None
        s.add(Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.CONFIRMED, party_size=1,
                     channel="wechat", created_at=now - timedelta(days=1), updated_at=now - timedelta(days=1)))
        s.flush()
        (due,) = [d for d in records_due(s, now) if d.activity.id == act.id]
        end_day = to_local(ended).date()
        assert due.due > end_day
        # The due day is a working day, `days` of them after the activity's day (weekends and, where the
        # calendar package knows the year, China's adjusted holidays).
        assert _working(due.due), (instant.name, due.due)
        assert sum(_working(end_day + timedelta(days=k)) for k in range(1, (due.due - end_day).days + 1)) == days
        assert 0 < due.days_left <= days
        s.rollback()
    assert remind_records_due(push, now) >= 0


def _working(day: date) -> bool:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


@pytest.mark.parametrize("instant", SWEEP, ids=[i.name for i in SWEEP])
def test_customer_message_window_edge(instant: Instant) -> None:
    now = instant.utc
    senders: dict[str, Any] = {"wechat": object()}

    def routes(last: datetime) -> list[str]:
        found, _ = plan_routes(Contact(wechat_openid="o1", wechat_last_inbound=last, has_any=True), now, 48,
                               senders)
        return [r.kind for r in found]

    assert routes(now - timedelta(hours=48) + timedelta(seconds=1)) == ["wechat_custom", "wechat_template"]
    assert routes(now - timedelta(hours=48)) == ["wechat_template"]
    assert routes(now - timedelta(hours=48, seconds=1)) == ["wechat_template"]
