"""jieba with our user dictionary: exact tokens and offsets into the original text."""

from __future__ import annotations

import jieba
import pytest

from nlu import Parser

CASES = [
    (
        "明儿个后晌阳光社区有啥活动",
        [("明儿个", 0, 3), ("后晌", 3, 5), ("阳光社区", 5, 9), ("有啥", 9, 11), ("活动", 11, 13)],
    ),
    (
        "我和老伴两个人报名",
        [("我", 0, 1), ("和", 1, 2), ("老伴", 2, 4), ("两个", 4, 6), ("人", 6, 7), ("报名", 7, 9)],
    ),
    # traditional characters: tokens are slices of the original text; the filler 請問 is skipped
    (
        "請問禮拜六有沒有植樹的活動",
        [("禮拜六", 2, 5), ("有沒有", 5, 8), ("植樹", 8, 10), ("的", 10, 11), ("活動", 11, 13)],
    ),
    (
        "我想报名第２个活动",
        [("我", 0, 1), ("想", 1, 2), ("报名", 2, 4), ("第", 4, 5), ("２", 5, 6), ("个", 6, 7), ("活动", 7, 9)],
    ),
    ("西乌珠穆沁旗宝日图嘎查", [("西乌珠穆沁旗", 0, 6), ("宝日图嘎查", 6, 11)]),
]


@pytest.mark.parametrize(("text", "tokens"), CASES)
def test_tokens_and_offsets(parser: Parser, text: str, tokens: list[tuple[str, int, int]]) -> None:
    got = parser.tokenize(text)
    assert got == tokens
    for word, start, end in got:
        assert text[start:end] == word


def test_global_jieba_is_untouched(parser: Parser) -> None:
    parser.tokenize("明儿个后晌阳光社区有啥活动")
    assert "后晌" not in jieba.dt.user_word_tag_tab
    assert not jieba.dt.FREQ.get("宝日图嘎查")
