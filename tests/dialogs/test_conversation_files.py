"""The conversation tests (tests/conversations/*.yml) on SQLite and PostgreSQL, each in a database of its own
seeded at the file's fixed `now`; the held-out file must meet the issue's targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from data.crypto import PhoneVault
from dialogs.evaluate import Report, build_database, evaluate, load_file, parse_now
from tests.conftest import new_database_url

from .conftest import real_parser

HERE = Path(__file__).resolve().parent.parent / "conversations"
TUNE = load_file(HERE / "tune.yml")
HELD_OUT = load_file(HERE / "heldout.yml")
FAMILY = load_file(HERE / "family.yml")  # two people each: a parent and a family helper (亲情助手)
FAMILY_HELD_OUT = load_file(HERE / "family_heldout.yml")  # written after the fixes, never tuned on


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def conversation_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    vault: PhoneVault) -> Iterator[Engine]:
    """An empty database of each kind with the demo seed loaded at the files' `now`."""
    assert TUNE["now"] == HELD_OUT["now"] == FAMILY["now"] == FAMILY_HELD_OUT["now"], "the files run against one seed"
    tmp = tmp_path_factory.mktemp("conv")
    url = new_database_url(request.param, tmp, request)
    eng = build_database(url, parse_now(TUNE["now"]), vault)
    yield eng
    eng.dispose()


def _run(doc: dict[str, Any], engine: Engine, vault: PhoneVault) -> Report:
    parser = real_parser()
    if parser is None:
        pytest.skip("nlu.Parser not available")
    return evaluate(doc, engine=engine, parse=parser.parse, vault=vault)


def _wrong(report: Report) -> str:
    return "\n".join(f"{r.name}: {'; '.join(r.problems)}" for r in report.results if not r.ok)


def test_tuning_conversations_all_end_right(conversation_db: Engine, vault: PhoneVault) -> None:
    report = _run(TUNE, conversation_db, vault)
    assert report.total >= 100
    assert report.right == report.total, _wrong(report)
    assert report.missed_per_100 <= 2.0
    assert report.median_to_signup is not None and report.median_to_signup <= 4


def test_held_out_conversations_meet_the_targets(conversation_db: Engine, vault: PhoneVault) -> None:
    """≥98% end right, ≤2 messages not understood per 100, median ≤4 messages from the first question to
    the sign-up. Only the numbers are reported here: the held-out conversations are never tuned on."""
    report = _run(HELD_OUT, conversation_db, vault)
    assert report.total >= 50
    assert report.right_pct >= 98.0, report.summary()
    assert report.missed_per_100 <= 2.0, report.summary()
    assert report.median_to_signup is not None and report.median_to_signup <= 4, report.summary()


def test_family_conversations_end_right(conversation_db: Engine, vault: PhoneVault) -> None:
    """Parent asks → code → the child sends it → the parent agrees → the child signs the parent up → the
    parent is told and can undo; unlinking and a refusal; both people checked in the database."""
    report = _run(FAMILY, conversation_db, vault)
    assert report.total >= 6
    assert report.right == report.total, _wrong(report)
    assert report.missed_per_100 == 0.0, report.summary()


def test_held_out_family_conversations_do_not_fall(conversation_db: Engine, vault: PhoneVault) -> None:
    """Never tuned on: only the numbers count, and they may only rise (measured when the file was written:
    5 of 10 ending right, 3.6 not understood per 100; 7 at the end of that round; the issue's targets are 98% and 2)."""
    report = _run(FAMILY_HELD_OUT, conversation_db, vault)
    assert report.total >= 10
    assert report.right >= 7, report.summary()
    assert report.missed_per_100 <= 3.6, report.summary()
