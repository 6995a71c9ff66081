"""Family relations (nlu.relations) as entities with offsets, and the family intents — phrasings not in the
training data (data/nlu/family.yml)."""

from __future__ import annotations

import pytest

from nlu import Parser
from nlu.relations import find
from tests.nlu.conftest import SAT


@pytest.mark.parametrize(("text", "value", "role", "span"), [
    ("给我妈报名明天送棉衣的", "母亲", "elder", (1, 3)),
    ("我家老爷子周六有啥活", "父亲", "elder", (2, 5)),
    ("替俺娘报个名", "母亲", "elder", (1, 3)),
    ("我母親想參加", "母亲", "elder", (1, 3)),  # traditional characters are normalized first
    ("给我丈母娘找个活", "岳母", "elder", (2, 5)),
    ("叫我闺女帮我弄", "女儿", "younger", (2, 4)),
    ("让儿媳妇帮我看着", "儿媳", "younger", (1, 4)),
    ("我爹都报了哪些活", "父亲", "elder", (0, 2)),  # 都 asking about him: he is not coming along
    ("俺娘都有啥活动", "母亲", "elder", (0, 2)),
    ("让我闺女也帮我", "女儿", "younger", (2, 4)),  # 也帮: a second helper, not someone coming along
])
def test_relation_entity_with_offsets(parser: Parser, text: str, value: str, role: str,
                                      span: tuple[int, int]) -> None:
    rel = [e for e in parser.parse(text, SAT)["entities"] if e["entity"] == "relation"]
    assert len(rel) == 1, rel
    assert (rel[0]["value"], rel[0]["role"], rel[0]["start"], rel[0]["end"]) == (value, role, *span)


@pytest.mark.parametrize("text", ["我带老伴一起去", "我闺女也要来", "能带我孙女去", "明天有啥活", "妈祖庙有活动吗",
                                  "我妈也要来", "我带我妈一起去", "跟我爸一块报名", "陪老太太聊天", "帮老爷子看看周六有啥"])
def test_people_who_come_along_are_no_relation(parser: Parser, text: str) -> None:
    assert not [e for e in parser.parse(text, SAT)["entities"] if e["entity"] == "relation"]


def test_find_leaves_taken_characters_alone() -> None:
    taken = bytearray(6)
    taken[1:3] = b"\x01\x01"
    assert find("给我妈报名吧", taken) == []
    assert [(r.value, r.start, r.end) for r in find("给我妈报名吧")] == [("母亲", 1, 3)]
    assert find("帮老爷子报名", strict=True) == [] and len(find("帮我家老爷子报名", strict=True)) == 1


@pytest.mark.parametrize(("text", "intent"), [
    ("我想让闺女帮我弄这个", "family_link"),
    ("加一个家人", "family_link"),
    ("绑定亲情账号", "family_link"),
    ("解绑家人", "family_unlink"),
    ("不让我女儿帮我报名了", "family_unlink"),
    ("帮我妈报个名", "sign_up"),
    ("给我爸找找下礼拜的活动", "search_activities"),
    ("帮我爹退掉吧", "cancel_signup"),
    ("替我母亲退掉", "cancel_signup"),
    ("老妈报了哪些活", "my_signups"),
    ("看看我爸报了啥", "my_signups"),
])
def test_family_intents(parser: Parser, text: str, intent: str) -> None:
    result = parser.parse(text, SAT)
    assert result["intent"]["name"] == intent, result["intent_ranking"][:3]


def test_the_gender_a_relation_word_says() -> None:
    from nlu.relations import gender

    assert [gender(w) for w in ("母亲", "岳父", "孙女", "家人", "孩子")] == ["女", "男", "女", None, None]
