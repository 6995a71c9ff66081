"""``python -m nlu parse`` (JSON, JSON Lines over stdin) and ``evaluate`` (the rasa test nlu report)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlu.cli import main

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def test_parse_one_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "--now", "2026-11-28T10:00:00", "明儿个后晌有啥活"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["intent"]["name"] == "search_activities"
    assert result["entities"][0]["value"]["from"] == "2026-11-29T12:00:00"


def test_parse_json_lines_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("你好\n9\n\nTD\n"))
    assert main(["parse", "--now", "2026-11-28T10:00:00"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["intent"]["name"] for x in lines] == ["greet", "human_handoff", "nlu_fallback", "unsubscribe"]


def test_evaluate_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(HERE / "test_data.yml"), "--now", "2026-11-28T10:00:00"]) == 0
    out = capsys.readouterr().out
    assert "accuracy:" in out
    assert "Most confused intents" in out
    assert "Entity evaluation" in out
    for intent in ("greet", "search_activities", "choose", "undo", "no_recommend", "elder_mode"):
        assert f"  {intent} " in out
    for entity in ("time", "place", "category", "number", "phone"):
        assert f"  {entity} " in out
    accuracy = float(out.split("accuracy:")[1].split()[0])
    assert accuracy >= 0.85


def test_evaluate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(HERE / "test_data.yml"), "--json", "--now", "2026-11-28T10:00:00"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] >= 8 * 26
    assert set(report["intents"]["greet"]) == {"precision", "recall", "f1", "support"}
    assert report["entities"]["phone"]["f1"] == 1.0


def test_held_out_file_is_not_in_training() -> None:
    from nlu import rasa_data

    train = {e.text for e in rasa_data.load([REPO / "data" / "nlu"]).examples}
    test = rasa_data.load([HERE / "test_data.yml"])
    assert not train & {e.text for e in test.examples}
    counts: dict[str, int] = {}
    for e in test.examples:
        counts[e.intent] = counts.get(e.intent, 0) + 1
    assert len(counts) == 26 and min(counts.values()) >= 8


def test_module_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nlu", "parse", "--now", "2026-11-28T10:00:00", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["intent"]["name"] == "menu"
