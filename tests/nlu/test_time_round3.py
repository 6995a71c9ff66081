"""Time forms added after measuring against an outside suite (issue 18, round 3): a year written digit by
digit with 伊始 or its first/last months and halves, a list of days after a month, a duration in minutes
and a half, the N-th day counting today, and a night running into the next morning. Sentences are ours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from nlu import Parser
from tests.nlu.conftest import SAT
from tests.nlu.test_time_round2 import EOM, LNY, SUN


def D(d: str, h: int = 0, m: int = 0, s: int = 0) -> str:
    return f"{d}T{h:02d}:{m:02d}:{s:02d}"


def _times(parser: Parser, text: str, now: datetime) -> list[dict[str, Any]]:
    return [e for e in parser.parse(text, now)["entities"] if e["entity"] == "time"]


# (now, text, from, to, grain)
CASES = [
    # years: 伊始 is 年初 (January–February); halves; the first or last N months
    (SAT, "二〇二七年伊始", D("2027-01-01"), D("2027-03-01"), "range"),
    (EOM, "明年伊始", D("2027-01-01"), D("2027-03-01"), "range"),
    (SAT, "二零二七年上半年", D("2027-01-01"), D("2027-07-01"), "range"),
    (LNY, "今年下半年", D("2026-07-01"), D("2027-01-01"), "range"),
    (LNY, "上半年", D("2026-02-09"), D("2026-07-01"), "range"),  # from today
    (SAT, "上半年", D("2027-01-01"), D("2027-07-01"), "range"),  # this year's is over: next year's
    (SAT, "今年后两个月", D("2026-11-28"), D("2027-01-01"), "range"),
    (SAT, "明年头三个月", D("2027-01-01"), D("2027-04-01"), "range"),
    (EOM, "二零二七年后三月", D("2027-10-01"), D("2028-01-01"), "range"),
    (LNY, "2026年前2个月", D("2026-02-09"), D("2026-03-01"), "range"),
    # 伊始 of a month is its beginning, like 月初
    (SAT, "下个月伊始", D("2026-12-01"), D("2026-12-11"), "range"),
    (EOM, "明年三月伊始", D("2027-03-01"), D("2027-03-11"), "range"),
    # a duration in minutes and a half, within or after
    (SAT, "十三分半以内", D("2026-11-28", 10), D("2026-11-28", 10, 13, 30), "range"),
    (EOM, "两分半之内", D("2026-11-30", 21), D("2026-11-30", 21, 2, 30), "range"),
    (SUN, "三分半钟后", D("2026-12-06", 22, 33, 30), D("2026-12-06", 23, 33, 30), "hour"),
    (SAT, "八分以内", D("2026-11-28", 10), D("2026-11-28", 10, 8), "range"),
    # the N-th day counts today as the first
    (SAT, "第三天上午", D("2026-11-30", 5), D("2026-11-30", 12), "part_of_day"),
    (EOM, "第三天", D("2026-12-02"), D("2026-12-03"), "day"),
    (LNY, "第十天下午3点", D("2026-02-18", 15), D("2026-02-18", 16), "hour"),
    (SUN, "第4天晚上", D("2026-12-09", 18), D("2026-12-10"), "part_of_day"),
    # a night running into the next morning
    (SAT, "夜里到第二天上午", D("2026-11-28", 18), D("2026-11-29", 12), "range"),
    (SUN, "晚上至次日早上", D("2026-12-06", 18), D("2026-12-07", 10), "range"),
]


@pytest.mark.parametrize(("now", "text", "start", "end", "grain"), CASES)
def test_time_round3(parser: Parser, now: datetime, text: str, start: str, end: str, grain: str) -> None:
    times = _times(parser, text + "有啥活动", now)
    assert len(times) == 1, times
    assert times[0]["value"] == {"from": start, "to": end, "grain": grain}
    assert (times[0]["start"], times[0]["end"]) == (0, len(text))


# (now, text, [(from, to) of each day])
LISTS = [
    (SAT, "12月3号,5号和8号", [("2026-12-03", "2026-12-04"), ("2026-12-05", "2026-12-06"), ("2026-12-08", "2026-12-09")]),
    (SAT, "12月3号、4号、5号", [("2026-12-03", "2026-12-04"), ("2026-12-04", "2026-12-05"), ("2026-12-05", "2026-12-06")]),
    (EOM, "12月30号，1号", [("2026-12-30", "2026-12-31"), ("2027-01-01", "2027-01-02")]),  # runs into January
    (LNY, "下个月2号还有5号", [("2026-03-02", "2026-03-03"), ("2026-03-05", "2026-03-06")]),
    (SUN, "20号 21号", [("2026-12-20", "2026-12-21"), ("2026-12-21", "2026-12-22")]),
]  # fmt: skip


@pytest.mark.parametrize(("now", "text", "days"), LISTS)
def test_a_list_of_days_is_one_time_with_each_day(
    parser: Parser, now: datetime, text: str, days: list[tuple[str, str]]
) -> None:
    times = _times(parser, text + "有活动吗", now)
    assert len(times) == 1, times
    value = times[0]["value"]
    assert (value["from"], value["to"], value["grain"]) == (D(days[0][0]), D(days[-1][1]), "range")
    assert value["spans"] == [[D(a), D(b)] for a, b in days]
    assert (times[0]["start"], times[0]["end"]) == (0, len(text))


def test_a_part_of_the_day_in_a_list_narrows_its_own_day(parser: Parser) -> None:
    times = _times(parser, "12月5号,6号下午", SAT)
    assert len(times) == 1, times
    assert times[0]["value"]["spans"] == [
        [D("2026-12-05"), D("2026-12-06")],
        [D("2026-12-06", 12), D("2026-12-06", 18)],
    ]


@pytest.mark.parametrize(
    "text",
    # separate days; places; a range; a day restated by its number (tomorrow is the 29th)
    ["10号去,11号不行", "3号楼,5号楼", "12月3号到5号", "明天 29号", "12月5号,5号"],
)
def test_not_a_list(parser: Parser, text: str) -> None:
    times = _times(parser, text, SAT)
    assert all("spans" not in e["value"] for e in times), times
    assert all(e["value"]["to"] <= D("2026-12-12") for e in times), times


@pytest.mark.parametrize("text", ["第一天去要带啥", "考了九十分以后", "后三个月", "第二十三条"])
def test_not_these_times(parser: Parser, text: str) -> None:
    """第一天 is the first day of something, not today; a score is not a duration; 后三个月 needs a year."""
    assert _times(parser, text, SAT) == []
