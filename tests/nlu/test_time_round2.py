"""Round 2 of the time conventions (issue 18): relative offsets, the lunar calendar, solar terms and
festivals, year words, parts of months, night hours and ranges, at several awkward "now"s.

Expected lunar dates were read from lunar-python by hand (Lunar.fromYmd(...).getSolar()), not from our code.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from nlu import Parser, timeparse
from tests.nlu.conftest import SAT

#: Monday 2026-11-30 21:00: the last day of a month, late in the evening (lunar 十月廿二).
EOM = datetime(2026, 11, 30, 21, 0)
#: Monday 2026-02-09 09:00: lunar 腊月廿二 of 2025, the last week of a lunar year whose 腊月 has 29 days
#: (除夕 is 腊月廿九 = 2026-02-16, 春节 2026-02-17).
LNY = datetime(2026, 2, 9, 9, 0)
#: Sunday 2026-12-06 22:30.
SUN = datetime(2026, 12, 6, 22, 30)


def D(d: str, h: int = 0, m: int = 0) -> str:
    return f"{d}T{h:02d}:{m:02d}:00"


# (now, text, from, to, grain)
CASES = [
    # relative offsets: that day / that week / from then for a month; 过两天 is "in a few days"
    (SAT, "三天后", D("2026-12-01"), D("2026-12-02"), "day"),
    (SAT, "3天以后", D("2026-12-01"), D("2026-12-02"), "day"),
    (SAT, "十天以后", D("2026-12-08"), D("2026-12-09"), "day"),
    (SAT, "两周后", D("2026-12-07"), D("2026-12-14"), "week"),
    (SAT, "俩礼拜后", D("2026-12-07"), D("2026-12-14"), "week"),
    (SAT, "一个星期以后", D("2026-11-30"), D("2026-12-07"), "week"),
    (SAT, "过两天", D("2026-11-30"), D("2026-12-04"), "range"),
    (SAT, "再过两天", D("2026-11-30"), D("2026-12-01"), "day"),
    (SAT, "过三天", D("2026-12-01"), D("2026-12-02"), "day"),
    (SAT, "未来三天", D("2026-11-28", 10), D("2026-12-02"), "range"),
    (SAT, "三天内", D("2026-11-28", 10), D("2026-12-02"), "range"),
    (SAT, "近两周", D("2026-11-28", 10), D("2026-12-13"), "range"),
    (SAT, "半个月后", D("2026-12-13"), D("2026-12-14"), "day"),
    (SAT, "一个来月后", D("2026-12-28"), D("2027-01-28"), "range"),
    (SAT, "仨月后", D("2027-02-28"), D("2027-03-28"), "range"),
    (SAT, "半小时后", D("2026-11-28", 10, 30), D("2026-11-28", 11, 30), "hour"),
    (SAT, "两个小时以后", D("2026-11-28", 12), D("2026-11-28", 13), "hour"),
    (SAT, "三天后上午", D("2026-12-01", 5), D("2026-12-01", 12), "part_of_day"),
    (SAT, "三天后下午3点", D("2026-12-01", 15), D("2026-12-01", 16), "hour"),
    (EOM, "三天后", D("2026-12-03"), D("2026-12-04"), "day"),
    (LNY, "十天以后", D("2026-02-19"), D("2026-02-20"), "day"),
    # the lunar calendar: the next such day (or month), 廿 and 初 forms
    (SAT, "冬月初八", D("2026-12-16"), D("2026-12-17"), "day"),
    (SAT, "腊月初十", D("2027-01-17"), D("2027-01-18"), "day"),
    (SAT, "农历十月廿一", D("2026-11-29"), D("2026-11-30"), "day"),
    (SAT, "廿一", D("2026-11-29"), D("2026-11-30"), "day"),
    (SAT, "初八", D("2026-12-16"), D("2026-12-17"), "day"),
    (SAT, "冬月", D("2026-12-09"), D("2027-01-08"), "month"),
    (SAT, "腊八", D("2027-01-15"), D("2027-01-16"), "day"),
    (SAT, "小年", D("2027-01-30"), D("2027-01-31"), "day"),
    (SAT, "除夕", D("2027-02-05"), D("2027-02-06"), "day"),
    (SAT, "大年三十", D("2027-02-05"), D("2027-02-06"), "day"),  # 腊月 of 2026 has 29 days too
    (SAT, "正月十五", D("2027-02-20"), D("2027-02-21"), "day"),
    (LNY, "小年", D("2026-02-10"), D("2026-02-11"), "day"),
    (LNY, "大年三十", D("2026-02-16"), D("2026-02-17"), "day"),
    (LNY, "腊月三十", D("2026-02-16"), D("2026-02-17"), "day"),
    (LNY, "除夕", D("2026-02-16"), D("2026-02-17"), "day"),
    (LNY, "腊月二十九", D("2026-02-16"), D("2026-02-17"), "day"),
    (LNY, "春节", D("2026-02-17"), D("2026-02-18"), "day"),
    (LNY, "大年初一", D("2026-02-17"), D("2026-02-18"), "day"),
    (LNY, "正月初五", D("2026-02-21"), D("2026-02-22"), "day"),
    (LNY, "元宵节", D("2026-03-03"), D("2026-03-04"), "day"),
    (LNY, "腊八", D("2027-01-15"), D("2027-01-16"), "day"),  # this year's (2026-01-26) is over
    (LNY, "年前", D("2026-02-09"), D("2026-02-17"), "range"),
    (LNY, "年后", D("2026-02-17"), D("2026-03-19"), "range"),
    (LNY, "明年春节", D("2027-02-06"), D("2027-02-07"), "day"),
    # solar terms and festivals of both calendars
    (SAT, "冬至", D("2026-12-22"), D("2026-12-23"), "day"),
    (SAT, "大雪那天", D("2026-12-07"), D("2026-12-08"), "day"),
    (LNY, "立春", D("2027-02-04"), D("2027-02-05"), "day"),
    (LNY, "清明节", D("2026-04-05"), D("2026-04-06"), "day"),
    (SAT, "母亲节", D("2027-05-09"), D("2027-05-10"), "day"),
    (SAT, "父亲节", D("2027-06-20"), D("2027-06-21"), "day"),
    (SAT, "三八", D("2027-03-08"), D("2027-03-09"), "day"),
    (SAT, "三八妇女节", D("2027-03-08"), D("2027-03-09"), "day"),
    (SAT, "学雷锋日", D("2027-03-05"), D("2027-03-06"), "day"),
    (SAT, "国际志愿者日", D("2026-12-05"), D("2026-12-06"), "day"),
    (SAT, "八一", D("2027-08-01"), D("2027-08-02"), "day"),
    (SAT, "教师节", D("2027-09-10"), D("2027-09-11"), "day"),
    # year words
    (EOM, "明年三月", D("2027-03-01"), D("2027-04-01"), "month"),
    (EOM, "明年三月下旬", D("2027-03-21"), D("2027-04-01"), "range"),
    (EOM, "今年12月", D("2026-12-01"), D("2027-01-01"), "month"),
    (EOM, "去年", D("2025-01-01"), D("2026-01-01"), "year"),
    (EOM, "今年", D("2026-11-30"), D("2027-01-01"), "year"),
    (EOM, "明年", D("2027-01-01"), D("2028-01-01"), "year"),
    (EOM, "年底", D("2026-12-01"), D("2027-01-01"), "range"),
    (EOM, "明年年底", D("2027-12-01"), D("2028-01-01"), "range"),
    (SAT, "年底前", D("2026-11-28", 10), D("2027-01-01"), "range"),
    # parts of months: 上旬 1–10, 中旬 11–20, 下旬 21–end; the next one once this one is over
    (EOM, "下旬", D("2026-11-30"), D("2026-12-01"), "range"),
    (EOM, "月底", D("2026-11-30"), D("2026-12-01"), "range"),
    (EOM, "月初", D("2026-12-01"), D("2026-12-11"), "range"),
    (EOM, "上旬", D("2026-12-01"), D("2026-12-11"), "range"),
    (EOM, "中旬", D("2026-12-11"), D("2026-12-21"), "range"),
    (EOM, "下个月中旬", D("2026-12-11"), D("2026-12-21"), "range"),
    (SAT, "这个月下旬", D("2026-11-28"), D("2026-12-01"), "range"),
    (SAT, "6月中旬", D("2027-06-11"), D("2027-06-21"), "range"),
    # weeks
    (SAT, "下周周六", D("2026-12-05"), D("2026-12-06"), "day"),
    (SAT, "下个礼拜的今天", D("2026-12-05"), D("2026-12-06"), "day"),
    (EOM, "下周周六", D("2026-12-12"), D("2026-12-13"), "day"),
    (EOM, "下个礼拜的今天", D("2026-12-07"), D("2026-12-08"), "day"),
    (SAT, "下个月第一个周六", D("2026-12-05"), D("2026-12-06"), "day"),
    # parts of the day; 12 at night is midnight; the small hours belong to the night before
    (EOM, "夜里12点", D("2026-12-01"), D("2026-12-01", 1), "hour"),
    (EOM, "晚上12点", D("2026-12-01"), D("2026-12-01", 1), "hour"),
    (SAT, "明天晚上12点", D("2026-11-30"), D("2026-11-30", 1), "hour"),
    (EOM, "半夜1点", D("2026-12-01", 1), D("2026-12-01", 2), "hour"),
    (SAT, "明天晚上1点", D("2026-11-30", 1), D("2026-11-30", 2), "hour"),
    (SAT, "晚上7点", D("2026-11-28", 19), D("2026-11-28", 20), "hour"),
    (EOM, "凌晨3点", D("2026-12-01", 3), D("2026-12-01", 4), "hour"),
    (SAT, "明天凌晨5点", D("2026-11-29", 5), D("2026-11-29", 6), "hour"),
    (SAT, "12点", D("2026-11-28", 12), D("2026-11-28", 13), "hour"),
    (EOM, "夜里", D("2026-11-30", 18), D("2026-12-01"), "part_of_day"),
    (EOM, "傍黑", D("2026-12-01", 17), D("2026-12-01", 20), "part_of_day"),
    (SAT, "明天傍黑", D("2026-11-29", 17), D("2026-11-29", 20), "part_of_day"),
    (EOM, "后半晌", D("2026-12-01", 12), D("2026-12-01", 18), "part_of_day"),
    (SUN, "半夜", D("2026-12-06", 23), D("2026-12-07", 3), "part_of_day"),
    # every range form
    (SAT, "9~12点半", D("2026-11-29", 9), D("2026-11-29", 12, 30), "range"),
    (SAT, "9点到12点半", D("2026-11-29", 9), D("2026-11-29", 12, 30), "range"),
    (SAT, "九点至十二点半", D("2026-11-29", 9), D("2026-11-29", 12, 30), "range"),
    (SAT, "9点—12点半", D("2026-11-29", 9), D("2026-11-29", 12, 30), "range"),
    (SAT, "下午2~4点", D("2026-11-28", 14), D("2026-11-28", 16), "range"),
    (EOM, "明天9~12点半", D("2026-12-01", 9), D("2026-12-01", 12, 30), "range"),
    (SAT, "中午12:00—14:00", D("2026-11-28", 12), D("2026-11-28", 14), "range"),
]


@pytest.mark.parametrize(("now", "text", "start", "end", "grain"), CASES)
def test_time_round2(parser: Parser, now: datetime, text: str, start: str, end: str, grain: str) -> None:
    times = [e for e in parser.parse(text + "有啥活动", now)["entities"] if e["entity"] == "time"]
    assert len(times) == 1, times
    assert times[0]["value"] == {"from": start, "to": end, "grain": grain}
    assert (times[0]["start"], times[0]["end"]) == (0, len(text))


@pytest.mark.parametrize(("convention", "day"), [("north", "2026-02-10"), ("south", "2026-02-11")])
def test_xiaonian_convention(convention: str, day: str) -> None:
    spans = timeparse.extract("小年有活动吗", LNY, xiaonian=convention)
    assert [s.interval.value()["from"] for s in spans] == [D(day)]


@pytest.mark.parametrize(
    "text",
    ["下大雪了还去吗", "雨水多不多", "活动三天", "初一学生能参加吗", "一时半会儿说不清", "字大一点", "3号楼",
     "在五一路集合", "八一广场东门"],
)
def test_not_a_time(parser: Parser, text: str) -> None:
    assert [e for e in parser.parse(text, SAT)["entities"] if e["entity"] == "time"] == []


def test_lunar_words_are_not_solar_month_parts(parser: Parser) -> None:
    """腊月初十 once matched 月初; 冬月初八 became 12月1日."""
    for text in ("腊月初十", "冬月初八"):
        times = [e for e in parser.parse(text, SAT)["entities"] if e["entity"] == "time"]
        assert len(times) == 1 and times[0]["value"]["grain"] == "day", times
        assert (times[0]["start"], times[0]["end"]) == (0, 4)


@pytest.mark.parametrize("text", ["0000年春节", "9999年腊月", "99999天后", "1899年腊月初一", "闰二月初一"])
def test_out_of_the_calendar_is_no_time_and_no_error(text: str) -> None:
    spans = timeparse.extract(text, SAT)
    assert all(1900 <= s.interval.start.year <= 2200 for s in spans), spans


def test_xiaonian_from_the_environment(monkeypatch: pytest.MonkeyPatch, parser: Parser) -> None:
    monkeypatch.setenv("YINLING_NLU_XIAONIAN", "south")
    south = Parser(parser.table, parser.tokenizer, parser.lexicon, parser.classifier)
    times = [e for e in south.parse("小年有活动吗", LNY)["entities"] if e["entity"] == "time"]
    assert times[0]["value"]["from"] == D("2026-02-11")
    monkeypatch.delenv("YINLING_NLU_XIAONIAN")
    north = Parser(parser.table, parser.tokenizer, parser.lexicon, parser.classifier)
    assert north.xiaonian == "north"


def test_working_days_follow_china_s_holidays(parser: Parser) -> None:
    """国庆 2025 ran Oct 1–8 and Saturday Oct 11 was a working day: 三个工作日内 on Sep 30 ends with Oct 11."""
    times = [e for e in parser.parse("三个工作日内有活动吗", datetime(2025, 9, 30, 10))["entities"] if e["entity"] == "time"]
    assert times[0]["value"] == {"from": D("2025-09-30", 10), "to": D("2025-10-12"), "grain": "range"}
