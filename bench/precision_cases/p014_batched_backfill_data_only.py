"""Backfill missing roles in batches (data only).

Revision ID: p014
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p014"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE persons SET role = 'resident' WHERE id IN (SELECT id FROM persons WHERE role IS NULL LIMIT 1000)"
    )


def downgrade() -> None:
    pass
