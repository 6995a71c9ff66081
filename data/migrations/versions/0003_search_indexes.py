"""search at region scale: composite indexes for the listing queries, indexed coordinates, and (on
PostgreSQL) a GIN index of the character pairs of each activity's title and description

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:50:00

Chinese words are mostly two characters (书法, 剪纸, 义诊). A pg_trgm index cannot find them: LIKE
'%书法%' yields no trigram, so the index would be read whole. Every two-character piece of the text
is indexed instead; a search looks up all pieces of the words asked for, then LIKE checks the few
rows left. SQLite (the embedded, small default) keeps plain LIKE.
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# IMMUTABLE: the same text always gives the same pieces, so PostgreSQL may index the result.
TEXT_GRAMS_FN = """
CREATE OR REPLACE FUNCTION yl_text_grams(title text, description text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 500 AS $$
    SELECT coalesce(array_agg(DISTINCT substr(s, i, 2)), '{}')
    FROM (SELECT coalesce(title, '') || E'\\n' || coalesce(description, '') AS s) AS t,
         generate_series(1, length(s) - 1) AS i
$$
"""


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_status_starts_at', ['status', 'starts_at', 'id'], unique=False)
        batch_op.create_index('ix_activities_status_category_starts_at', ['status', 'category', 'starts_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_activities_status_place_starts_at', ['status', 'place_id', 'starts_at', 'id'],
                              unique=False)
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.create_index('ix_places_lat_lon', ['lat', 'lon'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(TEXT_GRAMS_FN)
        op.execute('CREATE INDEX ix_activities_text_grams ON activities USING gin (yl_text_grams(title, description))')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_activities_text_grams')
        op.execute('DROP FUNCTION IF EXISTS yl_text_grams(text, text)')
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.drop_index('ix_places_lat_lon')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_status_place_starts_at')
        batch_op.drop_index('ix_activities_status_category_starts_at')
        batch_op.drop_index('ix_activities_status_starts_at')
