"""estuary feeds

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 18:07:07.393665
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('estuary_doc_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed', sa.String(length=64), nullable=False),
    sa.Column('collection', sa.String(length=255), nullable=False),
    sa.Column('doc_key', sa.String(length=191), nullable=False),
    sa.Column('published_us', sa.BigInteger(), nullable=False),
    sa.Column('op', sa.String(length=1), nullable=False),
    sa.Column('updated_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estuary_doc_state')),
    sa.UniqueConstraint('feed', 'collection', 'doc_key', name=op.f('uq_estuary_doc_state_feed_collection_doc_key'))
    )
    op.create_table('estuary_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('bindings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estuary_feeds')),
    sa.UniqueConstraint('name', name=op.f('uq_estuary_feeds_name'))
    )
    


def downgrade() -> None:
    
    op.drop_table('estuary_feeds')
    op.drop_table('estuary_doc_state')
    
