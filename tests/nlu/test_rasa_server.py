"""Integration tests against a real Rasa server trained on data/nlu/.

CI (``.ci/run``) trains the small CI model (``nlu/rasa/config-ci.yml``), serves it on a free loopback port and
sets ``YINLING_TEST_RASA_URL``. Locally: ``make rasa-ci`` then ``make rasa-serve-ci`` (or ``make rasa`` and
``make rasa-serve`` for the full model), and run these tests with ``YINLING_TEST_RASA_URL`` set.
Skipped when no server answers, unless the server is required: ``YINLING_REQUIRE_SERVICES=1`` together with
``YINLING_TEST_RASA_URL`` (as in CI), where a missing server or model fails every test of this module.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlu.rasa_client import RasaHTTPParser
from tests.conftest import REQUIRE
from tests.nlu.conftest import SAT

GIVEN = os.environ.get("YINLING_TEST_RASA_URL")
URL = GIVEN or "http://127.0.0.1:5005"
REQUIRED = REQUIRE and bool(GIVEN)
RASA_DIR = Path(__file__).resolve().parents[2] / "nlu" / "rasa"


def _problem() -> str | None:
    """Why the server at URL cannot be tested, or None when it answers with a model loaded."""
    try:
        with urllib.request.urlopen(URL.rstrip("/") + "/status", timeout=2) as response:  # noqa: S310 (test URL)
            status = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        return f"no Rasa server answers at {URL} ({exc})"
    if not isinstance(status, dict) or not status.get("model_file"):
        return f"the Rasa server at {URL} has no model loaded ({status!r})"
    return None


@pytest.fixture(scope="module")
def rasa() -> RasaHTTPParser:
    problem = _problem()
    if problem:
        if REQUIRED:
            pytest.fail(f"a Rasa server is required (YINLING_REQUIRE_SERVICES=1, YINLING_TEST_RASA_URL set) but {problem}")
        pytest.skip(problem)
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


def _without_epochs(config: dict[str, Any]) -> dict[str, Any]:
    pipeline = [{k: v for k, v in step.items() if k != "epochs"} for step in config["pipeline"]]
    return {**{k: v for k, v in config.items() if k != "assistant_id"}, "pipeline": pipeline}


def test_ci_config_is_the_real_pipeline_with_fewer_epochs() -> None:
    """CI tests the pipeline users run: config-ci.yml may differ from config.yml only in DIET's epochs."""
    real = yaml.safe_load((RASA_DIR / "config.yml").read_text(encoding="utf-8"))
    ci = yaml.safe_load((RASA_DIR / "config-ci.yml").read_text(encoding="utf-8"))
    assert _without_epochs(ci) == _without_epochs(real)
    (diet,) = [step for step in ci["pipeline"] if step["name"] == "DIETClassifier"]
    (real_diet,) = [step for step in real["pipeline"] if step["name"] == "DIETClassifier"]
    assert diet["epochs"] < real_diet["epochs"]
    assert isinstance(diet["random_seed"], int)  # the same model on every run
