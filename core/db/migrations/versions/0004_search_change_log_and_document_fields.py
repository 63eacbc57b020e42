"""search change log and document fields

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 18:26:07.969609
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB as JSONB(astext_type=Text()))
from alembic import op

import core.db.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('chunk_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chunk_id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=1), nullable=False),
    sa.Column('at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chunk_changes'))
    )
    with op.batch_alter_table('chunk_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chunk_changes_chunk_id'), ['chunk_id'], unique=False)

    op.create_table('index_sync_state',
    sa.Column('backend', sa.String(length=32), nullable=False),
    sa.Column('last_change_id', sa.Integer(), nullable=False),
    sa.Column('chunks_indexed', sa.Integer(), nullable=False),
    sa.Column('last_sync_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('error_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('backend', name=op.f('pk_index_sync_state'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('occurred_at', core.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('min_role', sa.String(length=16), nullable=False, server_default='viewer'))
        batch_op.create_index(batch_op.f('ix_documents_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_owner'), ['owner'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_owner'))
        batch_op.drop_index(batch_op.f('ix_documents_occurred_at'))
        batch_op.drop_column('min_role')
        batch_op.drop_column('occurred_at')
        batch_op.drop_column('owner')

    op.drop_table('index_sync_state')
    with op.batch_alter_table('chunk_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chunk_changes_chunk_id'))

    op.drop_table('chunk_changes')

