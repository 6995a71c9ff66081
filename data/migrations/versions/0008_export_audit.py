"""export audit: who exported which service records, when, in which format, and whether with full phones

Revision ID: 0008_export_audit
Revises: 0005_handoffs
Create Date: 2026-12-01 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_export_audit'
down_revision = '0007_read_aloud'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('export_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coordinator_id', sa.Integer(), nullable=True),
    sa.Column('coordinator_name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('filter_text', sa.String(length=255), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('full_phones', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['coordinator_id'], ['coordinators.id'],
                            name=op.f('fk_export_audit_coordinator_id_coordinators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_audit'))
    )
    with op.batch_alter_table('export_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_audit_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('export_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_audit_created_at'))
    op.drop_table('export_audit')
