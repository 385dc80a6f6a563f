"""Backfill with an f-string.

Revision ID: p034
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p034"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    default_role = "resident"
    op.execute(
        f"UPDATE persons SET role = '{default_role}' WHERE id IN (SELECT id FROM persons WHERE role IS NULL LIMIT 500)"
    )


def downgrade() -> None:
    pass
