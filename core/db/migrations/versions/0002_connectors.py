"""connectors: configured sources and quarantined records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 17:32:24.070979
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connectors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('interval_minutes', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connectors')),
    sa.UniqueConstraint('name', name=op.f('uq_connectors_name'))
    )
    with op.batch_alter_table('connectors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connectors_kind'), ['kind'], unique=False)

    op.create_table('quarantined_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector', sa.String(length=128), nullable=False),
    sa.Column('stream', sa.String(length=128), nullable=False),
    sa.Column('external_id', sa.String(length=191), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['pipeline_runs.id'], name=op.f('fk_quarantined_records_run_id_pipeline_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantined_records'))
    )
    with op.batch_alter_table('quarantined_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantined_records_connector'), ['connector'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantined_records_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantined_records_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('quarantined_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantined_records_run_id'))
        batch_op.drop_index(batch_op.f('ix_quarantined_records_created_at'))
        batch_op.drop_index(batch_op.f('ix_quarantined_records_connector'))

    op.drop_table('quarantined_records')
    with op.batch_alter_table('connectors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connectors_kind'))

    op.drop_table('connectors')
