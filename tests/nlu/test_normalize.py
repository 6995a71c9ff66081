"""Normalization: 繁→简, full width, fillers, punctuation, repeats, with a map back to the original."""

from __future__ import annotations

import pytest

from nlu import Parser
from nlu.normalize import normalize

CASES = [
    ("禮拜六有沒有活動", "礼拜六有没有活动"),
    ("１２月５号", "12月5号"),
    ("ＴＤ", "td"),
    ("嗯 请问 明天有啥活动啊", "明天有啥活动"),
    ("明天，上午，有活动吗？", "明天上午有活动吗"),
    ("好好好好好", "好好"),
    ("谢谢谢谢谢谢", "谢谢"),
    ("139 1111 1111", "139 1111 1111"),
    ("一三九一一一一", "一三九一一一一"),
    ("9:30", "9:30"),
    ("嗯嗯", "嗯嗯"),
    ("哈拉图嘎查", "哈拉图嘎查"),
    ("好的哈", "好的"),
    ("那个那个 我想报名", "我想报名"),
    ("\x00\x07明天\u200b", "明天"),
]


@pytest.mark.parametrize(("text", "want"), CASES)
def test_normalize(parser: Parser, text: str, want: str) -> None:
    norm = normalize(text, parser.table)
    assert norm.text == want
    assert len(norm.index) == len(norm.text)
    for i, ch in enumerate(norm.text):
        assert 0 <= norm.index[i] < len(text)
        if ch.isdigit() and ch.isascii():
            assert text[norm.index[i]] in (ch, chr(ord(ch) + 0xFEE0))


def test_span_maps_back(parser: Parser) -> None:
    text = "請問，禮拜六"
    norm = normalize(text, parser.table)
    assert norm.text == "礼拜六"
    assert norm.span(0, 3) == (3, 6)
