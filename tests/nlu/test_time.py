"""Every time convention of the issue, with a Saturday and a Wednesday reference time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from nlu import Parser
from tests.nlu.conftest import SAT, WED


def D(d: str, h: int = 0) -> str:
    return f"{d}T{h:02d}:00:00"


# (now, text, from, to, grain)
CASES = [
    # relative days, dialect forms
    (SAT, "今天", D("2026-11-28"), D("2026-11-29"), "day"),
    (SAT, "今儿", D("2026-11-28"), D("2026-11-29"), "day"),
    (SAT, "明天", D("2026-11-29"), D("2026-11-30"), "day"),
    (SAT, "明儿", D("2026-11-29"), D("2026-11-30"), "day"),
    (SAT, "明儿个", D("2026-11-29"), D("2026-11-30"), "day"),
    (SAT, "后天", D("2026-11-30"), D("2026-12-01"), "day"),
    (SAT, "后儿个", D("2026-11-30"), D("2026-12-01"), "day"),
    (SAT, "后儿", D("2026-11-30"), D("2026-12-01"), "day"),
    (SAT, "大后天", D("2026-12-01"), D("2026-12-02"), "day"),
    # weekdays: alone = next such day, today included; 下周X = day X of next calendar week
    (SAT, "周六", D("2026-11-28"), D("2026-11-29"), "day"),
    (SAT, "礼拜六", D("2026-11-28"), D("2026-11-29"), "day"),
    (SAT, "星期天", D("2026-11-29"), D("2026-11-30"), "day"),
    (SAT, "礼拜天", D("2026-11-29"), D("2026-11-30"), "day"),
    (SAT, "这周三", D("2026-12-02"), D("2026-12-03"), "day"),
    (SAT, "周三", D("2026-12-02"), D("2026-12-03"), "day"),
    (SAT, "下周三", D("2026-12-02"), D("2026-12-03"), "day"),
    (SAT, "下礼拜一", D("2026-11-30"), D("2026-12-01"), "day"),
    (WED, "周三", D("2026-12-02"), D("2026-12-03"), "day"),
    (WED, "周二", D("2026-12-08"), D("2026-12-09"), "day"),
    (WED, "下周三", D("2026-12-09"), D("2026-12-10"), "day"),
    (WED, "下礼拜一", D("2026-12-07"), D("2026-12-08"), "day"),
    (WED, "礼拜五", D("2026-12-04"), D("2026-12-05"), "day"),
    # weeks start on Monday
    (SAT, "下周", D("2026-11-30"), D("2026-12-07"), "week"),
    (SAT, "下下周", D("2026-12-07"), D("2026-12-14"), "week"),
    (WED, "下周", D("2026-12-07"), D("2026-12-14"), "week"),
    (WED, "下下周", D("2026-12-14"), D("2026-12-21"), "week"),
    (WED, "这周", D("2026-12-02"), D("2026-12-07"), "week"),
    # weekend: Saturday 00:00 to Monday 00:00; the rest of it when today is already the weekend
    (WED, "周末", D("2026-12-05"), D("2026-12-07"), "weekend"),
    (WED, "这周末", D("2026-12-05"), D("2026-12-07"), "weekend"),
    (SAT, "周末", D("2026-11-28"), D("2026-11-30"), "weekend"),
    (SAT, "下周末", D("2026-12-05"), D("2026-12-07"), "weekend"),
    (WED, "下周末", D("2026-12-12"), D("2026-12-14"), "weekend"),
    # parts of the day, with and without a day
    (SAT, "明天上午", D("2026-11-29", 5), D("2026-11-29", 12), "part_of_day"),
    (SAT, "明天早上", D("2026-11-29", 5), D("2026-11-29", 10), "part_of_day"),
    (SAT, "明天中午", D("2026-11-29", 11), D("2026-11-29", 14), "part_of_day"),
    (SAT, "明儿个后晌", D("2026-11-29", 12), D("2026-11-29", 18), "part_of_day"),
    (SAT, "明天下晌", D("2026-11-29", 12), D("2026-11-29", 18), "part_of_day"),
    (SAT, "明天头午", D("2026-11-29", 5), D("2026-11-29", 12), "part_of_day"),
    (SAT, "后天前晌", D("2026-11-30", 5), D("2026-11-30", 12), "part_of_day"),
    (SAT, "礼拜天晚上", D("2026-11-29", 18), D("2026-11-30"), "part_of_day"),
    (SAT, "下午", D("2026-11-28", 12), D("2026-11-28", 18), "part_of_day"),
    (WED, "上午", D("2026-12-03", 5), D("2026-12-03", 12), "part_of_day"),
    # clock times: hour grain
    (SAT, "明天上午9点", D("2026-11-29", 9), D("2026-11-29", 10), "hour"),
    (SAT, "下午3点", D("2026-11-28", 15), D("2026-11-28", 16), "hour"),
    (SAT, "礼拜六后晌三点", D("2026-11-28", 15), D("2026-11-28", 16), "hour"),
    (SAT, "明天晚上7点半", "2026-11-29T19:30:00", "2026-11-29T20:30:00", "hour"),
    (SAT, "9点到11点", D("2026-11-29", 9), D("2026-11-29", 11), "range"),
    # dates: next occurrence
    (SAT, "12月5号", D("2026-12-05"), D("2026-12-06"), "day"),
    (SAT, "十二月五日", D("2026-12-05"), D("2026-12-06"), "day"),
    (SAT, "5号", D("2026-12-05"), D("2026-12-06"), "day"),
    (SAT, "30号", D("2026-11-30"), D("2026-12-01"), "day"),
    (SAT, "11月3号", D("2027-11-03"), D("2027-11-04"), "day"),
    (WED, "31号", D("2026-12-31"), D("2027-01-01"), "day"),
    (SAT, "12月5号上午", D("2026-12-05", 5), D("2026-12-05", 12), "part_of_day"),
    # months and ranges
    (SAT, "这个月", D("2026-11-28"), D("2026-12-01"), "month"),
    (SAT, "下个月", D("2026-12-01"), D("2027-01-01"), "month"),
    (WED, "这个月", D("2026-12-02"), D("2027-01-01"), "month"),
    (WED, "下个月", D("2027-01-01"), D("2027-02-01"), "month"),
    (WED, "月底", D("2026-12-25"), D("2027-01-01"), "range"),
    (SAT, "月底", D("2026-11-28"), D("2026-12-01"), "range"),
    (SAT, "最近", D("2026-11-28", 10), D("2026-12-05", 10), "range"),
    (WED, "这几天", "2026-12-02T15:30:00", "2026-12-09T15:30:00", "range"),
    (SAT, "周一到周五", D("2026-11-30"), D("2026-12-05"), "range"),
    # festivals: next occurrence (lunar ones via lunar-python)
    (SAT, "元旦", D("2027-01-01"), D("2027-01-02"), "day"),
    (SAT, "春节", D("2027-02-06"), D("2027-02-07"), "day"),
    (SAT, "重阳节", D("2027-10-08"), D("2027-10-09"), "day"),
    (SAT, "学雷锋纪念日", D("2027-03-05"), D("2027-03-06"), "day"),
    (SAT, "国际志愿者日", D("2026-12-05"), D("2026-12-06"), "day"),
    (WED, "国庆", D("2027-10-01"), D("2027-10-08"), "range"),
]


@pytest.mark.parametrize(("now", "text", "start", "end", "grain"), CASES)
def test_time(parser: Parser, now: datetime, text: str, start: str, end: str, grain: str) -> None:
    times = [e for e in parser.parse(text + "有啥活动", now)["entities"] if e["entity"] == "time"]
    assert len(times) == 1, times
    assert times[0]["value"] == {"from": start, "to": end, "grain": grain}
    assert (times[0]["start"], times[0]["end"]) == (0, len(text))


def test_festival_today_is_today(parser: Parser) -> None:
    now = datetime(2026, 12, 5, 8, 0)
    times = [e for e in parser.parse("国际志愿者日", now)["entities"] if e["entity"] == "time"]
    assert times[0]["value"]["from"] == D("2026-12-05")


def test_aware_now_is_converted_to_shanghai(parser: Parser) -> None:
    utc = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)  # 01:00 on Sunday in Shanghai
    times = [e for e in parser.parse("明天", utc)["entities"] if e["entity"] == "time"]
    assert times[0]["value"]["from"] == D("2026-11-30")
    naive = utc.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    assert parser.parse("明天", naive)["entities"] == parser.parse("明天", utc)["entities"]


@pytest.mark.parametrize("text", ["字大一点", "说慢一点", "早上好", "第一次用", "5号楼在哪"])
def test_not_a_time(parser: Parser, text: str) -> None:
    assert [e for e in parser.parse(text, SAT)["entities"] if e["entity"] == "time"] == []
