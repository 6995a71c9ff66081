"""The one place tests get "now" from, and the sweep of awkward instants date-sensitive behaviour runs at.

Every test runs at the *session instant*: the moment the test run started (so CI keeps exercising the real
date and hour, and `faketime '<instant>' make test` moves it), or the instant `YINLING_TEST_NOW` names
(a local `2026-12-05 23:50` or a name from `SWEEP`). The demo data is loaded relative to it, and an autouse
fixture (tests/conftest.py) moves the clock back to it with time-machine at the start of every test, so a
run that starts at 23:58 never finds "tomorrow" changed halfway through.

`SWEEP` lists the instants that date-sensitive tests run at explicitly (tests/test_calendar_sweep.py):
the dialog flows (明天 / 这周末 / 下周 / 下礼拜六), reminders, the monthly summary, review escalation,
records-due dates and WeChat's 48-hour customer-message window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

from data.timeutil import LOCAL, to_utc


@dataclass(frozen=True)
class Instant:
    name: str
    local: datetime  # aware, Asia/Shanghai
    why: str

    @property
    def utc(self) -> datetime:
        """Naive UTC, the way the project stores and passes "now"."""
        return to_utc(self.local)


def _at(y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LOCAL)


SWEEP: tuple[Instant, ...] = (
    Instant("mon-0030", _at(2026, 12, 7, 0, 30), "Monday just after midnight: 明天 is Tuesday, 下周 a week on"),
    Instant("tue-2130", _at(2026, 12, 1, 21, 30), "Tuesday evening: day-before reminders are due"),
    Instant("sat-2350", _at(2026, 12, 5, 23, 50), "Saturday 23:50: 这周末 is nearly over; 12-05 items roll a year"),
    Instant("first-0905", _at(2027, 3, 1, 9, 5), "the 1st of a month after 9:00: the monthly summary goes out"),
    Instant("nye-2350", _at(2026, 12, 31, 23, 50), "New Year's Eve 23:50: 明天 is next year"),
    Instant("spring-eve", _at(2027, 2, 5, 20, 0), "除夕 of a 29-day 腊月, evening"),
    Instant("sun-1500-month", _at(2026, 12, 27, 15, 0), "a Sunday whose 下周 crosses into the next month and year"),
    Instant("window-48h", _at(2026, 12, 3, 10, 0), "the customer-message window edge: last message 48 h ago"),
)
BY_NAME = {i.name: i for i in SWEEP}


def parse_instant(value: str) -> datetime:
    """A sweep name, or a local (Asia/Shanghai) ISO date-time, as naive UTC."""
    value = value.strip()
    if value in BY_NAME:
        return BY_NAME[value].utc
    dt = datetime.fromisoformat(value)
    return to_utc(dt if dt.tzinfo else dt.replace(tzinfo=LOCAL))


def session_instant() -> datetime:
    """Naive UTC: `YINLING_TEST_NOW` when set, else the clock as the run starts (faketime moves it)."""
    named = os.environ.get("YINLING_TEST_NOW", "").strip()
    if named:
        return parse_instant(named)
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
