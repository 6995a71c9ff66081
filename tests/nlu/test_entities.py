"""Places (gazetteer, homophones, short names, unknown, relative), categories, numbers and phones."""

from __future__ import annotations

from typing import Any

import pytest

from nlu import Parser
from tests.nlu.conftest import SAT


def ents(parser: Parser, text: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in parser.parse(text, SAT)["entities"] if e["entity"] == kind]


def one(parser: Parser, text: str, kind: str) -> dict[str, Any]:
    found = ents(parser, text, kind)
    assert len(found) == 1, (text, found)
    return found[0]


PLACES = [
    ("阳光社区有啥活动", "阳光社区", "阳光社区", None),
    ("杨光社区有啥活动", "杨光社区", "阳光社区", None),  # homophone from speech recognition
    ("赛罕有活动吗", "赛罕", "赛罕区", None),  # short name
    ("巨海城那边有活吗", "巨海城", "巨海城社区", None),
    ("锡林郭勒北路街道有活动吗", "锡林郭勒北路街道", "锡林郭勒北路街道", None),
    ("西乌旗有啥活动", "西乌旗", "西乌珠穆沁旗", None),  # synonym
    ("呼市有啥活动", "呼市", "呼和浩特市", None),
    ("宝日图嘎查有活动吗", "宝日图嘎查", "宝日图嘎查", None),
    ("幸福小区有活动吗", "幸福小区", "幸福小区", "unknown"),
    ("去和平街道看看", "和平街道", "和平街道", "unknown"),
    ("附近有啥活动", "附近", "nearby", "relative"),
    ("这附近有啥活动", "这附近", "nearby", "relative"),
    ("离我近的有吗", "离我近的", "nearby", "relative"),
    ("我们社区有活动吗", "我们社区", "home", "relative"),
    ("我家附近有活动吗", "我家附近", "home", "relative"),
    ("家门口有活动吗", "家门口", "home", "relative"),
    ("本社区的活动", "本社区", "home", "relative"),
]


@pytest.mark.parametrize(("text", "surface", "value", "role"), PLACES)
def test_place(parser: Parser, text: str, surface: str, value: str, role: str | None) -> None:
    e = one(parser, text, "place")
    assert text[e["start"] : e["end"]] == surface
    assert e["value"] == value
    assert e.get("role") == role
    assert e["extractor"] == "gazetteer"


def test_extra_places_from_the_database() -> None:
    p = Parser.load(places=["向阳花社区"])
    e = [x for x in p.parse("向阳花社区有活动吗", SAT)["entities"] if x["entity"] == "place"]
    assert [(x["value"], x.get("role")) for x in e] == [("向阳花社区", None)]


@pytest.mark.parametrize("text", ["去超市买菜", "我回老家乡下", "城市里"])
def test_not_a_place(parser: Parser, text: str) -> None:
    assert ents(parser, text, "place") == []


CATEGORIES = [
    ("想找个陪老人聊天的活", "陪老人聊天", "助老"),
    ("有没有捡垃圾的", "捡垃圾", "环境保护"),
    ("植树活动", "植树", "环境保护"),
    ("有量血压的吗", "量血压", "医疗健康"),
    ("义诊在哪", "义诊", "医疗健康"),
    ("那达慕要志愿者吗", "那达慕", "赛会服务"),
    ("运动会要人吗", "运动会", "赛会服务"),
    ("扶老的活动", "扶老", "助老"),
    ("服老的活动", "服老", "助老"),  # homophone
    ("扫雪的活有吗", "扫雪", "环境保护"),  # sweeping, snow, rubbish: 环境保护 (nlu/kinds.py)
    ("有普法的吗", "普法", "法律咨询"),
    ("辅导作业的", "辅导作业", "关爱儿童"),
]


@pytest.mark.parametrize(("text", "surface", "value"), CATEGORIES)
def test_category(parser: Parser, text: str, surface: str, value: str) -> None:
    e = one(parser, text, "category")
    assert (text[e["start"] : e["end"]], e["value"]) == (surface, value)


@pytest.mark.parametrize("text", ["给我唱个歌", "不参加了", "找找看"])
def test_no_homophone_false_positive(parser: Parser, text: str) -> None:
    assert ents(parser, text, "category") == []


NUMBERS = [
    ("我和老伴两个人", "两个人", 2, "party_size"),
    ("我们三个人都去", "三个人", 3, "party_size"),
    ("我们老两口报名", "老两口", 2, "party_size"),
    ("报第二个", "第二个", 2, None),
    ("选3", "3", 3, None),
    ("２", "２", 2, None),
    ("第十个", "第十个", 10, None),
]


@pytest.mark.parametrize(("text", "surface", "value", "role"), NUMBERS)
def test_number(parser: Parser, text: str, surface: str, value: int, role: str | None) -> None:
    e = one(parser, text, "number")
    assert (text[e["start"] : e["end"]], e["value"], e.get("role")) == (surface, value, role)


PHONES = [
    ("我的手机号是13912345678", "13912345678"),
    ("139 1234 5678", "139 1234 5678"),
    ("电话139-1234-5678", "139-1234-5678"),
    ("一三九一二三四五六七八", "一三九一二三四五六七八"),
    ("幺三九四七幺二三四五六", "幺三九四七幺二三四五六"),
    ("手机１３９１２３４５６７８", "１３９１２３４５６７８"),
]


@pytest.mark.parametrize(("text", "surface"), PHONES)
def test_phone(parser: Parser, text: str, surface: str) -> None:
    e = one(parser, text, "phone")
    assert text[e["start"] : e["end"]] == surface
    assert len(e["value"]) == 11 and e["value"].isdigit()
    assert ents(parser, text, "number") == []


@pytest.mark.parametrize("text", ["12345678901", "1391234567", "139123456789"])
def test_not_a_phone(parser: Parser, text: str) -> None:
    assert ents(parser, text, "phone") == []


def test_offsets_point_into_original_text(parser: Parser) -> None:
    text = "嗯，請問 禮拜六 後晌 楊光社區 有沒有 植樹 的活動？我們２個人"
    result = parser.parse(text, SAT)
    spans = {e["entity"]: text[e["start"] : e["end"]] for e in result["entities"]}
    assert spans == {"time": "禮拜六 後晌", "place": "楊光社區", "category": "植樹", "number": "２個人"}
    values = {e["entity"]: e["value"] for e in result["entities"]}
    assert values["place"] == "阳光社区"
    assert values["category"] == "环境保护"
    assert values["number"] == 2
    assert values["time"] == {"from": "2026-11-28T12:00:00", "to": "2026-11-28T18:00:00", "grain": "part_of_day"}
    assert result["intent"]["name"] == "search_activities"
