"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 19:45:58.544615
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('places',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('level', sa.Enum('prefecture', 'county', 'township', 'village', name='place_level', native_enum=False, length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('landmark', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['places.id'], name=op.f('fk_places_parent_id_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_places')),
    sa.UniqueConstraint('parent_id', 'name', name='uq_places_parent_name')
    )
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_places_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_places_path'), ['path'], unique=False)

    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.Enum('community', 'youth', 'organ', 'women', 'other', name='team_kind', native_enum=False, length=20), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('wecom_webhook', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_teams_place_id_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('volunteers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('gender', sa.String(length=8), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('home_place_id', sa.Integer(), nullable=True),
    sa.Column('phone_enc', sa.Text(), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_masked', sa.String(length=16), nullable=True),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('availability', sa.Integer(), nullable=False),
    sa.Column('max_load', sa.Integer(), nullable=False),
    sa.Column('recommend_opt_out', sa.Boolean(), nullable=False),
    sa.Column('notices_opt_out', sa.Boolean(), nullable=False),
    sa.Column('elder_mode', sa.Boolean(), nullable=False),
    sa.Column('last_lat', sa.Double(), nullable=True),
    sa.Column('last_lon', sa.Double(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['home_place_id'], ['places.id'], name=op.f('fk_volunteers_home_place_id_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers')),
    sa.UniqueConstraint('phone_hash', name=op.f('uq_volunteers_phone_hash'))
    )
    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('landmark', sa.String(length=128), nullable=True),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('physical_load', sa.Integer(), nullable=False),
    sa.Column('requirements', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('contact_name', sa.String(length=64), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('status', sa.Enum('draft', 'published', 'cancelled', 'finished', name='activity_status', native_enum=False, length=20), nullable=False),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('auto_confirm', sa.Boolean(), nullable=False),
    sa.Column('external_key', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_activities_place_id_places')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_activities_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
    sa.UniqueConstraint('external_key', name=op.f('uq_activities_external_key'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_place_id'), ['place_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_team_id'), ['team_id'], unique=False)

    op.create_table('channel_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('address_enc', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_inbound_at', sa.DateTime(), nullable=True),
    sa.Column('opted_out_at', sa.DateTime(), nullable=True),
    sa.Column('opted_out_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_channel_identities_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_identities')),
    sa.UniqueConstraint('channel', 'external_id', name='uq_identity_channel_external')
    )
    with op.batch_alter_table('channel_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_identities_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_consents_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('coordinators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('contact_phone', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('area_place_id', sa.Integer(), nullable=True),
    sa.Column('is_operator', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_place_id'], ['places.id'], name=op.f('fk_coordinators_area_place_id_places')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_coordinators_volunteer_id_volunteers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coordinators')),
    sa.UniqueConstraint('username', name=op.f('uq_coordinators_username'))
    )
    op.create_table('message_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('intent', sa.String(length=32), nullable=True),
    sa.Column('request_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_message_log_volunteer_id_volunteers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_log'))
    )
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_log_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('team_members',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_members_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_team_members_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'volunteer_id', name=op.f('pk_team_members'))
    )
    op.create_table('service_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('activity_name', sa.String(length=128), nullable=False),
    sa.Column('service_date', sa.DateTime(), nullable=False),
    sa.Column('place_text', sa.String(length=255), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('organiser', sa.String(length=128), nullable=False),
    sa.Column('person_in_charge', sa.String(length=64), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_service_records_activity_id_activities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_service_records_volunteer_id_volunteers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_records'))
    )
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_records_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show', name='signup_status', native_enum=False, length=20), nullable=False),
    sa.Column('party_size', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_signups_activity_id_activities')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['coordinators.id'], name=op.f('fk_signups_reviewed_by_coordinators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_signups_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signups'))
    )
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signups_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signups_volunteer_id'), ['volunteer_id'], unique=False)
        batch_op.create_index('uq_signups_live', ['activity_id', 'volunteer_id'], unique=True, sqlite_where=sa.text("status IN ('pending', 'confirmed', 'waitlisted')"), postgresql_where=sa.text("status IN ('pending', 'confirmed', 'waitlisted')"))

    op.create_table('team_coordinators',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('coordinator_id', sa.Integer(), nullable=False),
    sa.Column('is_leader', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['coordinator_id'], ['coordinators.id'], name=op.f('fk_team_coordinators_coordinator_id_coordinators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_coordinators_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'coordinator_id', name=op.f('pk_team_coordinators'))
    )


def downgrade() -> None:
    op.drop_table('team_coordinators')
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_index('uq_signups_live', sqlite_where=sa.text("status IN ('pending', 'confirmed', 'waitlisted')"), postgresql_where=sa.text("status IN ('pending', 'confirmed', 'waitlisted')"))
        batch_op.drop_index(batch_op.f('ix_signups_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_signups_activity_id'))

    op.drop_table('signups')
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_records_volunteer_id'))

    op.drop_table('service_records')
    op.drop_table('team_members')
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_log_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_message_log_created_at'))

    op.drop_table('message_log')
    op.drop_table('coordinators')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_volunteer_id'))

    op.drop_table('consents')
    with op.batch_alter_table('channel_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_identities_volunteer_id'))

    op.drop_table('channel_identities')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_team_id'))
        batch_op.drop_index(batch_op.f('ix_activities_starts_at'))
        batch_op.drop_index(batch_op.f('ix_activities_place_id'))
        batch_op.drop_index(batch_op.f('ix_activities_category'))

    op.drop_table('activities')
    op.drop_table('volunteers')
    op.drop_table('teams')
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_places_path'))
        batch_op.drop_index(batch_op.f('ix_places_name'))

    op.drop_table('places')
