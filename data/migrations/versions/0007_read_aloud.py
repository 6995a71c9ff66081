"""read aloud: volunteers.read_aloud, replies also sent as WeChat voice messages (以后都念给我听)

Revision ID: 0007_read_aloud
Revises: 0005_handoffs
Create Date: 2026-12-01 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_read_aloud'
down_revision = '0006_family'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('volunteers', sa.Column('read_aloud', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('volunteers') as batch:
        batch.drop_column('read_aloud')
