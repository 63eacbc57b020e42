"""incremental indexing: records found by ingested_at, documents by their record, one lease per backend

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 16:30:00

- an index on ``ingested_at`` of every source-record table: search indexing reads what changed since its
  watermark instead of every record;
- ``ix_documents_record`` (record_table, record_id): a record's document, and the documents whose record
  is gone, without scanning every document;
- ``index_sync_state.lease_owner``/``lease_expires_at``: the vector sync's lease moves from a ``meta`` row to
  the row it guards (``core.leases``, the same lease as a connector sync's).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RECORD_TABLES = (
    "accounts",
    "contacts",
    "deals",
    "activities",
    "calls",
    "slack_messages",
    "invoices",
    "payments",
    "rent_payment_volumes",
    "employees",
    "reviews",
    "goals",
    "prospects",
    "job_changes",
)


def upgrade() -> None:
    for table in RECORD_TABLES:
        op.create_index(f"ix_{table}_ingested_at", table, ["ingested_at"])
    op.create_index("ix_documents_record", "documents", ["record_table", "record_id"])
    with op.batch_alter_table("index_sync_state") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", core.db.types.UTCDateTime(timezone=True), nullable=True))
    op.execute("DELETE FROM meta WHERE key LIKE 'index_sync_lease:%'")  # the old lease rows


def downgrade() -> None:
    with op.batch_alter_table("index_sync_state") as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
    op.drop_index("ix_documents_record", table_name="documents")
    for table in RECORD_TABLES:
        op.drop_index(f"ix_{table}_ingested_at", table_name=table)
