"""a deal's calls and activities by index: the deal detectors and the account page read them per deal

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:00:00

Without them every "latest touches of this deal" read scanned the calls and activities tables (70 ms a deal on
the large demo).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_deal_id", "calls", ["deal_id"])
    op.create_index("ix_activities_deal_id", "activities", ["deal_id"])


def downgrade() -> None:
    op.drop_index("ix_activities_deal_id", table_name="activities")
    op.drop_index("ix_calls_deal_id", table_name="calls")
