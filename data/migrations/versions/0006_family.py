"""family helpers: parent–helper links with consent and hashed single-use codes; sign-ups made by a helper

Revision ID: 0006_family
Revises: 0005_handoffs
Create Date: 2026-12-01 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_family'
down_revision = '0005_handoffs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('family_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=False),
    sa.Column('helper_id', sa.Integer(), nullable=True),
    sa.Column('relation', sa.String(length=16), nullable=True),
    sa.Column('helper_name', sa.String(length=64), nullable=True),
    sa.Column('elder_word', sa.String(length=16), nullable=True),
    sa.Column('state', sa.Enum('pending', 'active', 'unlinked', name='family_link_state', native_enum=False,
                               length=20), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('consent_at', sa.DateTime(), nullable=True),
    sa.Column('consent_channel', sa.String(length=16), nullable=True),
    sa.Column('ring_on_handoff', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('ended_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['ended_by'], ['volunteers.id'], name=op.f('fk_family_links_ended_by_volunteers'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['helper_id'], ['volunteers.id'], name=op.f('fk_family_links_helper_id_volunteers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['volunteers.id'], name=op.f('fk_family_links_parent_id_volunteers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_links')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_family_links_code_hash'))
    )
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_family_links_helper_id'), ['helper_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_family_links_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_family_links_state_parent', ['state', 'parent_id'], unique=False)
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('made_by_helper_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_signups_made_by_helper_id_volunteers'), 'volunteers',
                                    ['made_by_helper_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_signups_made_by_helper_id_volunteers'), type_='foreignkey')
        batch_op.drop_column('made_by_helper_id')
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.drop_index('ix_family_links_state_parent')
        batch_op.drop_index(batch_op.f('ix_family_links_parent_id'))
        batch_op.drop_index(batch_op.f('ix_family_links_helper_id'))
    op.drop_table('family_links')
