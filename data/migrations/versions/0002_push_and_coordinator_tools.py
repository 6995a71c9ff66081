"""push, deliveries, review escalation, attendance, star levels

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 19:49:27.459557
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('star_levels',
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('reached_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_star_levels_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volunteer_id', name=op.f('pk_star_levels'))
    )
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('draft', 'queued', 'sending', 'done', 'cancelled', name='notice_status', native_enum=False, length=20), nullable=False),
    sa.Column('queue', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('wecom_status', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_notices_activity_id_activities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['coordinators.id'], name=op.f('fk_notices_created_by_coordinators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_notices_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('key', name=op.f('uq_notices_key'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_team_id'), ['team_id'], unique=False)

    op.create_table('attendance',
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('checked_in_by', sa.Integer(), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('hours', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['checked_in_by'], ['coordinators.id'], name=op.f('fk_attendance_checked_in_by_coordinators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['record_id'], ['service_records.id'], name=op.f('fk_attendance_record_id_service_records'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_attendance_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('signup_id', name=op.f('pk_attendance'))
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('coordinator_id', sa.Integer(), nullable=True),
    sa.Column('batch', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'sending', 'retry', 'sent', 'unreachable', 'failed', 'skipped', 'uncertain', name='delivery_status', native_enum=False, length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('channel', sa.String(length=24), nullable=True),
    sa.Column('reason', sa.String(length=128), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('answer', sa.String(length=8), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['coordinator_id'], ['coordinators.id'], name=op.f('fk_deliveries_coordinator_id_coordinators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_deliveries_notice_id_notices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_deliveries_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('notice_id', 'coordinator_id', name='uq_deliveries_notice_coordinator'),
    sa.UniqueConstraint('notice_id', 'volunteer_id', name='uq_deliveries_notice_volunteer')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_notice_batch', ['notice_id', 'batch'], unique=False)
        batch_op.create_index('ix_deliveries_notice_status', ['notice_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('review_escalations',
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('coordinators_at', sa.DateTime(), nullable=True),
    sa.Column('leader_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_review_escalations_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('signup_id', name=op.f('pk_review_escalations'))
    )


def downgrade() -> None:
    op.drop_table('review_escalations')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_volunteer_id'))
        batch_op.drop_index('ix_deliveries_notice_status')
        batch_op.drop_index('ix_deliveries_notice_batch')

    op.drop_table('deliveries')
    op.drop_table('attendance')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_team_id'))
        batch_op.drop_index(batch_op.f('ix_notices_activity_id'))

    op.drop_table('notices')
    op.drop_table('star_levels')
