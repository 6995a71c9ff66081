"""Migrations upgrade an empty database on both backends, match the models, and downgrade cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import data.models_family  # noqa: F401 - its tables belong to the same metadata
import data.models_push  # noqa: F401 - its tables belong to the same metadata
from data.db import make_engine
from data.migrate import MIGRATIONS, alembic_config, current_revision, downgrade, upgrade
from data.models import Base

from ..conftest import new_database_url


# SQLite cannot reflect expression indexes; the PostgreSQL-only GIN index (0003) is compared on PostgreSQL.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index "
                            "'ix_activities_text_grams'")
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_upgrade_from_empty_matches_models_and_downgrades(kind: str, tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    engine = make_engine(new_database_url(kind, tmp_path, request))
    assert current_revision(engine) is None
    upgrade(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    tables = set(inspect(engine).get_table_names())
    assert {"volunteers", "activities", "signups", "service_records", "places", "teams",
            "notices", "deliveries"} <= tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    upgrade(engine)  # idempotent
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1
