"""Conversations about reading aloud (tests/conversations/read_aloud.yml) through the real NLU and the dialogs,
judged by the database (volunteers.read_aloud) and by which replies are handed to the channel to speak;
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from data.crypto import PhoneVault
from dialogs.evaluate import build_database, evaluate, load_file, parse_now
from tests.conftest import new_database_url
from tests.dialogs.conftest import real_parser

DOC = load_file(Path(__file__).resolve().parent.parent / "conversations" / "read_aloud.yml")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def conversation_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    vault: PhoneVault) -> Iterator[Engine]:
    url = new_database_url(request.param, tmp_path_factory.mktemp("read-aloud-conv"), request)
    eng = build_database(url, parse_now(DOC["now"]), vault)
    yield eng
    eng.dispose()


def test_read_aloud_conversations_end_right(conversation_db: Engine, vault: PhoneVault) -> None:
    parser = real_parser()
    if parser is None:
        pytest.skip("nlu.Parser not available")
    report = evaluate(DOC, engine=conversation_db, parse=parser.parse, vault=vault)
    wrong = "\n".join(f"{r.name}: {'; '.join(r.problems)}" for r in report.results if not r.ok)
    assert report.total >= 10
    assert report.right == report.total, wrong
    assert report.missed_per_100 == 0, report.summary()
