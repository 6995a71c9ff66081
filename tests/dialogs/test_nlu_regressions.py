"""Reported misunderstandings, end to end through the real NLU: deleting my data, bringing family,
a weekend's mornings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from data.models import Activity, ActivityStatus, Place, Team
from data.timeutil import to_local, to_utc
from dialogs.flows.search import part_word, spans_label

from .conftest import Chat


@pytest.mark.parametrize("text", ["删除我的信息", "把我的信息删掉", "把我的信息删了", "删掉我的资料", "注销",
                                  "不想用了把我资料删掉", "帮我把账号注销了", "我的资料都删了吧"])
def test_deleting_my_data_asks_to_confirm(zhang: Chat, parser: Any, text: str) -> None:
    zhang.parser = parser.parse
    out = zhang.send(text)
    assert zhang.at == "profile.forget" and "删除您的个人资料" in out and "1. 确定删除" in out


@pytest.mark.parametrize("text", ["别删我的资料", "我的信息要改"])
def test_not_deleting(zhang: Chat, parser: Any, text: str) -> None:
    zhang.parser = parser.parse
    zhang.send(text)
    assert zhang.at != "profile.forget"


def _to_confirm(zhang: Chat) -> None:
    zhang.send("明天有啥活")
    line = next(i for i, o in enumerate(zhang.options, 1) if "送棉衣" in o)
    zhang.send(str(line))
    out = zhang.send("1")
    assert zhang.at == "signup.confirm" and "1人参加" in out


@pytest.mark.parametrize(("text", "people"), [
    ("我能带孙子一起去吗", 2), ("带孙子一起去", 2), ("带老伴", 2), ("我们两个人去", 2), ("俺们俩一块去", 2),
    ("带老伴和孙女一起去", 3), ("我老伴也去行不", 2),
])
def test_confirm_step_takes_family(zhang: Chat, parser: Any, text: str, people: int) -> None:
    zhang.parser = parser.parse
    _to_confirm(zhang)
    out = zhang.send(text)
    assert zhang.at == "signup.confirm" and f"按{people}人报名" in out and f"{people}人参加" in out


def test_one_more_person_adds_to_the_party(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    _to_confirm(zhang)
    assert "按2人报名" in zhang.send("带老伴")
    assert "按3人报名" in zhang.send("再加一个人")
    out = zhang.send("1")
    assert "报好了" in out


def test_bringing_family_from_the_details_starts_the_sign_up(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    zhang.send("明天有啥活")
    line = next(i for i, o in enumerate(zhang.options, 1) if "送棉衣" in o)
    zhang.send(str(line))
    assert zhang.at == "search.detail"
    out = zhang.send("我能带孙子一起去吗")
    assert zhang.at == "signup.confirm" and "2人参加" in out


def test_bringing_family_without_an_activity_asks_which(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    out = zhang.send("带孙子一起去")
    assert "您想报哪个活动" in out


# -- 周末上午 ---------------------------------------------------------------------------------------
def _add(zhang: Chat, title: str, start_local: datetime) -> None:
    s = zhang.session
    place = s.scalars(select(Place).where(Place.name == "阳光社区")).one()
    team = s.scalars(select(Team)).first()
    assert team is not None
    s.add(Activity(title=title, category="社区服务", team_id=team.id, place_id=place.id,
                   starts_at=to_utc(start_local), ends_at=to_utc(start_local + timedelta(hours=2)), capacity=5,
                   status=ActivityStatus.PUBLISHED, created_at=zhang.now, updated_at=zhang.now))
    s.flush()


def test_weekend_mornings_list_only_mornings(zhang: Chat, parser: Any) -> None:
    """下下周末上午: Saturday and Sunday mornings, not the afternoons or evenings between them."""
    zhang.parser = parser.parse
    today = to_local(zhang.now).replace(tzinfo=None).date()
    sat = today - timedelta(days=today.weekday()) + timedelta(days=19)
    at = datetime(sat.year, sat.month, sat.day)
    _add(zhang, "测试·周六上午", at + timedelta(hours=9))
    _add(zhang, "测试·周六下午", at + timedelta(hours=15))
    _add(zhang, "测试·周六晚上", at + timedelta(hours=19))
    _add(zhang, "测试·周日上午", at + timedelta(days=1, hours=8, minutes=30))
    _add(zhang, "测试·周日下午", at + timedelta(days=1, hours=14))
    out = zhang.send("下下周末上午有啥活")
    assert zhang.at == "search.list" and "下下周末上午" in out
    seen = list(zhang.options)
    for _ in range(5):
        if "更多" not in out:
            break
        out = zhang.send("更多")
        seen += zhang.options
    titles = " ".join(seen)
    assert "测试·周六上午" in titles and "测试·周日上午" in titles
    assert "测试·周六下午" not in titles and "测试·周六晚上" not in titles and "测试·周日下午" not in titles
    assert titles.index("测试·周六上午") < titles.index("测试·周日上午")


def test_weekend_evenings_with_nothing_offer_another_day(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    out = zhang.send("下下周末晚上有啥活")
    assert "下下周末晚上" in out
    assert zhang.at in ("search.list", "search.alts", "help.menu")


def test_labels() -> None:
    sat = datetime(2026, 11, 28)
    now = datetime(2026, 11, 25, 10)
    morning = [(sat + timedelta(hours=5), sat + timedelta(hours=12)),
               (sat + timedelta(days=1, hours=5), sat + timedelta(days=1, hours=12))]
    assert spans_label(morning, now) == "这周末上午"
    assert spans_label(morning, now - timedelta(days=7)) == "下周末上午"
    assert spans_label(morning, now - timedelta(days=14)) == "下下周末上午"
    assert spans_label(morning, now - timedelta(days=28)) == "11月28日和11月29日上午"
    assert spans_label(morning[1:], now) == "11月29日（星期日）上午"
    assert spans_label(morning, datetime(2026, 11, 29, 9)) == "这周末上午"
    evening = [(sat + timedelta(hours=18), sat + timedelta(days=1))]
    assert part_word(*evening[0]) == "晚上"
    assert part_word(sat + timedelta(hours=15, minutes=30), sat + timedelta(hours=16, minutes=30)) == "下午3点半"
    assert part_word(sat + timedelta(hours=9), sat + timedelta(hours=10)) == "上午9点"



def test_a_spouse_who_cannot_come_is_not_counted(zhang: Chat, parser: Any) -> None:
    """At the confirmation, 老伴住院了去不了 is a no, not a party of two."""
    from dialogs.understand import party_hint

    assert party_hint("老伴住院了去不了") is None and party_hint("老伴也想去") == 2
    zhang.parser = parser.parse
    _to_confirm(zhang)
    out = zhang.send("老伴住院了去不了")
    assert "按2人报名" not in out and zhang.at != "signup.confirm"
