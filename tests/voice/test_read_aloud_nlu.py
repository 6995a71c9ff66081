"""The read-aloud intents as a family: phrasings that are not in the training data, traditional characters,
and the neighbours they must not take (读报 is an activity; 字太小 is 长辈版; 再说一遍 is the text again)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.dialogs.conftest import real_parser

NOW = datetime(2026, 12, 1, 10)

CASES = [
    ("麻烦念给我听一下", "read_aloud"),
    ("你给我读读看", "read_aloud"),
    ("我眼睛花了 读一下吧", "read_aloud"),
    ("念给俺听听", "read_aloud"),
    ("唸給我聽", "read_aloud"),
    ("以后都给我念", "read_aloud_on"),
    ("以后你都读给我听", "read_aloud_on"),
    ("往后每条都读出来", "read_aloud_on"),
    ("以後都唸給我聽", "read_aloud_on"),
    ("别再给我念了", "read_aloud_off"),
    ("不用给我读了", "read_aloud_off"),
    ("以后不用念了", "read_aloud_off"),
    ("不用唸了", "read_aloud_off"),
    ("有没有给老人念念报纸的活", "search_activities"),
    ("我想报读报那个", "sign_up"),
    ("字太小俺看不清", "elder_mode"),
    ("再说一遍", "repeat"),
]


@pytest.fixture(scope="module")
def parser() -> Any:
    p = real_parser()
    if p is None:
        pytest.skip("nlu.Parser not available")
    return p


@pytest.mark.parametrize("text, intent", CASES)
def test_read_aloud_family(parser: Any, text: str, intent: str) -> None:
    assert parser.parse(text, NOW)["intent"]["name"] == intent
