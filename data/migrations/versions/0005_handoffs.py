"""hand-offs: every request to speak to a person, its route and whether someone has called back

Revision ID: 0005_handoffs
Revises: 0003
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_handoffs'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('coordinator_id', sa.Integer(), nullable=True),
    sa.Column('route', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'contacted', name='handoff_status', native_enum=False, length=20),
              nullable=False),
    sa.Column('callback_enc', sa.Text(), nullable=True),
    sa.Column('callback_masked', sa.String(length=16), nullable=True),
    sa.Column('callback_note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('contacted_at', sa.DateTime(), nullable=True),
    sa.Column('contacted_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_handoffs_activity_id_activities'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contacted_by'], ['coordinators.id'], name=op.f('fk_handoffs_contacted_by_coordinators'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['coordinator_id'], ['coordinators.id'],
                            name=op.f('fk_handoffs_coordinator_id_coordinators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_handoffs_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_handoffs_volunteer_id_volunteers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoffs'))
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_status_team', ['status', 'team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoffs_volunteer_id'), ['volunteer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_volunteer_id'))
        batch_op.drop_index('ix_handoffs_status_team')
    op.drop_table('handoffs')
