"""deals: calls and activities by deal index; how often a deal's close date moved later

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:00:00

Without them every "latest touches of this deal" read scanned the calls and activities tables (70 ms a deal on
the large demo). ``deals.close_date_pushes``: how many times the CRM's history shows the expected close date
moved later (HubSpot's ``propertiesWithHistory.closedate``); ``deal_slipping`` fires at two.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_deal_id", "calls", ["deal_id"])
    op.create_index("ix_activities_deal_id", "activities", ["deal_id"])
    with op.batch_alter_table("deals") as batch_op:
        batch_op.add_column(sa.Column("close_date_pushes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deals") as batch_op:
        batch_op.drop_column("close_date_pushes")
    op.drop_index("ix_activities_deal_id", table_name="activities")
    op.drop_index("ix_calls_deal_id", table_name="calls")
