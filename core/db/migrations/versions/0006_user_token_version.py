"""users.token_version: sessions end when a password, role or active flag changes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 16:40:00

Every bearer token and the app's re-login cookie carry the version they were issued under; a token of an
older version is refused. Existing users start at 0, as do the tokens issued before this revision (which
carry no version and are refused: everyone signs in once more).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
