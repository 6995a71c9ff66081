"""Intents of typical messages, including the high-precision rules for digits and opt-out words."""

from __future__ import annotations

import pytest

from nlu import Parser
from tests.nlu.conftest import SAT

CASES = [
    ("你好", "greet"),
    ("再见", "goodbye"),
    ("好的 我知道了", "acknowledge"),  # after a notice: not a yes to any question
    ("收到收到", "acknowledge"),
    ("晓得啦", "acknowledge"),
    ("谢谢你", "thanks"),
    ("这个咋用", "help"),
    ("主菜单", "menu"),
    ("0", "menu"),
    ("０", "menu"),
    ("明儿个有啥活", "search_activities"),
    ("礼拜六后晌阳光社区有活动吗", "search_activities"),
    ("给我推荐一个", "recommend"),
    ("几点集合", "activity_detail"),
    ("我要报名", "sign_up"),
    ("咋报名", "sign_up"),
    ("我去不了了", "cancel_signup"),
    ("我报了啥", "my_signups"),
    ("我的服务时长", "my_hours"),
    ("我搬家了", "update_profile"),
    ("我的手机号是13912345678", "bind_phone"),
    ("订阅", "subscribe"),
    ("T", "unsubscribe"),
    ("TD", "unsubscribe"),
    ("td", "unsubscribe"),
    ("N", "unsubscribe"),
    ("R", "unsubscribe"),
    ("退订", "unsubscribe"),
    ("取消订阅", "unsubscribe"),
    ("好的 退订吧", "unsubscribe"),
    ("别再发了", "unsubscribe"),
    ("找人工", "human_handoff"),
    ("9", "human_handoff"),
    ("再说一遍", "repeat"),
    ("没看清", "repeat"),
    ("好的", "affirm"),
    ("嗯嗯", "affirm"),
    ("不要", "deny"),
    ("1", "choose"),
    ("２", "choose"),
    ("三", "choose"),
    ("第二个", "choose"),
    ("3号", "choose"),
    ("还有吗", "more"),
    ("下一页", "more"),
    ("给我讲个笑话", "out_of_scope"),
    ("撤销", "undo"),
    ("刚才那个不算", "undo"),
    ("弄错了退回去", "undo"),
    ("不要推荐", "no_recommend"),
    ("别给我推荐", "no_recommend"),
    ("关闭推荐", "no_recommend"),
    ("长辈版", "elder_mode"),
    ("字大点 说简单点", "elder_mode"),
    ("嗯 请问 明天有啥活动啊", "search_activities"),
    ("報名", "sign_up"),
]


@pytest.mark.parametrize(("text", "intent"), CASES)
def test_intent(parser: Parser, text: str, intent: str) -> None:
    result = parser.parse(text, SAT)
    assert result["intent"]["name"] == intent, result["intent_ranking"][:3]


def test_result_has_rasa_shape(parser: Parser) -> None:
    result = parser.parse("明天有啥活动", SAT)
    assert set(result) == {"text", "intent", "entities", "intent_ranking"}
    assert result["text"] == "明天有啥活动"
    assert set(result["intent"]) == {"name", "confidence"}
    assert 0.0 < result["intent"]["confidence"] <= 1.0
    assert result["intent_ranking"][0]["name"] == result["intent"]["name"]
    assert len(result["intent_ranking"]) <= 10
    for entity in result["entities"]:
        assert {"entity", "value", "start", "end", "confidence", "extractor"} <= set(entity)


@pytest.mark.parametrize("text", ["", "   ", "\n", "？？？", "……", "😀😀😀", "asdfghjkl", "<script>alert(1)</script>"])
def test_garbage_is_fallback(parser: Parser, text: str) -> None:
    assert parser.parse(text, SAT)["intent"]["name"] == "nlu_fallback"


def test_negated_opt_out_is_not_an_opt_out(parser: Parser) -> None:
    assert parser.parse("我不退订", SAT)["intent"]["name"] != "unsubscribe"


def test_choose_carries_number(parser: Parser) -> None:
    for text, value in [("2", 2), ("第三个", 3), ("选1", 1), ("四", 4), ("3号", 3)]:
        result = parser.parse(text, SAT)
        assert result["intent"]["name"] == "choose"
        numbers = [e["value"] for e in result["entities"] if e["entity"] == "number"]
        assert numbers == [value], text
        assert not [e for e in result["entities"] if e["entity"] == "time"]


def test_exits_carry_no_number(parser: Parser) -> None:
    for text in ("0", "9"):
        assert parser.parse(text, SAT)["entities"] == []


def test_module_level_parse() -> None:
    from nlu import parse

    assert parse("你好", SAT)["intent"]["name"] == "greet"
