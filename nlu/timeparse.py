"""Time expressions as older people say them (明儿个后晌, 下礼拜三, 重阳节, 12月5号上午9点, 三天后,
腊月二十三, 明年三月中旬, 夜里12点) → intervals. Conventions are listed in nlu/README.md."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from nlu.numerals import to_int

_N = r"(?:\d{1,2}|两|零|[一二三四五六七八九十]{1,3})"
_DAY_N = r"(?:\d{1,2}|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_WEEK = r"(?:周|星期|礼拜|礼拜儿)"
_PREFIX = r"(?:下下个?|下个?|这个?|本|上上个?|上个?)"
_YEAR4 = r"(?:\d{4}|[〇零一二三四五六七八九]{4})"

_RELDAY = {
    "大大后天": 4, "大后天": 3, "大后儿个": 3, "大后儿": 3,
    "今天": 0, "今儿个": 0, "今儿": 0, "今日": 0, "今个儿": 0, "今个": 0, "当天": 0, "今晚": 0, "今早": 0,
    "当日": 0, "当晚": 0, "次日": 1, "第二天": 1,
    "明天": 1, "明儿个": 1, "明儿": 1, "明日": 1, "明个儿": 1, "明个": 1, "明晚": 1, "明早": 1,
    "后天": 2, "后儿个": 2, "后儿": 2, "后个": 2,
    "昨天": -1, "昨儿个": -1, "昨儿": -1, "昨晚": -1, "前天": -2, "大前天": -3,
}  # fmt: skip
_RELDAY_PART = {
    "今晚": "晚上",
    "明晚": "晚上",
    "今早": "早上",
    "明早": "早上",
    "当晚": "晚上",
    "昨晚": "晚上",
}

# Parts of the day: [from hour, to hour), hours past 24 run into the next morning.
# Northern forms: 头午/前晌 = morning, 后晌/下晌 = afternoon, 傍黑 = dusk.
_PARTS = {
    "大清早": (5, 9), "清早": (5, 9), "一早": (5, 9), "早上": (5, 10), "早晨": (5, 10), "早起": (5, 10),
    "凌晨": (0, 6), "上午": (5, 12), "头午": (5, 12), "前晌": (5, 12), "前半晌": (5, 12), "上半晌": (5, 12),
    "早半晌": (5, 12), "上半天": (5, 12),
    "中午": (11, 14), "晌午": (11, 14), "晌乎": (11, 14), "正午": (11, 14), "晌午头": (11, 14), "午后": (13, 16),
    "下午": (12, 18), "后晌": (12, 18), "下晌": (12, 18), "后半晌": (12, 18), "下半晌": (12, 18), "下半天": (12, 18),
    "傍晚": (17, 20), "擦黑": (17, 20), "傍黑": (17, 20), "傍黑儿": (17, 20), "黑天": (18, 24),
    "晚上": (18, 24), "晚间": (18, 24), "夜里": (18, 24), "夜间": (18, 24), "黑夜": (18, 24), "前半夜": (20, 24),
    "深夜": (22, 26), "半夜": (23, 27), "午夜": (23, 25), "后半夜": (24, 29),
    "白天": (6, 18), "全天": (0, 24), "一整天": (0, 24), "早": (5, 10), "晚": (18, 24),
}  # fmt: skip
# A clock time in a part of the day: afternoon parts add 12 to 1–11; evening parts also read 12 as
# midnight; night parts read 12 as midnight and 1–5 as the small hours of the next day.
_PM_PARTS = frozenset(
    {"下午", "后晌", "下晌", "后半晌", "下半晌", "下半天", "午后", "傍晚", "擦黑", "傍黑", "傍黑儿"}
)
_EVENING_PARTS = frozenset({"晚上", "晚间", "黑天", "前半夜", "晚"})
_NIGHT_PARTS = frozenset({"夜里", "夜间", "黑夜", "深夜", "半夜", "午夜", "后半夜"})
_NOON_PARTS = frozenset({"中午", "晌午", "晌乎", "正午", "晌午头"})
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_RECENT = ("最近几天", "最近", "这几天", "近几天", "这两天", "近期", "这些天", "这阵子", "这段时间",
           "过几天", "这一阵", "近日")  # fmt: skip
_YEAR_WORDS = {"大前年": -3, "前年": -2, "去年": -1, "今年": 0, "本年": 0, "明年": 1, "来年": 1, "次年": 1,
               "转年": 1, "后年": 2, "大后年": 3}  # fmt: skip

# Festivals: (calendar, month, day, length in days). Calendars: solar; lunar; nth (day = weekday * 10 +
# n: the n-th such weekday of the month); term (a solar term, month = its index in _TERMS); eve (the last
# day of the lunar year, whether 腊月 has 29 or 30 days); xiaonian (腊月 23 in the north, 24 in the south).
_TERMS = ("小寒", "大寒", "立春", "雨水", "惊蛰", "春分", "清明", "谷雨", "立夏", "小满", "芒种", "夏至",
          "小暑", "大暑", "立秋", "处暑", "白露", "秋分", "寒露", "霜降", "立冬", "小雪", "大雪", "冬至")  # fmt: skip
# Terms that are also weather or plain words (下大雪, 雨水多): a date only when followed by one of these.
_WEATHER_TERMS = ("雨水", "小满", "小暑", "大暑", "白露", "霜降", "小雪", "大雪", "谷雨", "寒露")
_TERM_CONTEXT = r"(?=节气|那天|那日|当天|前后|以后|之后|之前|以前|那会儿)"
_FESTIVALS: dict[str, tuple[str, int, int, int]] = {
    "元旦": ("solar", 1, 1, 1), "春节": ("lunar", 1, 1, 1), "过年": ("lunar", 1, 1, 1),
    "元宵节": ("lunar", 1, 15, 1), "元宵": ("lunar", 1, 15, 1), "正月十五": ("lunar", 1, 15, 1),
    "龙抬头": ("lunar", 2, 2, 1), "二月二": ("lunar", 2, 2, 1),
    "端午节": ("lunar", 5, 5, 1), "端午": ("lunar", 5, 5, 1), "七夕节": ("lunar", 7, 7, 1), "七夕": ("lunar", 7, 7, 1),
    "中元节": ("lunar", 7, 15, 1), "鬼节": ("lunar", 7, 15, 1), "中秋节": ("lunar", 8, 15, 1), "中秋": ("lunar", 8, 15, 1),
    "八月十五": ("lunar", 8, 15, 1), "九九重阳节": ("lunar", 9, 9, 1), "九九重阳": ("lunar", 9, 9, 1),
    "重阳节": ("lunar", 9, 9, 1), "重阳": ("lunar", 9, 9, 1), "老人节": ("lunar", 9, 9, 1), "敬老节": ("lunar", 9, 9, 1),
    "老年节": ("lunar", 9, 9, 1), "寒衣节": ("lunar", 10, 1, 1), "下元节": ("lunar", 10, 15, 1),
    "腊八节": ("lunar", 12, 8, 1), "腊八": ("lunar", 12, 8, 1),
    "小年": ("xiaonian", 12, 23, 1), "小年儿": ("xiaonian", 12, 23, 1),
    "除夕": ("eve", 12, 30, 1), "除夕夜": ("eve", 12, 30, 1), "大年三十": ("eve", 12, 30, 1),
    "年三十": ("eve", 12, 30, 1), "大年夜": ("eve", 12, 30, 1), "腊月三十": ("eve", 12, 30, 1),
    "学雷锋纪念日": ("solar", 3, 5, 1), "学雷锋日": ("solar", 3, 5, 1), "雷锋日": ("solar", 3, 5, 1),
    "国际志愿者日": ("solar", 12, 5, 1), "志愿者日": ("solar", 12, 5, 1),
    "国庆节": ("solar", 10, 1, 7), "国庆": ("solar", 10, 1, 7), "十一长假": ("solar", 10, 1, 7),
    "十一假期": ("solar", 10, 1, 7), "十一黄金周": ("solar", 10, 1, 7),
    "劳动节": ("solar", 5, 1, 1), "五一劳动节": ("solar", 5, 1, 1), "五一": ("solar", 5, 1, 1),
    "青年节": ("solar", 5, 4, 1), "五四": ("solar", 5, 4, 1), "护士节": ("solar", 5, 12, 1),
    "儿童节": ("solar", 6, 1, 1), "六一": ("solar", 6, 1, 1), "建党节": ("solar", 7, 1, 1), "七一": ("solar", 7, 1, 1),
    "植树节": ("solar", 3, 12, 1), "妇女节": ("solar", 3, 8, 1), "三八妇女节": ("solar", 3, 8, 1),
    "三八节": ("solar", 3, 8, 1), "三八": ("solar", 3, 8, 1), "建军节": ("solar", 8, 1, 1),
    "八一建军节": ("solar", 8, 1, 1), "八一": ("solar", 8, 1, 1), "教师节": ("solar", 9, 10, 1),
    "世界读书日": ("solar", 4, 23, 1), "读书日": ("solar", 4, 23, 1), "环境日": ("solar", 6, 5, 1),
    "世界环境日": ("solar", 6, 5, 1), "国际老年人日": ("solar", 10, 1, 1), "平安夜": ("solar", 12, 24, 1),
    "圣诞节": ("solar", 12, 25, 1), "圣诞": ("solar", 12, 25, 1),
    "母亲节": ("nth", 5, 62, 1), "父亲节": ("nth", 6, 63, 1), "助残日": ("nth", 5, 63, 1),
    "全国助残日": ("nth", 5, 63, 1), "感恩节": ("nth", 11, 34, 1),
    "清明节": ("term", 6, 0, 1), "冬至节": ("term", 23, 0, 1),
    **{t: ("term", i, 0, 1) for i, t in enumerate(_TERMS) if t not in _WEATHER_TERMS},
}  # fmt: skip
_FESTIVALS.update({t: ("term", _TERMS.index(t), 0, 1) for t in _WEATHER_TERMS})  # matched with _TERM_CONTEXT
_XIAONIAN_DAY = {"north": 23, "south": 24}
_FESTIVAL_DAY_RE = re.compile(r"(?:那天|那日|当天)$")
# Seasons as the calendar has them: from one 立X to the next (冬天 runs into the next year).
_SEASONS = {"春天": 2, "春季": 2, "夏天": 8, "夏季": 8, "秋天": 14, "秋季": 14, "冬天": 20, "冬季": 20}

_LMON = r"(?:正|冬|腊|十一|十二|十|[一二三四五六七八九]|1[0-2]|[1-9])"
_LDAY = (r"(?:初(?:十|[一二三四五六七八九]|10|[1-9])|廿[一二三四五六七八九]?|卅|三十|二十[一二三四五六七八九]?"
         r"|十[一二三四五六七八九]?|[一二三四五六七八九]|[12]\d|30|[1-9])")  # fmt: skip
_LUNAR_PRE = r"(?:农历|阴历|旧历|老历)"
_LUNAR_MONTHS = {"正": 1, "冬": 11, "腊": 12}
_LDAY_WORDS = {"廿": 20, "卅": 30}

# Offsets: 三天后, 过两天, 再过一个星期, 未来三天, 近两周, 半个月后, 一个来月, 半小时内.
_OFF_NUM = r"(?:\d{1,3}|[一二三四五六七八九十两俩仨]{1,3}|半)"
_OFF_UNIT = r"(?:分钟|分(?=半|以内|之内|内)|小时|钟头|刻钟|工作日|天|日|周|星期|礼拜|个月|(?<=[俩仨半个多来])月|(?<=[半个])年)"
_OFF_CORE = rf"{_OFF_NUM}(?:多|来)?个?(?:半|来|多)?{_OFF_UNIT}(?:半钟?)?"
_OFF_PRE = r"(?:再过|过了|过|未来的?|接下来的?|今后|往后|最近的?|近)"
_MONTHS_N = r"(?:1[0-2]|[1-9]|十[一二]?|[一二三四五六七八九两俩仨])"
_OFF_POST = r"(?:以后|之后|后|以内|之内|内)"
_OFF_UNITS = {"分钟": ("minute", 1), "分": ("minute", 1), "刻钟": ("minute", 15), "小时": ("minute", 60), "钟头": ("minute", 60),
              "工作日": ("workday", 1), "天": ("day", 1), "日": ("day", 1), "周": ("day", 7), "星期": ("day", 7), "礼拜": ("day", 7),
              "个月": ("month", 1), "月": ("month", 1), "年": ("month", 12)}  # fmt: skip


def _alt(words: Iterable[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_PLAIN_FESTIVALS = [f for f in _FESTIVALS if f not in _WEATHER_TERMS]
_CLOCK_N = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
# Every atom starts with one of these characters: a lookahead on them lets the big expression skip the
# other positions at once (13 µs → 3 µs a message).
_FIRST_CHARS = set("0123456789〇零一二两俩仨三四五六七八九十半大年农阴旧老正冬腊闰再过未接今往最近下这本上周星礼双当同月中第初廿卅早晚")
for _words in (_FESTIVALS, _RELDAY, _RECENT, _PARTS, _YEAR_WORDS, _SEASONS):
    _FIRST_CHARS.update(w[0] for w in _words)
_ATOM_RE = re.compile(
    "(?=[" + "".join(re.escape(c) for c in sorted(_FIRST_CHARS)) + "])(?:" + "|".join(
        [
            rf"(?P<festival>(?:{_alt(_PLAIN_FESTIVALS)}|(?:{_alt(_WEATHER_TERMS)}){_TERM_CONTEXT})(?![十\d号日一二三四五六七八九]|路|街|巷|广场|小区|社区|村|桥|中学|小学|公园)(?:那天|那日|当天)?)",
            r"(?P<lnewyear>大?年(?P<lny>初(?:十|[一二三四五六七八九]|10|[1-9])))",
            rf"(?P<lunar>(?=(?:{_YEAR4}年)?(?:{_LUNAR_PRE}|闰|[正冬腊]月|{_LMON}月(?:初(?:十|[一二三四五六七八九]|\d)|廿|卅)))"
            rf"(?:(?P<lyear>{_YEAR4})年)?{_LUNAR_PRE}?(?:(?P<lyear2>{_YEAR4})年)?(?P<lleap>闰)?(?P<lmon>{_LMON})月份?"
            rf"(?P<lday>{_LDAY})?(?:日|号)?)",
            rf"(?P<offset>(?<!\d)(?=(?:{_OFF_PRE})|{_OFF_CORE}{_OFF_POST})(?:(?P<ofp>{_OFF_PRE})\s?)?(?P<ofn>{_OFF_NUM})(?:多|来)?(?P<ofg>个)?"
            rf"(?P<ofx>半|来|多)?(?P<ofu>{_OFF_UNIT})(?:(?P<ofh>半)钟?)?(?P<ofs>{_OFF_POST})?)",
            rf"(?P<relday>{_alt(_RELDAY)})",
            r"(?P<nthday>第(?P<ndn>[二三四五六七八九十]{1,3}|\d{1,2})[天日](?![\d一二三四五六七八九十]))",
            rf"(?P<recent>{_alt(_RECENT)})",
            rf"(?P<weekend>(?P<wep>{_PREFIX})?(?:周末|双休日|礼拜六礼拜天|礼拜六礼拜日|星期六星期天|星期六星期日|周六周日|周六日))",
            rf"(?P<weekday>(?P<wdp>{_PREFIX})?{_WEEK}(?P<wd>[一二三四五六日天1-7]))",
            rf"(?P<week>(?P<wkp>{_PREFIX})(?:一)?{_WEEK})",
            r"(?P<month>(?P<mp>这个|本|下下个|下个|下|上个|上|当|同)月(?P<mpos>上旬|中旬|下旬|伊始|初|底|末|中)?|月底|月末|月初|月中)",
            r"(?P<xun>上旬|中旬|下旬)",
            rf"(?P<season>{_alt(_SEASONS)})",
            rf"(?P<nthwd>第(?P<nth>[一二三四五1-5])个?{_WEEK}(?P<nwd>[一二三四五六日天1-7]))",
            rf"(?P<date>(?:(?P<year>{_YEAR4})年)?(?P<mon>\d{{1,2}}|十[一二]?|[一二三四五六七八九])月"
            rf"(?:份)?(?:(?P<mday>{_DAY_N})(?:日|号)?|(?P<dpos>上旬|中旬|下旬|伊始|初|底|末|中))?)",
            rf"(?P<yearw>(?:(?P<yw>{_alt(_YEAR_WORDS)})|(?P<ynum>{_YEAR4})年)(?P<ywpos>底|末|初|伊始|[上下]半年|[前后头]{_MONTHS_N}个?月)?)",
            r"(?P<sdate>(?<![\d.])(?P<smon>\d{1,2})[./](?P<sday>\d{1,2})(?![\d.]))",
            rf"(?P<dayonly>(?<![\d第])(?P<dom>{_DAY_N})(?:号|日)(?![楼线院门房床口车位单元路活楼]))",
            r"(?P<lday0>(?<![\d月年])(?P<ld0>初(?:十|[一二三四五六七八九])|廿[一二三四五六七八九]|卅)(?![中学年级]))",
            r"(?P<yearpart>(?<![\d一二三四五六七八九十两几多半今明去后前来本次])(?:年底|年末|年尾|年初|年头|年中|年前|年后|年根儿?|年伊始|[上下]半年))",
            rf"(?P<part>{_alt(p for p in _PARTS if len(p) > 1)}|[早晚](?=\d|[一二三四五六七八九十]+[点时]))(?!好)",
            rf"(?P<clock>(?<![\d第])(?P<hour>{_N})(?:点钟?|时(?![间候期代])|:(?=\d))"
            rf"(?P<minute>半|一刻|三刻|1刻|3刻|\d{{1,2}}分?|[一二三四五]?十[一二三四五六七八九]?分?|零[一二三四五六七八九]分?)?(?!会))",
            rf"(?P<bare>(?<![\d第.:])(?P<bhour>{_CLOCK_N})(?=\s?(?:到|至|-|~|—+)\s?{_CLOCK_N}(?:点|时|:)))",
        ]
    ) + ")"
)
_KINDS = ("festival", "lnewyear", "lunar", "offset", "relday", "nthday", "recent", "weekend", "weekday", "week", "month",
          "xun", "season", "nthwd", "date", "yearw", "sdate", "dayonly", "lday0", "yearpart", "part", "clock", "bare")  # fmt: skip
# Every time expression contains one of these characters: a cheap test before the big expression.
_TRIGGER_RE = re.compile(
    r"[天儿日个周末礼拜期号月底初中旬午晌晚早晨夜黑点时:./近最阵几些段旦节春过年元端重阳雷锋庆长假后内未来"
    r"农阴腊冬正廿卅闰除夕八一四七寒清明立分至谷芒满暑露霜雪惊蛰雨凌全~\-至到]"
)
_RANGE_JOIN = re.compile(r"\s?(?:到|至|-|~|—+|一直到)\s?")
_GLUE = frozenset(" 的,")
# 9月10号,11号和12号: a list of days of the month (the parser's normalizer turns ，and 、 into spaces).
_LIST_JOIN = re.compile(r"\s?(?:,|和|及|与|跟|还有|或者?)\s?|\s")
# 年底前, 下个月10号以前, 春节之前: from now until then (the named day or period included, a festival not).
_BEFORE_RE = re.compile(r"之前|以前|前(?![天年])")

# Kinds that name one day (a part of the day or a clock time may follow).
_DAY_KINDS = frozenset(
    {"festival", "relday", "nthday", "weekday", "date", "sdate", "dayonly", "lunar", "lnewyear", "lday0"}
)


@dataclass(frozen=True, slots=True)
class Interval:
    """A resolved time: [start, end) with a grain (hour, part_of_day, day, week, weekend, month, year, range).

    ``spans`` narrows [start, end) to a few windows inside it: 周末上午 is Saturday and Sunday mornings.
    """

    start: datetime
    end: datetime
    grain: str
    spans: tuple[tuple[datetime, datetime], ...] = ()

    def value(self) -> dict[str, Any]:
        """The Rasa entity value: ``{"from", "to", "grain"}`` as naive local ISO datetimes, plus
        ``"spans": [[from, to], ...]`` when only some windows inside [from, to) are meant."""
        out: dict[str, Any] = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "grain": self.grain,
        }
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


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What one extraction needs besides the text: now, an explicit year (明年三月), the 小年 convention."""

    now: datetime
    year: int | None = None
    xiaonian: str = "north"

    @property
    def today(self) -> date:
        return self.now.date()


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _first_of_next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    first = date(d.year + y, m + 1, 1)
    last = (_first_of_next_month(first) - timedelta(days=1)).day
    return first.replace(day=min(d.day, last))


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


# -- the lunar calendar (lunar-python), cached: a handful of distinct dates per process ----------------


@lru_cache(maxsize=1024)
def _lunar_month(ly: int, lm: int) -> tuple[date, int] | None:
    """The first solar day and the length of lunar month ``lm`` (negative: leap) of lunar year ``ly``."""
    from lunar_python import Lunar

    year = _lunar_year(ly)
    month = year.getMonth(lm) if year is not None else None
    if month is None:
        return None
    s = Lunar.fromYmd(ly, lm, 1).getSolar()
    return date(s.getYear(), s.getMonth(), s.getDay()), int(month.getDayCount())


@lru_cache(maxsize=256)
def _lunar_year(ly: int) -> Any:
    from lunar_python import LunarYear

    return LunarYear.fromYear(ly) if 1900 <= ly <= 2099 else None


def _lunar_solar(ly: int, lm: int, ld: int) -> date | None:
    """Lunar year/month/day (``lm`` negative for a leap month) → solar date; None if there is no such day."""
    got = _lunar_month(ly, lm)
    if got is None or not 1 <= ld <= got[1]:
        return None
    return got[0] + timedelta(days=ld - 1)


def _lunar_month_len(ly: int, lm: int) -> int:
    got = _lunar_month(ly, lm)
    return got[1] if got else 0


@lru_cache(maxsize=1024)
def _lunar_year_of(d: date) -> int:
    from lunar_python import Solar

    return int(Solar.fromYmd(d.year, d.month, d.day).getLunar().getYear())


@lru_cache(maxsize=256)
def _terms_of(year: int) -> dict[str, date]:
    """The 24 solar terms falling in solar ``year``."""
    from lunar_python import Solar

    out: dict[str, date] = {}
    for y in (year, year + 1):
        for name, s in Solar.fromYmd(y, 3, 1).getLunar().getJieQiTable().items():
            d = date(s.getYear(), s.getMonth(), s.getDay())
            if d.year == year and not name.isascii():
                out[name] = d
    return out


def _lunar_day(text: str) -> int | None:
    if text.startswith("初"):
        return to_int(text[1:])
    if text[0] in _LDAY_WORDS:
        return _LDAY_WORDS[text[0]] + (to_int(text[1:]) or 0 if len(text) > 1 else 0)
    return to_int(text)


def _lunar_month_no(text: str) -> int | None:
    return _LUNAR_MONTHS.get(text) or to_int(text)


def _pick(cands: Iterable[tuple[date, date]], ctx: _Ctx, lunar: bool = False) -> tuple[date, date] | None:
    """The first candidate [start, end) not over yet; with an explicit year, the first one in that year
    (the lunar year for lunar dates: 明年腊月 is the 腊月 of next year's lunar calendar)."""
    for start, end in cands:
        if ctx.year is not None:
            if lunar or start.year == ctx.year:
                return start, end
        elif end > ctx.today:
            return start, end
    return None


def _years(ctx: _Ctx, lunar: bool = False) -> range:
    if ctx.year is not None:
        return range(ctx.year, ctx.year + 1) if lunar else range(ctx.year - 1, ctx.year + 2)
    base = _lunar_year_of(ctx.today) if lunar else ctx.today.year
    return range(base - 1, base + 3)


def _festival(name: str, ctx: _Ctx) -> tuple[date, int] | None:
    kind, month, day, length = _FESTIVALS[_FESTIVAL_DAY_RE.sub("", name)]
    lunar = kind in ("lunar", "eve", "xiaonian")

    def cands() -> Iterable[tuple[date, date]]:
        for year in _years(ctx, lunar):
            d: date | None
            if kind == "solar":
                d = _safe_date(year, month, day)
            elif kind == "lunar":
                d = _lunar_solar(year, month, day)
            elif kind == "xiaonian":
                d = _lunar_solar(year, 12, _XIAONIAN_DAY.get(ctx.xiaonian, 23))
            elif kind == "eve":
                d = _lunar_solar(year, 12, _lunar_month_len(year, 12))
            elif kind == "nth":
                first = date(year, month, 1)
                d = first + timedelta(days=(day // 10 - first.weekday()) % 7 + 7 * (day % 10 - 1))
            else:  # term
                d = _terms_of(year).get(_TERMS[month])
            if d is not None:
                yield d, d + timedelta(days=length)

    got = _pick(cands(), ctx, lunar)
    return (got[0], length) if got else None


def _season(term: int, ctx: _Ctx) -> tuple[date, date] | None:
    """The season starting at solar term ``term`` (立春 2, 立夏 8, 立秋 14, 立冬 20) and ending at the next."""

    def cands() -> Iterable[tuple[date, date]]:
        for year in _years(ctx):
            start = _terms_of(year).get(_TERMS[term])
            end = _terms_of(year + (term + 6) // 24).get(_TERMS[(term + 6) % 24])
            if start is not None and end is not None:
                yield start, end

    return _pick(cands(), ctx)


def _lunar_atom(atom: _Atom, ctx: _Ctx) -> tuple[date, date] | None:
    """农历十月, 腊月初十, 冬月初八, 闰四月, 廿一, 大年初三: the day, or the whole month without a day."""
    m = atom.m
    if atom.kind == "lnewyear":
        month, day_s, leap, year_s = 1, m.group("lny"), False, None
    elif atom.kind == "lday0":
        month, day_s, leap, year_s = 0, m.group("ld0"), False, None
    else:
        month = _lunar_month_no(m.group("lmon")) or 0
        day_s, leap = m.group("lday"), bool(m.group("lleap"))
        year_s = m.group("lyear") or m.group("lyear2")
    day = _lunar_day(day_s) if day_s else None
    if (day_s and day is None) or not 0 <= month <= 12:
        return None
    if year_s:
        y = to_int(year_s)
        if y is None:
            return None
        ctx = _Ctx(ctx.now, y, ctx.xiaonian)

    def cands() -> Iterable[tuple[date, date]]:
        for ly in _years(ctx, lunar=True):
            months = [month] if month else list(range(1, 13))
            if not month:  # 廿一 alone: this lunar month's or the next one's
                leap_m = _leap_month(ly)
                months = sorted([*months, -leap_m], key=abs) if leap_m else months
            for lm in months:
                lm = -lm if leap else lm
                if day is None:
                    first = _lunar_solar(ly, lm, 1)
                    if first is not None:
                        yield first, first + timedelta(days=_lunar_month_len(ly, lm))
                    continue
                d = _lunar_solar(ly, lm, day)
                if d is None and abs(lm) == 12 and day == 30:  # 腊月三十 in a 29-day 腊月: New Year's Eve
                    d = _lunar_solar(ly, lm, 29)
                if d is not None:
                    yield d, d + timedelta(days=1)

    return _pick(cands(), ctx, lunar=ctx.year is not None and month != 0)


def _leap_month(ly: int) -> int:
    year = _lunar_year(ly)
    return int(year.getLeapMonth()) if year is not None else 0


def _month_part(first: date, pos: str) -> tuple[date, date]:
    """上旬/初/伊始 days 1–10, 中旬/中 11–20, 下旬 21–end, 底/末 the last 7 days."""
    nxt = _first_of_next_month(first)
    if pos in ("底", "末"):
        return nxt - timedelta(days=7), nxt
    if pos in ("初", "上旬", "伊始"):
        return first, first + timedelta(days=10)
    if pos in ("中", "中旬"):
        return first + timedelta(days=10), first + timedelta(days=20)
    if pos == "下旬":
        return first + timedelta(days=20), nxt
    return first, nxt


def _day_of(atom: _Atom, ctx: _Ctx) -> date | None:
    m = atom.m
    today = ctx.today
    if atom.kind == "relday":
        return today + timedelta(days=_RELDAY[m.group("relday")])
    if atom.kind == "nthday":  # 第三天: today is the first day (第一天 is too vague to be a date)
        nth = to_int(m.group("ndn"))
        return today + timedelta(days=nth - 1) if nth is not None and nth >= 2 else None
    if atom.kind == "weekday":
        wd = _WEEKDAYS[m.group("wd")]
        prefix = (m.group("wdp") or "").rstrip("个")
        monday = today - timedelta(days=today.weekday())
        weeks = {"下": 1, "下下": 2, "上": -1, "上上": -2}.get(prefix)
        if weeks is not None:
            return monday + timedelta(days=7 * weeks + wd)
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
        picked = _pick(
            ((d, d + timedelta(days=1)) for y in _years(ctx) if (d := _safe_date(y, month, day))), ctx
        )
        return picked[0] if picked else None
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
        fest = _festival(m.group("festival"), ctx)
        return fest[0] if fest else None
    if atom.kind in ("lunar", "lnewyear", "lday0"):
        span = _lunar_atom(atom, ctx)
        return span[0] if span and span[1] - span[0] == timedelta(days=1) else None
    return None


def _clock(hour_s: str, minute_s: str, part: str | None) -> tuple[int, int] | None:
    hour = to_int(hour_s)
    if hour is None or hour > 24:
        return None
    if minute_s == "半":
        minute = 30
    elif minute_s in ("一刻", "1刻"):
        minute = 15
    elif minute_s in ("三刻", "3刻"):
        minute = 45
    elif minute_s:
        got = to_int(minute_s.rstrip("分").lstrip("零") or "0")
        if got is None or got > 59:
            return None
        minute = got
    else:
        minute = 0
    if part in _NIGHT_PARTS:
        if hour == 12 or 1 <= hour <= 5:
            hour += 12 if hour == 12 else 24  # 夜里12点 is midnight, 半夜2点 the small hours after it
        elif 6 <= hour < 12:
            hour += 12
    elif part in _EVENING_PARTS:
        if hour == 12 or 1 <= hour <= 4:
            hour += 12 if hour == 12 else 24  # 晚上12点: midnight; 晚上1点: 1 o'clock that night
        elif hour < 12:
            hour += 12
    elif part in _PM_PARTS and hour < 12:
        hour += 12
    elif part in _NOON_PARTS and hour <= 3:
        hour += 12
    elif part == "凌晨" and hour == 12:
        hour = 0
    elif part is None and 1 <= hour <= 6 and not hour_s.startswith("0"):
        hour += 12  # "3点" for an activity means the afternoon ("05:40" is written as meant)
    if hour > 29:
        return None
    return hour, minute


def _clock_of(atom: _Atom, part: str | None) -> tuple[int, int] | None:
    m = atom.m
    if atom.kind == "bare":
        return _clock(m.group("bhour"), "", part)
    return _clock(m.group("hour"), m.group("minute") or "", part)


def _is_weak_clock(atom: _Atom, text: str) -> bool:
    """一点/两点 alone are usually "a little" (大一点, 慢一点), not a time of day."""
    m = atom.m
    if atom.kind == "bare":
        return False
    if m.group("minute") or m.group("hour").isdigit() or "钟" in m.group(0) or ":" in m.group(0):
        return False
    if m.group("hour") not in ("一", "两"):
        return False
    after = text[atom.end : atom.end + 1]
    return after not in ("到", "至", "开", "左", "前", "后", "以", "-")


def _offset(atom: _Atom, ctx: _Ctx) -> tuple[Interval, date | None] | None:
    """三天后 (that day), 两周后 (that week), 三个月后 (that month), 半小时后 (that hour); 过两天 (a few
    days from the day after tomorrow); 三天内 / 未来三天 / 近两周 (from now to the end of the last day)."""
    m = atom.m
    pre, post, n_s, unit = m.group("ofp") or "", m.group("ofs") or "", m.group("ofn"), m.group("ofu")
    n: float
    if n_s == "半":
        n = 0.5
    else:
        got = to_int(n_s)
        if got is None:
            return None
        n = float(got)
    if m.group("ofx") == "半" or m.group("ofh"):
        n += 0.5
    kind, size = _OFF_UNITS[unit]
    now = ctx.now.replace(second=0, microsecond=0)
    today = ctx.today
    within = post in ("以内", "之内", "内") or pre.rstrip("的") in (
        "未来",
        "接下来",
        "今后",
        "往后",
        "最近",
        "近",
    )
    if kind == "minute":
        delta = timedelta(minutes=n * size)
        if within:
            return Interval(now, now + delta, "range"), None
        return Interval(now + delta, now + delta + timedelta(hours=1), "hour"), None
    if kind == "month":
        months = n * size
        whole = int(months)
        target = _add_months(today, whole) + timedelta(days=15 if months - whole else 0)
        if within:
            return Interval(now, _midnight(target + timedelta(days=1)), "range"), None
        if months < 1:  # 半个月后: that day
            return Interval(_midnight(target), _midnight(target + timedelta(days=1)), "day"), target
        return Interval(_midnight(target), _midnight(_add_months(target, 1)), "range"), None
    if kind == "workday":  # 五个工作日内: China's working days, holidays and swapped weekends included
        target = _workdays_after(today, int(n))
        if within:
            return Interval(now, _midnight(target + timedelta(days=1)), "range"), None
        return Interval(_midnight(target), _midnight(target + timedelta(days=1)), "day"), target
    days = int(n * size)
    if within:
        return Interval(now, _midnight(today + timedelta(days=days + 1)), "range"), None
    if pre == "过" and n_s == "两" and size == 1 and not post:  # 过两天: in a few days, not exactly two
        start = today + timedelta(days=2)
        return Interval(_midnight(start), _midnight(start + timedelta(days=4)), "range"), None
    target = today + timedelta(days=days)
    if size == 7 and n >= 1:  # 两周后: that calendar week
        monday = target - timedelta(days=target.weekday())
        return Interval(_midnight(monday), _midnight(monday + timedelta(days=7)), "week"), None
    return Interval(_midnight(target), _midnight(target + timedelta(days=1)), "day"), target


def _workdays_after(today: date, n: int) -> date:
    """The n-th working day after ``today`` (chinese-calendar; Monday to Friday outside its years)."""
    import chinese_calendar

    d = today
    for _ in range(min(n, 400)):
        d += timedelta(days=1)
        while True:
            try:
                work = bool(chinese_calendar.is_workday(d))
            except NotImplementedError:
                work = d.weekday() < 5
            if work:
                break
            d += timedelta(days=1)
    return d


def _year_ctx(atom: _Atom, ctx: _Ctx) -> _Ctx | None:
    m = atom.m
    if m.group("yw"):
        year = ctx.today.year + _YEAR_WORDS[m.group("yw")]
    else:
        got = to_int(m.group("ynum"))
        if got is None:
            return None
        year = got
    return _Ctx(ctx.now, year, ctx.xiaonian)


def _clip(start_d: date, end_d: date, today: date) -> date:
    return today if start_d <= today < end_d else start_d


def _year_part(pos: str, ctx: _Ctx) -> Interval | None:
    """年底/年末 December; 年初/年头/伊始 January and February; 上半年/下半年; 前三个月/后三个月 (the
    first or last months of the year); 年中 June and July; 年前 from today (or
    腊月初一) to 春节; 年后 the month after 春节; with 明年/去年 the parts of that year."""
    today = ctx.today
    year = ctx.year if ctx.year is not None else today.year
    if pos in ("年前", "年后", "年根", "年根儿"):
        fest = _festival("春节", ctx if ctx.year is None else _Ctx(ctx.now, ctx.year, ctx.xiaonian))
        if fest is None:
            return None
        spring = fest[0]
        if pos == "年后":
            start_d, end_d = spring, spring + timedelta(days=30)
            if ctx.year is None and today >= spring:  # 年后 said just after 春节: from today
                start_d = today
        else:
            start_d = (
                max(today, spring - timedelta(days=30)) if ctx.year is None else spring - timedelta(days=30)
            )
            end_d = spring
        return Interval(_midnight(start_d), _midnight(end_d), "range")
    months = _year_months(pos)
    if pos in ("底", "末", "年底", "年末", "年尾"):
        start_d, end_d = date(year, 12, 1), date(year + 1, 1, 1)
    elif months is not None:  # 年初 Jan–Feb, 上半年 Jan–Jun, 后三个月 Oct–Dec: next year's once over
        start_d, end_d = date(year, months[0], 1), _add_months(date(year, months[0], 1), months[1])
        if ctx.year is None and today >= end_d:  # 年初 said in November: next year's
            start_d, end_d = _add_months(start_d, 12), _add_months(end_d, 12)
    elif pos in ("中", "年中"):
        start_d, end_d = date(year, 6, 1), date(year, 8, 1)
    else:
        return None
    return Interval(_midnight(_clip(start_d, end_d, today)), _midnight(end_d), "range")


def _year_months(pos: str) -> tuple[int, int] | None:
    """The first month and the number of months of a part of a year named from its start or its end:
    年初/伊始 (1, 2), 上半年 (1, 6), 下半年 (7, 6), 前三个月/头两个月 (1, N), 后三个月 (13 - N, N)."""
    if pos in ("初", "年初", "年头", "伊始", "年伊始"):
        return 1, 2
    if pos in ("上半年", "下半年"):
        return (1, 6) if pos[0] == "上" else (7, 6)
    if pos[0] in "前后头" and pos.endswith("月"):
        n = to_int(pos[1:].rstrip("月").rstrip("个"))
        if n is None or not 1 <= n <= 12:
            return None
        return (13 - n, n) if pos[0] == "后" else (1, n)
    return None


def _resolve_group(
    group: list[_Atom], ctx: _Ctx, inherit: tuple[date, str | None] | None = None
) -> tuple[Interval, date | None, str | None] | None:
    now, today = ctx.now, ctx.today
    first = group[0]
    if first.kind == "yearw":
        yctx = _year_ctx(first, ctx)
        if yctx is None or yctx.year is None:
            return None
        pos = first.m.group("ywpos")
        if pos:
            got = _year_part(pos, yctx)
            return (got, None, None) if got else None
        if len(group) == 1:
            start_d, end_d = date(yctx.year, 1, 1), date(yctx.year + 1, 1, 1)
            return Interval(_midnight(_clip(start_d, end_d, today)), _midnight(end_d), "year"), None, None
        return _resolve_group(group[1:], yctx, inherit)
    if first.kind == "yearpart":
        got = _year_part(first.m.group(0), ctx)
        return (got, None, None) if got else None
    if first.kind == "offset":
        off = _offset(first, ctx)
        if off is None:
            return None
        if len(group) > 1 and off[1] is not None:
            return _resolve_day_group(group[1:], ctx, None, forced_day=off[1])
        return off[0], off[1], None
    if first.kind == "recent":
        start = now.replace(second=0, microsecond=0)
        return Interval(start, start + timedelta(days=7), "range"), None, None
    if first.kind == "weekend":
        prefix = (first.m.group("wep") or "").rstrip("个")
        monday = today - timedelta(days=today.weekday())
        weeks = {"下": 1, "下下": 2, "上": -1, "上上": -2}.get(prefix, 0)
        sat = monday + timedelta(days=5 + 7 * weeks)
        start_d = max(sat, today) if weeks == 0 else sat
        if len(group) > 1:
            parts = _weekend_parts(group[1:], ctx, sat, start_d, bool(prefix))
            return (parts, None, None) if parts is not None else None
        return Interval(_midnight(start_d), _midnight(sat + timedelta(days=2)), "weekend"), None, None
    if first.kind == "week":
        prefix = (first.m.group("wkp") or "").rstrip("个")
        monday = today - timedelta(days=today.weekday())
        weeks = {"下": 1, "下下": 2, "上": -1, "上上": -2}.get(prefix, 0)
        if len(group) > 1:  # 下周周六, 下个礼拜的今天
            nxt = group[1]
            if nxt.kind == "weekday":
                day = monday + timedelta(days=7 * weeks + _WEEKDAYS[nxt.m.group("wd")])
            else:
                day = today + timedelta(days=7 * weeks + _RELDAY[nxt.m.group("relday")])
            return _resolve_day_group(group[2:], ctx, None, forced_day=day)
        start_d = monday + timedelta(days=7 * weeks)
        if weeks == 0:
            start_d = today
        return (
            Interval(_midnight(start_d), _midnight(monday + timedelta(days=7 * weeks + 7)), "week"),
            None,
            None,
        )
    if first.kind == "month" and len(group) > 1 and group[1].kind in ("dayonly", "nthwd"):
        month_start = _resolve_month(first, today).start.date().replace(day=1)
        got_day = _nth_or_dom(month_start, group[1])
        if got_day is None:
            return None
        return _resolve_day_group(group[2:], ctx, None, forced_day=got_day)
    if first.kind == "month":
        return _resolve_month(first, today), None, None
    if first.kind == "season":
        span = _season(_SEASONS[first.m.group(0)], ctx)
        if span is None:
            return None
        return Interval(_midnight(_clip(span[0], span[1], today)), _midnight(span[1]), "range"), None, None
    if first.kind == "xun":
        first_d = today.replace(day=1)
        start_d, end_d = _month_part(first_d, first.m.group(0))
        if today >= end_d:
            start_d, end_d = _month_part(_first_of_next_month(first_d), first.m.group(0))
        return Interval(_midnight(_clip(start_d, end_d, today)), _midnight(end_d), "range"), None, None
    if first.kind == "date" and not first.m.group("mday"):
        month = to_int(first.m.group("mon"))
        if month is None or not 1 <= month <= 12:
            return None
        if len(group) > 1 and group[1].kind == "nthwd":  # 6月第三个星期日: this year's, or next year's
            if first.m.group("year"):
                ctx = _Ctx(ctx.now, to_int(first.m.group("year")), ctx.xiaonian)
            days = (
                (d, d + timedelta(days=1))
                for y in _years(ctx)
                if (d := _nth_or_dom(date(y, month, 1), group[1]))
            )
            picked = _pick(days, ctx)
            return _resolve_day_group(group[2:], ctx, None, forced_day=picked[0]) if picked else None
        pos = first.m.group("dpos") or ""
        if first.m.group("year"):
            ctx = _Ctx(ctx.now, to_int(first.m.group("year")), ctx.xiaonian)
        span = _pick((_month_part(date(y, month, 1), pos) for y in _years(ctx)), ctx)
        if span is None:
            return None
        start_d, end_d = span
        return (
            Interval(_midnight(_clip(start_d, end_d, today)), _midnight(end_d), "range" if pos else "month"),
            None,
            None,
        )
    if first.kind in ("lunar", "lnewyear", "lday0"):
        span = _lunar_atom(first, ctx)
        if span is None:
            return None
        if span[1] - span[0] > timedelta(days=1):  # a whole lunar month
            return (
                Interval(_midnight(_clip(span[0], span[1], today)), _midnight(span[1]), "month"),
                None,
                None,
            )
    if first.kind == "festival":
        fest = _festival(first.m.group("festival"), ctx)
        if fest is None:
            return None
        day0, length = fest
        if length > 1 and len(group) == 1:
            start_d = max(day0, today)
            return Interval(_midnight(start_d), _midnight(day0 + timedelta(days=length)), "range"), None, None
    return _resolve_day_group(group, ctx, inherit)


def _list_day(group: list[_Atom], ctx: _Ctx, prev: TimeSpan, prev_day: date) -> tuple[Interval, date] | None:
    """The next day of a list after a day (9月10号,11号,12号): that day of the same month (of the next
    month when its number is not larger), joined to the span before it; ``spans`` keeps each day."""
    first = prev.interval
    if first.grain not in ("day", "part_of_day", "hour") and not first.spans:
        return None
    dom = to_int(group[0].m.group("dom"))
    if dom is None or dom == prev_day.day:
        return None
    month = prev_day.replace(day=1)
    day = _safe_date(month.year, month.month, dom) if dom > prev_day.day else None
    if day is None:
        month = _first_of_next_month(month)
        day = _safe_date(month.year, month.month, dom)
    if day is None:
        return None
    got = _resolve_day_group(group[1:], ctx, None, forced_day=day)
    if got is None:
        return None
    windows = first.spans or ((first.start, first.end),)
    return Interval(first.start, got[0].end, "range", (*windows, (got[0].start, got[0].end))), day


def _weekend_parts(rest: list[_Atom], ctx: _Ctx, sat: date, start_d: date, prefixed: bool) -> Interval | None:
    """周末上午, 下周末晚上, 周末上午9点: the same part of the day (or hour) on Saturday and on Sunday."""
    spans: list[tuple[datetime, datetime]] = []
    for d in (sat, sat + timedelta(days=1)):
        got = _resolve_day_group(rest, ctx, None, forced_day=d)
        if got is None:
            return None
        spans.append((got[0].start, got[0].end))
    left = [s for s in spans if s[1] > ctx.now and s[0].date() >= start_d]
    if not left and not prefixed:  # 周末上午 said on Sunday afternoon: the next weekend
        return _weekend_parts(rest, ctx, sat + timedelta(days=7), sat + timedelta(days=7), True)
    spans = left or spans
    return Interval(spans[0][0], spans[-1][1], "weekend", tuple(spans))


def _resolve_day_group(
    group: list[_Atom], ctx: _Ctx, inherit: tuple[date, str | None] | None, forced_day: date | None = None
) -> tuple[Interval, date | None, str | None] | None:
    now, today = ctx.now, ctx.today
    day: date | None = forced_day
    part: str | None = None
    clock_atom: _Atom | None = None
    for atom in group:
        if atom.kind in _DAY_KINDS:
            day = _day_of(atom, ctx)
            if day is None:
                return None
            if atom.kind == "relday":
                part = _RELDAY_PART.get(atom.m.group("relday"), part)
        elif atom.kind == "part":
            part = atom.m.group("part")
        elif atom.kind in ("clock", "bare"):
            clock_atom = atom
    if day is None and inherit is not None:
        day = inherit[0]
        part = part or inherit[1]
    explicit_day = day is not None
    if day is None:
        day = today
    if clock_atom is not None:
        hm = _clock_of(clock_atom, part)
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


def _nth_or_dom(first: date, atom: _Atom) -> date | None:
    """The day of the month ``first`` named by a 5号 or 第二个周六 atom."""
    if atom.kind == "dayonly":
        dom = to_int(atom.m.group("dom"))
        return _safe_date(first.year, first.month, dom) if dom else None
    nth, wd = to_int(atom.m.group("nth")) or 1, _WEEKDAYS[atom.m.group("nwd")]
    got = first + timedelta(days=(wd - first.weekday()) % 7 + 7 * (nth - 1))
    return got if got.month == first.month else None


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
    elif prefix in ("上个", "上"):
        first = (first - timedelta(days=1)).replace(day=1)
    nxt = _first_of_next_month(first)
    start_d, end_d = _month_part(first, pos)
    if not prefix and pos in ("初", "伊始", "中") and today >= end_d:  # 月初 said late: the next one
        start_d, end_d = _month_part(nxt, pos)
    if start_d <= today < end_d:
        start_d = today
    return Interval(_midnight(start_d), _midnight(end_d), "month" if not pos else "range")


def _joinable(text: str, a: _Atom, b: _Atom) -> bool:
    gap = text[a.end : b.start]
    return len(gap) <= 1 and all(c in _GLUE for c in gap)


_YEAR_FOLLOWERS = frozenset({"date", "lunar", "festival", "yearpart", "lnewyear", "season"})


def _names_a_day(prev: list[_Atom]) -> bool:
    """Whether a group so far names one day (so a part of the day or a clock time may follow)."""
    last = prev[-1]
    if last.kind == "date":
        return bool(last.m.group("mday"))
    if last.kind == "lunar":
        return bool(last.m.group("lday"))
    if last.kind == "offset":
        after = last.m.group("ofs") in ("后", "以后", "之后") or last.m.group("ofp") in ("再过", "过了")
        return after and _OFF_UNITS[last.m.group("ofu")] == ("day", 1)
    if last.kind == "nthwd":
        return True
    if last.kind in ("weekday", "relday") and len(prev) > 1 and prev[0].kind == "week":
        return True
    return last.kind in _DAY_KINDS


def _combinable(prev: list[_Atom], atom: _Atom) -> bool:
    kinds = {a.kind for a in prev}
    if prev[0].kind == "yearw" and len(prev) == 1:  # 明年三月, 明年春节, 明年腊月, 明年年底
        return atom.kind in _YEAR_FOLLOWERS and not prev[0].m.group("ywpos")
    if prev[0].kind == "week" and len(prev) == 1:  # 下周周六, 下个礼拜的今天
        if atom.kind == "weekday" and not atom.m.group("wdp"):
            return True
        return atom.kind == "relday" and atom.m.group("relday") in (
            "今天",
            "今儿",
            "今儿个",
            "今日",
            "明天",
            "后天",
        )
    if atom.kind == "part":
        if kinds == {"weekend"}:  # 周末上午: mornings of both days
            return True
        if kinds & {"part", "clock", "bare"}:
            return False
        if kinds & {"month"}:
            return bool(kinds & {"dayonly", "nthwd"})
        return _names_a_day(prev)
    if atom.kind in ("dayonly", "nthwd") and prev[0].kind == "month":  # 下个月5号, 下个月第一个周六
        return (
            len(prev) == 1
            and prev[0].kind == "month"
            and bool(prev[0].m.group("mp"))
            and not prev[0].m.group("mpos")
        )
    if atom.kind == "nthwd":  # 6月第三个星期日
        return prev[-1].kind == "date" and not prev[-1].m.group("mday") and not prev[-1].m.group("dpos")
    if atom.kind in ("clock", "bare"):
        if kinds & {"clock", "bare"}:
            return False
        if "weekend" in kinds:  # 周末上午9点
            return kinds <= {"weekend", "part"}
        if kinds & {"month"}:
            return bool(kinds & {"dayonly", "nthwd"})
        if prev[-1].kind == "part":
            return True
        return _names_a_day(prev)
    return False


_WARM_UP = "腊月初十 廿一 冬至 清明 小年 除夕 春节 正月 冬天 夏天 闰四月 明年腊月 去年春节 明年冬至"


def warm_up(now: datetime) -> None:
    """Fill the lunar-calendar caches for the years around ``now`` (the first lunar date costs 10–100 ms
    in lunar-python, later ones microseconds). Safe to run in a background thread."""
    base = _lunar_year_of(now.date())
    for ly in range(base - 1, base + 3):
        for lm in [*range(1, 13), -_leap_month(ly)] if _leap_month(ly) else range(1, 13):
            _lunar_month(ly, lm)
    for y in range(now.year - 1, now.year + 3):
        _terms_of(y)
    for word in _WARM_UP.split():
        extract(word, now)


def extract(text: str, now: datetime, xiaonian: str = "north") -> list[TimeSpan]:
    """Find time expressions in normalized ``text`` relative to local naive ``now``.

    Args:
        text: normalized text (simplified characters, half-width digits).
        now: the local reference time (naive, Asia/Shanghai).
        xiaonian: 小年 is 腊月二十三 in the ``"north"``, 腊月二十四 in the ``"south"``.

    Returns:
        Non-overlapping spans in order, each with its resolved interval.
    """
    if _TRIGGER_RE.search(text) is None:
        return []
    atoms: list[_Atom] = []
    for m in _ATOM_RE.finditer(text):
        kind = next(k for k in _KINDS if m.group(k) is not None)
        atom = _Atom(kind, m.start(), m.end(), m)
        if (
            kind == "clock"
            and _is_weak_clock(atom, text)
            and not (atoms and _joinable(text, atoms[-1], atom))
        ):
            continue
        atoms.append(atom)
    if not atoms:
        return []
    ctx = _Ctx(now, None, xiaonian)
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
    listable = False  # the span before names a day of the month by its number (so 11号 may follow in a list)
    for group in groups:
        joined = bool(spans) and _RANGE_JOIN.fullmatch(text[last_end : group[0].start]) is not None
        gap = text[last_end : group[0].start]
        if listable and last_ctx is not None and group[0].kind == "dayonly" and _LIST_JOIN.fullmatch(gap):
            listed = _list_day(group, ctx, spans[-1], last_ctx[0])
            if listed is not None:
                spans[-1] = TimeSpan(spans[-1].start, group[-1].end, listed[0])
                last_ctx, last_end = (listed[1], None), group[-1].end
                continue
        try:
            got = _resolve_group(group, ctx, last_ctx if joined else None)
        except (ValueError, OverflowError):  # a year or an offset outside the calendar (0000年, 99999天后)
            got = None
        listable = any(a.kind in ("date", "sdate", "dayonly") for a in group)
        if got is None:
            last_ctx = None
            continue
        interval, day, part = got
        start, end = group[0].start, group[-1].end
        before = _BEFORE_RE.match(text, end)
        if (
            before
            and not joined
            and group[0].kind not in ("offset", "recent")
            and interval.grain not in ("hour", "part_of_day")
            and interval.start > now
        ):
            to = interval.start if group[-1].kind == "festival" else interval.end
            interval = Interval(now.replace(second=0, microsecond=0), to, "range")
            end = before.end()
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
