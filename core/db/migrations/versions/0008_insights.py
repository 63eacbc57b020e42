"""insights: findings with their lifecycle, Slack routes and deliveries, job runs and controls

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 19:14:52.846018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB as JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

import core.db.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the wave-one insights table was never written to: it is replaced, not altered
    with op.batch_alter_table('insights', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insights_account_id'))
        batch_op.drop_index(batch_op.f('ix_insights_created_at'))
        batch_op.drop_index(batch_op.f('ix_insights_kind'))
    op.drop_table('insights')
    op.create_table('insights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('severity_rank', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('subject_table', sa.String(length=64), nullable=False),
    sa.Column('subject_external_id', sa.String(length=191), nullable=False),
    sa.Column('subject_name', sa.String(length=255), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('min_role', sa.String(length=16), nullable=False),
    sa.Column('first_seen', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('resolved_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('snoozed_until', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('snoozed_by', sa.String(length=128), nullable=True),
    sa.Column('updated_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_insights_account_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insights')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_insights_fingerprint'))
    )
    with op.batch_alter_table('insights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insights_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_insights_feed', ['status', 'severity_rank', 'last_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_insights_first_seen'), ['first_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_insights_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_insights_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_insights_type'), ['type'], unique=False)

    op.create_table('job_controls',
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('run_requested_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('changed_by', sa.String(length=128), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job_controls'))
    )
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started', ['job_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_runs_started_at'), ['started_at'], unique=False)

    op.create_table('notify_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=True),
    sa.Column('min_severity', sa.String(length=16), nullable=False),
    sa.Column('digest_minutes', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_routes'))
    )
    op.create_table('insight_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('insight_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=128), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('batch', sa.String(length=64), nullable=True),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['insight_id'], ['insights.id'], name=op.f('fk_insight_deliveries_insight_id_insights'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['route_id'], ['notify_routes.id'], name=op.f('fk_insight_deliveries_route_id_notify_routes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insight_deliveries')),
    sa.UniqueConstraint('insight_id', 'channel', name=op.f('uq_insight_deliveries_insight_id_channel'))
    )
    with op.batch_alter_table('insight_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insight_deliveries_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_deliveries_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_deliveries_insight_id'), ['insight_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_deliveries_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('insight_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insight_deliveries_status'))
        batch_op.drop_index(batch_op.f('ix_insight_deliveries_insight_id'))
        batch_op.drop_index(batch_op.f('ix_insight_deliveries_due_at'))
        batch_op.drop_index(batch_op.f('ix_insight_deliveries_channel'))

    op.drop_table('insight_deliveries')
    op.drop_table('notify_routes')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runs_started_at'))
        batch_op.drop_index('ix_job_runs_job_started')

    op.drop_table('job_runs')
    op.drop_table('job_controls')
    with op.batch_alter_table('insights', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insights_type'))
        batch_op.drop_index(batch_op.f('ix_insights_status'))
        batch_op.drop_index(batch_op.f('ix_insights_owner'))
        batch_op.drop_index(batch_op.f('ix_insights_first_seen'))
        batch_op.drop_index('ix_insights_feed')
        batch_op.drop_index(batch_op.f('ix_insights_account_id'))
    op.drop_table('insights')
    op.create_table('insights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=191), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', core.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', core.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_insights_account_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insights')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_insights_fingerprint'))
    )
    with op.batch_alter_table('insights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insights_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_insights_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_insights_kind'), ['kind'], unique=False)

