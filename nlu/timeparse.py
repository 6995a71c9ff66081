"""Time expressions as older people say them (明儿个后晌, 下礼拜三, 重阳节, 12月5号上午9点) → intervals."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from nlu.numerals import to_int

_N = r"(?:\d{1,2}|两|[一二三四五六七八九十]{1,3})"
_DAY_N = r"(?:\d{1,2}|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_WEEK = r"(?:周|星期|礼拜|礼拜儿)"
_PREFIX = r"(?:下下个?|下个?|这个?|本|上个?)"

_RELDAY = {
    "大大后天": 4, "大后天": 3, "大后儿个": 3, "大后儿": 3,
    "今天": 0, "今儿个": 0, "今儿": 0, "今日": 0, "今个儿": 0, "今个": 0, "当天": 0, "今晚": 0, "今早": 0,
    "明天": 1, "明儿个": 1, "明儿": 1, "明日": 1, "明个儿": 1, "明个": 1, "明晚": 1, "明早": 1,
    "后天": 2, "后儿个": 2, "后儿": 2, "后个": 2,
    "昨天": -1, "昨儿个": -1, "昨儿": -1, "前天": -2,
}  # fmt: skip
_RELDAY_PART = {"今晚": "晚上", "明晚": "晚上", "今早": "早上", "明早": "早上"}

# Parts of the day: [from hour, to hour). Northern forms: 头午/前晌 = morning, 后晌/下晌 = afternoon.
_PARTS = {
    "大清早": (5, 9), "清早": (5, 9), "一早": (5, 9), "早上": (5, 10), "早晨": (5, 10), "早起": (5, 10),
    "上午": (5, 12), "头午": (5, 12), "前晌": (5, 12), "前半晌": (5, 12), "上半天": (5, 12),
    "中午": (11, 14), "晌午": (11, 14), "晌乎": (11, 14), "正午": (11, 14),
    "下午": (12, 18), "后晌": (12, 18), "下晌": (12, 18), "后半晌": (12, 18), "下半天": (12, 18),
    "傍晚": (17, 20), "擦黑": (17, 20), "晚上": (18, 24), "晚间": (18, 24), "夜里": (18, 24), "黑夜": (18, 24),
    "白天": (6, 18),
}  # fmt: skip
_PM_PARTS = frozenset({"下午", "后晌", "下晌", "后半晌", "下半天", "傍晚", "擦黑", "晚上", "晚间", "夜里", "黑夜"})
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_RECENT = ("最近几天", "最近", "这几天", "近几天", "这两天", "近两天", "近期", "这些天", "这阵子", "这段时间",
           "过几天", "这一阵", "近日")  # fmt: skip
_FESTIVALS = {
    "元旦": ("solar", 1, 1, 1), "春节": ("lunar", 1, 1, 1), "过年": ("lunar", 1, 1, 1),
    "大年初一": ("lunar", 1, 1, 1), "元宵节": ("lunar", 1, 15, 1), "元宵": ("lunar", 1, 15, 1),
    "端午节": ("lunar", 5, 5, 1), "端午": ("lunar", 5, 5, 1), "中秋节": ("lunar", 8, 15, 1),
    "中秋": ("lunar", 8, 15, 1), "九九重阳节": ("lunar", 9, 9, 1), "九九重阳": ("lunar", 9, 9, 1),
    "重阳节": ("lunar", 9, 9, 1), "重阳": ("lunar", 9, 9, 1), "老人节": ("lunar", 9, 9, 1),
    "学雷锋纪念日": ("solar", 3, 5, 1), "学雷锋日": ("solar", 3, 5, 1), "雷锋日": ("solar", 3, 5, 1),
    "国际志愿者日": ("solar", 12, 5, 1), "志愿者日": ("solar", 12, 5, 1),
    "国庆节": ("solar", 10, 1, 7), "国庆": ("solar", 10, 1, 7), "十一长假": ("solar", 10, 1, 7),
    "劳动节": ("solar", 5, 1, 1), "儿童节": ("solar", 6, 1, 1), "植树节": ("solar", 3, 12, 1),
    "妇女节": ("solar", 3, 8, 1), "建军节": ("solar", 8, 1, 1), "教师节": ("solar", 9, 10, 1),
}  # fmt: skip


def _alt(words: Iterable[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_ATOM_RE = re.compile(
    "|".join(
        [
            rf"(?P<festival>{_alt(_FESTIVALS)})",
            rf"(?P<relday>{_alt(_RELDAY)})",
            rf"(?P<recent>{_alt(_RECENT)})",
            rf"(?P<weekend>(?P<wep>{_PREFIX})?(?:周末|双休日|礼拜六礼拜天|礼拜六礼拜日|星期六星期天|星期六星期日|周六周日|周六日))",
            rf"(?P<weekday>(?P<wdp>{_PREFIX})?{_WEEK}(?P<wd>[一二三四五六日天1-7]))",
            rf"(?P<week>(?P<wkp>{_PREFIX})(?:一)?{_WEEK})",
            r"(?P<month>(?P<mp>这个|本|下下个|下个|下|上个)月(?P<mpos>底|末|初|中)?|月底|月末|月初|月中)",
            rf"(?P<date>(?:(?P<year>\d{{4}}|[〇零一二三四五六七八九]{{4}})年)?(?P<mon>\d{{1,2}}|十[一二]?|[一二三四五六七八九])月"
            rf"(?:份)?(?:(?P<mday>{_DAY_N})(?:日|号)?)?)",
            r"(?P<sdate>(?<![\d.])(?P<smon>\d{1,2})[./](?P<sday>\d{1,2})(?![\d.]))",
            rf"(?P<dayonly>(?<![\d第])(?P<dom>{_DAY_N})(?:号|日)(?![楼线院门房床口车位单元路活楼]))",
            rf"(?P<part>{_alt(_PARTS)})(?!好)",
            rf"(?P<clock>(?<![\d第])(?P<hour>{_N})(?:点钟?|:(?=\d))(?P<minute>半|一刻|三刻|\d{{1,2}}分?|[一二三四五]?十[一二三四五六七八九]?分?|零[一二三四五六七八九]分?)?)",
        ]
    )
)
# Every time expression contains one of these characters: a cheap test before the big expression.
_TRIGGER_RE = re.compile(r"[天儿日个周末礼拜期号月底初中旬午晌晚早晨夜黑点:./近最阵几些段旦节春过年元端重阳雷锋庆长假]")
_RANGE_JOIN = re.compile(r"\s?(?:到|至|-|~|—|一直到)\s?")
_GLUE = frozenset(" 的,")

_DAY_KINDS = frozenset({"festival", "relday", "weekday", "date", "sdate", "dayonly"})


@dataclass(frozen=True, slots=True)
class Interval:
    """A resolved time: [start, end) with a grain (hour, part_of_day, day, week, weekend, month, range).

    ``spans`` narrows [start, end) to a few windows inside it: 周末上午 is Saturday and Sunday mornings.
    """

    start: datetime
    end: datetime
    grain: str
    spans: tuple[tuple[datetime, datetime], ...] = ()

    def value(self) -> dict[str, Any]:
        """The Rasa entity value: ``{"from", "to", "grain"}`` as naive local ISO datetimes, plus
        ``"spans": [[from, to], ...]`` when only some windows inside [from, to) are meant."""
        out: dict[str, Any] = {"from": self.start.isoformat(), "to": self.end.isoformat(), "grain": self.grain}
        if self.spans:
            out["spans"] = [[a.isoformat(), b.isoformat()] for a, b in self.spans]
        return out


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A time expression found in a text: [start, end) and its interval."""

    start: int
    end: int
    interval: Interval


@dataclass(slots=True)
class _Atom:
    kind: str
    start: int
    end: int
    m: re.Match[str]


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _first_of_next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _festival(name: str, today: date) -> tuple[date, int] | None:
    kind, month, day, length = _FESTIVALS[name]
    for year in (today.year - 1, today.year, today.year + 1):
        if kind == "solar":
            d = _safe_date(year, month, day)
        else:
            from lunar_python import Lunar

            solar = Lunar.fromYmd(year, month, day).getSolar()
            d = date(solar.getYear(), solar.getMonth(), solar.getDay())
        if d is not None and d + timedelta(days=length) > today:
            return d, length
    return None


def _day_of(atom: _Atom, today: date) -> date | None:
    m = atom.m
    if atom.kind == "relday":
        return today + timedelta(days=_RELDAY[m.group("relday")])
    if atom.kind == "weekday":
        wd = _WEEKDAYS[m.group("wd")]
        prefix = (m.group("wdp") or "").rstrip("个")
        monday = today - timedelta(days=today.weekday())
        if prefix == "下":
            return monday + timedelta(days=7 + wd)
        if prefix == "下下":
            return monday + timedelta(days=14 + wd)
        if prefix == "上":
            return monday + timedelta(days=wd - 7)
        return today + timedelta(days=(wd - today.weekday()) % 7)
    if atom.kind in ("date", "sdate"):
        if atom.kind == "date":
            month, mday, year_s = to_int(m.group("mon")), m.group("mday"), m.group("year")
            day = to_int(mday) if mday else None
        else:
            month, day, year_s = to_int(m.group("smon")), to_int(m.group("sday")), None
        if month is None or day is None or not 1 <= month <= 12:
            return None
        if year_s:
            year = to_int(year_s)
            return _safe_date(year, month, day) if year else None
        got = _safe_date(today.year, month, day)
        if got is not None and got < today:
            got = _safe_date(today.year + 1, month, day)
        return got
    if atom.kind == "dayonly":
        dom = to_int(m.group("dom"))
        if dom is None or not 1 <= dom <= 31:
            return None
        first = today.replace(day=1)
        for _ in range(3):
            got = _safe_date(first.year, first.month, dom)
            if got is not None and got >= today:
                return got
            first = _first_of_next_month(first)
        return None
    if atom.kind == "festival":
        fest = _festival(m.group("festival"), today)
        return fest[0] if fest else None
    return None


def _clock(atom: _Atom, part: str | None) -> tuple[int, int] | None:
    m = atom.m
    hour = to_int(m.group("hour"))
    minute_s = m.group("minute") or ""
    if hour is None or hour > 24:
        return None
    if minute_s == "半":
        minute = 30
    elif minute_s == "一刻":
        minute = 15
    elif minute_s == "三刻":
        minute = 45
    elif minute_s:
        got = to_int(minute_s.rstrip("分").lstrip("零"))
        if got is None or got > 59:
            return None
        minute = got
    else:
        minute = 0
    if part in _PM_PARTS and hour < 12:
        hour += 12
    elif part in ("中午", "晌午", "晌乎", "正午") and hour <= 3:
        hour += 12
    elif part is None and 1 <= hour <= 6:
        hour += 12  # "3点" for an activity means the afternoon
    if hour >= 24:
        return None
    return hour, minute


def _is_weak_clock(atom: _Atom, text: str) -> bool:
    """一点/两点 alone are usually "a little" (大一点, 慢一点), not a time of day."""
    m = atom.m
    if m.group("minute") or m.group("hour").isdigit() or "钟" in m.group(0) or ":" in m.group(0):
        return False
    if m.group("hour") not in ("一", "两"):
        return False
    after = text[atom.end : atom.end + 1]
    return after not in ("到", "至", "开", "左", "前", "后", "以", "-")


def _resolve_group(
    group: list[_Atom], now: datetime, inherit: tuple[date, str | None] | None = None
) -> tuple[Interval, date | None, str | None] | None:
    today = now.date()
    first = group[0]
    if first.kind == "recent":
        start = now.replace(second=0, microsecond=0)
        return Interval(start, start + timedelta(days=7), "range"), None, None
    if first.kind == "weekend":
        prefix = (first.m.group("wep") or "").rstrip("个")
        monday = today - timedelta(days=today.weekday())
        weeks = {"下": 1, "下下": 2, "上": -1}.get(prefix, 0)
        sat = monday + timedelta(days=5 + 7 * weeks)
        start_d = max(sat, today) if weeks == 0 else sat
        if len(group) > 1:
            parts = _weekend_parts(group[1:], now, sat, start_d, bool(prefix))
            return (parts, None, None) if parts is not None else None
        return Interval(_midnight(start_d), _midnight(sat + timedelta(days=2)), "weekend"), None, None
    if first.kind == "week":
        prefix = (first.m.group("wkp") or "").rstrip("个")
        monday = today - timedelta(days=today.weekday())
        weeks = {"下": 1, "下下": 2, "上": -1}.get(prefix, 0)
        start_d = monday + timedelta(days=7 * weeks)
        if weeks == 0:
            start_d = today
        return Interval(_midnight(start_d), _midnight(monday + timedelta(days=7 * weeks + 7)), "week"), None, None
    if first.kind == "month" and len(group) > 1 and group[1].kind == "dayonly":
        month_start = _resolve_month(first, today).start.date().replace(day=1)
        dom = to_int(group[1].m.group("dom"))
        got_day = _safe_date(month_start.year, month_start.month, dom) if dom else None
        if got_day is None:
            return None
        return _resolve_day_group(group[2:], now, None, forced_day=got_day)
    if first.kind == "month":
        return _resolve_month(first, today), None, None
    if first.kind == "date" and not first.m.group("mday"):
        month = to_int(first.m.group("mon"))
        if month is None or not 1 <= month <= 12:
            return None
        year = today.year if month >= today.month else today.year + 1
        if first.m.group("year"):
            year = to_int(first.m.group("year")) or year
        start_d = date(year, month, 1)
        end_d = _first_of_next_month(start_d)
        if start_d <= today < end_d:
            start_d = today
        return Interval(_midnight(start_d), _midnight(end_d), "month"), None, None
    if first.kind == "festival" and first.m.group("festival") in _FESTIVALS:
        fest = _festival(first.m.group("festival"), today)
        if fest is None:
            return None
        day0, length = fest
        if length > 1 and len(group) == 1:
            start_d = max(day0, today)
            return Interval(_midnight(start_d), _midnight(day0 + timedelta(days=length)), "range"), None, None
    return _resolve_day_group(group, now, inherit)


def _weekend_parts(rest: list[_Atom], now: datetime, sat: date, start_d: date, prefixed: bool) -> Interval | None:
    """周末上午, 下周末晚上, 周末上午9点: the same part of the day (or hour) on Saturday and on Sunday."""
    spans: list[tuple[datetime, datetime]] = []
    for d in (sat, sat + timedelta(days=1)):
        got = _resolve_day_group(rest, now, None, forced_day=d)
        if got is None:
            return None
        spans.append((got[0].start, got[0].end))
    left = [s for s in spans if s[1] > now and s[0].date() >= start_d]
    if not left and not prefixed:  # 周末上午 said on Sunday afternoon: the next weekend
        return _weekend_parts(rest, now, sat + timedelta(days=7), sat + timedelta(days=7), True)
    spans = left or spans
    return Interval(spans[0][0], spans[-1][1], "weekend", tuple(spans))


def _resolve_day_group(
    group: list[_Atom], now: datetime, inherit: tuple[date, str | None] | None, forced_day: date | None = None
) -> tuple[Interval, date | None, str | None] | None:
    today = now.date()
    day: date | None = forced_day
    part: str | None = None
    clock_atom: _Atom | None = None
    for atom in group:
        if atom.kind in _DAY_KINDS:
            day = _day_of(atom, today)
            if day is None:
                return None
            if atom.kind == "relday":
                part = _RELDAY_PART.get(atom.m.group("relday"), part)
        elif atom.kind == "part":
            part = atom.m.group("part")
        elif atom.kind == "clock":
            clock_atom = atom
    if day is None and inherit is not None:
        day = inherit[0]
        part = part or inherit[1]
    explicit_day = day is not None
    if day is None:
        day = today
    if clock_atom is not None:
        hm = _clock(clock_atom, part)
        if hm is None:
            return None
        start = _midnight(day) + timedelta(hours=hm[0], minutes=hm[1])
        if not explicit_day and start < now.replace(minute=0, second=0, microsecond=0):
            start += timedelta(days=1)
            day = start.date()
        return Interval(start, start + timedelta(hours=1), "hour"), day, part
    if part is not None:
        h1, h2 = _PARTS[part]
        start = _midnight(day) + timedelta(hours=h1)
        end = _midnight(day) + timedelta(hours=h2)
        if not explicit_day and end <= now:
            start += timedelta(days=1)
            end += timedelta(days=1)
            day = start.date()
        return Interval(start, end, "part_of_day"), day, part
    if explicit_day:
        return Interval(_midnight(day), _midnight(day + timedelta(days=1)), "day"), day, None
    return None


def _resolve_month(atom: _Atom, today: date) -> Interval:
    m = atom.m
    prefix = m.group("mp") or ""
    pos = m.group("mpos") or ""
    text = m.group("month")
    if not prefix and text.startswith("月"):
        pos = text[1]
    first = today.replace(day=1)
    if prefix in ("下个", "下"):
        first = _first_of_next_month(first)
    elif prefix == "下下个":
        first = _first_of_next_month(_first_of_next_month(first))
    elif prefix == "上个":
        first = (first - timedelta(days=1)).replace(day=1)
    nxt = _first_of_next_month(first)
    if pos in ("底", "末"):
        start_d, end_d = nxt - timedelta(days=7), nxt
    elif pos == "初":
        start_d, end_d = first, first + timedelta(days=10)
        if not prefix and today >= end_d:  # 月初 said late in a month: the next one
            start_d = nxt
            end_d = nxt + timedelta(days=10)
    elif pos == "中":
        start_d, end_d = first + timedelta(days=10), first + timedelta(days=20)
        if not prefix and today >= end_d:
            start_d = nxt + timedelta(days=10)
            end_d = nxt + timedelta(days=20)
    else:
        start_d, end_d = first, nxt
    if start_d <= today < end_d:
        start_d = today
    return Interval(_midnight(start_d), _midnight(end_d), "month" if not pos else "range")


def _joinable(text: str, a: _Atom, b: _Atom) -> bool:
    gap = text[a.end : b.start]
    return len(gap) <= 1 and all(c in _GLUE for c in gap)


def _combinable(prev: list[_Atom], atom: _Atom) -> bool:
    kinds = {a.kind for a in prev}
    if atom.kind == "part":
        if kinds & {"month"} and not kinds & {"dayonly"}:
            return False
        if kinds == {"weekend"}:  # 周末上午: mornings of both days
            return True
        return not kinds & {"part", "clock", "recent", "weekend", "week"} and not (
            "date" in kinds and not prev[-1].m.group("mday") and prev[-1].kind == "date"
        )
    if atom.kind == "dayonly":  # 下个月5号
        return len(prev) == 1 and prev[0].kind == "month" and bool(prev[0].m.group("mp")) and not prev[0].m.group("mpos")
    if atom.kind == "clock":
        if kinds & {"month"} and not kinds & {"dayonly"}:
            return False
        if "weekend" in kinds:  # 周末上午9点
            return kinds <= {"weekend", "part"}
        return "clock" not in kinds and not kinds & {"recent", "weekend", "week"}
    return False


def extract(text: str, now: datetime) -> list[TimeSpan]:
    """Find time expressions in normalized ``text`` relative to local naive ``now``.

    Args:
        text: normalized text (simplified characters, half-width digits).
        now: the local reference time (naive, Asia/Shanghai).

    Returns:
        Non-overlapping spans in order, each with its resolved interval.
    """
    if _TRIGGER_RE.search(text) is None:
        return []
    atoms: list[_Atom] = []
    for m in _ATOM_RE.finditer(text):
        kind = next(k for k in (
            "festival", "relday", "recent", "weekend", "weekday", "week", "month",
            "date", "sdate", "dayonly", "part", "clock",
        ) if m.group(k) is not None)  # fmt: skip
        atom = _Atom(kind, m.start(), m.end(), m)
        if kind == "clock" and _is_weak_clock(atom, text) and not (atoms and _joinable(text, atoms[-1], atom)):
            continue
        atoms.append(atom)
    if not atoms:
        return []
    groups: list[list[_Atom]] = [[atoms[0]]]
    for atom in atoms[1:]:
        prev = groups[-1]
        if _joinable(text, prev[-1], atom) and _combinable(prev, atom):
            prev.append(atom)
        else:
            groups.append([atom])
    spans: list[TimeSpan] = []
    last_ctx: tuple[date, str | None] | None = None
    last_end = -1
    for group in groups:
        joined = bool(spans) and _RANGE_JOIN.fullmatch(text[last_end : group[0].start]) is not None
        got = _resolve_group(group, now, last_ctx if joined else None)
        if got is None:
            last_ctx = None
            continue
        interval, day, part = got
        start, end = group[0].start, group[-1].end
        if joined:
            prev_span = spans.pop()
            first = prev_span.interval
            if interval.start >= first.start:
                to = interval.start if first.grain == interval.grain == "hour" else interval.end
                interval = Interval(first.start, to, "range")
                start = prev_span.start
            else:
                spans.append(prev_span)
        spans.append(TimeSpan(start, end, interval))
        last_ctx = (day, part) if day is not None else None
        last_end = end
    return spans
