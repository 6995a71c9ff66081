"""RasaHTTPParser against a loopback fake speaking Rasa's ``POST /model/parse`` contract."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nlu.rasa_client import RasaHTTPParser
from tests.nlu.conftest import SAT

# What Rasa 3.6 answers for "明儿个后晌阳光社区有啥活动 我们两个人" (DIET + EntitySynonymMapper).
RASA_ANSWER: dict[str, Any] = {
    "text": "明儿个后晌阳光社区有啥活动 我们两个人",
    "intent": {"name": "search_activities", "confidence": 0.97},
    "entities": [
        # DIET tags the day and the part of the day separately: the client joins them
        {"entity": "time", "start": 0, "end": 3, "confidence_entity": 0.99, "value": "明儿个",
         "extractor": "DIETClassifier"},
        {"entity": "time", "start": 3, "end": 5, "confidence_entity": 0.98, "value": "后晌",
         "extractor": "DIETClassifier"},
        {"entity": "place", "start": 5, "end": 9, "confidence_entity": 0.98, "value": "阳光社区",
         "extractor": "DIETClassifier"},
        {"entity": "number", "start": 16, "end": 19, "confidence_entity": 0.9, "role": "party_size",
         "confidence_role": 0.9, "value": "两个人", "extractor": "DIETClassifier"},
    ],
    "intent_ranking": [
        {"name": "search_activities", "confidence": 0.97},
        {"name": "sign_up", "confidence": 0.02},
    ],
    "text_tokens": [[0, 3], [3, 5], [5, 9]],
}  # fmt: skip


def test_parse_converts_rasa_answer(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/model/parse", method="POST", json={"text": RASA_ANSWER["text"]}).respond_with_json(
        RASA_ANSWER
    )
    client = RasaHTTPParser(httpserver.url_for("/"), timeout=2)
    result = client.parse(RASA_ANSWER["text"], SAT)
    assert result["intent"] == {"name": "search_activities", "confidence": 0.97}
    assert result["intent_ranking"][1] == {"name": "sign_up", "confidence": 0.02}
    by_kind = {e["entity"]: e for e in result["entities"]}
    assert by_kind["time"]["value"] == {"from": "2026-11-29T12:00:00", "to": "2026-11-29T18:00:00", "grain": "part_of_day"}
    assert (by_kind["time"]["start"], by_kind["time"]["end"], by_kind["time"]["confidence"]) == (0, 5, 0.98)
    assert len(result["entities"]) == 3
    assert by_kind["place"]["value"] == "阳光社区"
    assert by_kind["number"]["value"] == 2
    assert by_kind["number"]["role"] == "party_size"
    assert set(result) == {"text", "intent", "entities", "intent_ranking"}


def test_phone_and_unresolvable_entities(httpserver: HTTPServer) -> None:
    text = "号码一三九一二三四五六七八 明天吧"
    answer = {
        "text": text,
        "intent": {"name": "bind_phone", "confidence": 0.9},
        "entities": [
            {"entity": "phone", "start": 2, "end": 13, "value": "一三九一二三四五六七八", "confidence_entity": 0.9},
            {"entity": "time", "start": 14, "end": 15, "value": "明", "confidence_entity": 0.4},
        ],
        "intent_ranking": [{"name": "bind_phone", "confidence": 0.9}],
    }
    httpserver.expect_request("/model/parse", method="POST").respond_with_json(answer)
    result = RasaHTTPParser(httpserver.url_for("/")).parse(text, SAT)
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [("phone", "13912345678")]


@pytest.mark.parametrize(
    "response",
    [
        Response("internal error", status=500),
        Response("not json", status=200, content_type="application/json"),
        Response(json.dumps([1, 2, 3]), status=200, content_type="application/json"),
        Response(json.dumps({"entities": [{"entity": "time"}]}), status=200, content_type="application/json"),
    ],
)
def test_errors_fall_back(httpserver: HTTPServer, response: Response) -> None:
    httpserver.expect_request("/model/parse", method="POST").respond_with_response(response)
    result = RasaHTTPParser(httpserver.url_for("/"), timeout=2).parse("明天有啥活动", SAT)
    assert result["intent"]["name"] == "nlu_fallback"
    assert result["text"] == "明天有啥活动"


def test_timeout_falls_back(httpserver: HTTPServer) -> None:
    """The server answers only after the client has given up: a client that waited would get Rasa's intent."""
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(10)
        return Response(json.dumps(RASA_ANSWER), content_type="application/json")

    httpserver.expect_request("/model/parse", method="POST").respond_with_handler(slow)
    try:
        result = RasaHTTPParser(httpserver.url_for("/"), timeout=0.1).parse("明天有啥活动", SAT)
    finally:
        release.set()
    assert result["intent"]["name"] == "nlu_fallback"
    # Let the late answer finish before the server is cleared for the next test (it would land in its log).
    deadline = time.monotonic() + 10
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.01)


def test_unreachable_server_falls_back() -> None:
    result = RasaHTTPParser("http://127.0.0.1:9", timeout=0.5).parse("你好", SAT)
    assert result["intent"]["name"] == "nlu_fallback"


def test_empty_text_does_not_call_the_server(httpserver: HTTPServer) -> None:
    result = RasaHTTPParser(httpserver.url_for("/")).parse("  ", SAT)
    assert result["intent"]["name"] == "nlu_fallback"
    assert httpserver.log == []


def test_family_party_size_from_rasa(httpserver: HTTPServer) -> None:
    """DIET tags 带老伴和孙女 (trained so): the client reads it the way the built-in does, 3 people."""
    text = "我能带老伴和孙女一起去吗"
    answer = {
        "text": text,
        "intent": {"name": "sign_up", "confidence": 0.9},
        "entities": [{"entity": "number", "start": 2, "end": 8, "confidence_entity": 0.9, "role": "party_size",
                      "value": "带老伴和孙女", "extractor": "DIETClassifier"}],
        "intent_ranking": [{"name": "sign_up", "confidence": 0.9}],
    }
    httpserver.expect_request("/model/parse", method="POST", json={"text": text}).respond_with_json(answer)
    result = RasaHTTPParser(httpserver.url_for("/"), timeout=2).parse(text, SAT)
    assert [(e["value"], e["role"]) for e in result["entities"]] == [(3, "party_size")]
