"""Property tests: parse never raises, keeps its shape and offsets, and answers nlu_fallback to garbage."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu import Parser
from tests.nlu.conftest import SAT

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Symbols, punctuation, emoji, control and format characters: no letters, digits or Chinese.
GARBAGE = st.text(
    alphabet=st.characters(
        whitelist_categories=("Po", "Ps", "Pe", "Pd", "Sm", "Sc", "Sk", "So", "Cc", "Cf", "Zs"),
        blacklist_characters="\ue000\ue001\ue002\ue003\ue004\ue005",
    ),
    max_size=60,
)


def check_shape(text: str, result: dict[str, object]) -> None:
    assert result["text"] == text
    intent = result["intent"]
    assert isinstance(intent, dict) and isinstance(intent["name"], str)
    entities = result["entities"]
    assert isinstance(entities, list)
    for e in entities:
        assert 0 <= e["start"] <= e["end"] <= len(text)


@SETTINGS
@given(text=st.text(max_size=200), hour=st.integers(0, 23))
def test_never_raises(parser: Parser, text: str, hour: int) -> None:
    result = parser.parse(text, datetime(2026, 11, 28, hour, 0))
    check_shape(text, result)


@SETTINGS
@given(text=GARBAGE)
def test_garbage_falls_back(parser: Parser, text: str) -> None:
    result = parser.parse(text, SAT)
    check_shape(text, result)
    assert result["intent"]["name"] == "nlu_fallback"
    assert result["entities"] == []


@SETTINGS
@given(text=st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll")), min_size=6, max_size=40))
def test_latin_words_fall_back(parser: Parser, text: str) -> None:
    assert parser.parse(text, SAT)["intent"]["name"] == "nlu_fallback"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x" * 10_000,
        "明天有啥活动" * 2000,
        "😀" * 50,
        "\x00\x01\x02\x1b[31m\x7f",
        "'; DROP TABLE users; --",
        "SELECT * FROM activities WHERE 1=1",
        "<a href='javascript:alert(1)'>点我</a>",
        "{{7*7}} ${jndi:ldap://x}",
        "\ud800",
        "Ḽơᶉëᶆ ȋṕšᶙṁ",
    ],
)
def test_hostile_inputs(parser: Parser, text: str) -> None:
    result = parser.parse(text, SAT)
    check_shape(text, result)


@pytest.mark.parametrize(
    "text", ["'; DROP TABLE users; --", "SELECT * FROM activities WHERE 1=1", "\x00\x01\x02\x1b[31m\x7f", "x" * 10_000]
)
def test_hostile_inputs_fall_back(parser: Parser, text: str) -> None:
    assert parser.parse(text, SAT)["intent"]["name"] == "nlu_fallback"


def test_non_string_input(parser: Parser) -> None:
    assert parser.parse(None, SAT)["intent"]["name"] == "nlu_fallback"  # type: ignore[arg-type]
