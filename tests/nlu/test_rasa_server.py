"""Integration test against a real Rasa server (``make rasa && make rasa-serve``); skipped when none answers."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from nlu.rasa_client import RasaHTTPParser
from tests.nlu.conftest import SAT

URL = os.environ.get("YINLING_TEST_RASA_URL", "http://127.0.0.1:5005")


def _reachable() -> bool:
    try:
        with urllib.request.urlopen(URL.rstrip("/") + "/status", timeout=1) as response:
            status = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):
        return False
    return bool(status.get("model_file"))


pytestmark = pytest.mark.skipif(not _reachable(), reason=f"no Rasa server with a model at {URL}")


@pytest.fixture(scope="module")
def rasa() -> RasaHTTPParser:
    return RasaHTTPParser(URL, timeout=5)


@pytest.mark.parametrize(
    ("text", "intent"),
    [("你好", "greet"), ("我要报名", "sign_up"), ("再说一遍", "repeat"), ("退订", "unsubscribe"), ("撤销", "undo")],
)
def test_intents(rasa: RasaHTTPParser, text: str, intent: str) -> None:
    assert rasa.parse(text, SAT)["intent"]["name"] == intent


def test_shape_and_entities(rasa: RasaHTTPParser) -> None:
    text = "明天阳光社区有啥活动"
    result = rasa.parse(text, SAT)
    assert set(result) == {"text", "intent", "entities", "intent_ranking"}
    assert result["intent"]["name"] == "search_activities"
    for e in result["entities"]:
        assert 0 <= e["start"] < e["end"] <= len(text)
        if e["entity"] == "time":
            assert e["value"] == {"from": "2026-11-29T00:00:00", "to": "2026-11-30T00:00:00", "grain": "day"}
