"""Time helpers: store naive UTC, show Asia/Shanghai the way people say it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def to_utc(dt: datetime) -> datetime:
    """Naive UTC for storage; a naive input is taken as local (Asia/Shanghai) time."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=LOCAL)
    return dt.astimezone(UTC).replace(tzinfo=None)


def to_local(dt_utc: datetime) -> datetime:
    """Aware Asia/Shanghai time from a stored naive-UTC value (or any aware value)."""
    if dt_utc.tzinfo is None:
        dt_utc = dt_utc.replace(tzinfo=UTC)
    return dt_utc.astimezone(LOCAL)


def part_of_day(hour: int) -> str:
    if hour < 6:
        return "凌晨"
    if hour < 9:
        return "早上"
    if hour < 12:
        return "上午"
    if hour < 13:
        return "中午"
    if hour < 18:
        return "下午"
    return "晚上"


def clock(dt_local: datetime) -> str:
    """`上午9点`, `下午2点半`, `晚上7点15分`."""
    h, m = dt_local.hour, dt_local.minute
    h12 = h if h <= 12 else h - 12
    if m == 0:
        tail = ""
    elif m == 30:
        tail = "半"
    else:
        tail = f"{m}分"
    return f"{part_of_day(h)}{h12}点{tail}"


def format_when(start_utc: datetime, end_utc: datetime | None = None) -> str:
    """`12月5日（星期六）上午9点` (and `到11点半` when an end on the same day is given)."""
    s = to_local(start_utc)
    text = f"{s.month}月{s.day}日（{WEEKDAYS[s.weekday()]}）{clock(s)}"
    if end_utc is not None:
        e = to_local(end_utc)
        if e.date() == s.date():
            end_clock = clock(e)
            if part_of_day(e.hour) == part_of_day(s.hour):
                end_clock = end_clock[len(part_of_day(e.hour)) :]
            text += f"到{end_clock}"
    return text


def utcnow() -> datetime:
    """The only place that reads the wall clock; everything else takes `now` as an argument."""
    return datetime.now(UTC).replace(tzinfo=None)
