"""Backfill with an f-string of a constant of the file: the SQL is known, not built from input.

Revision ID: p060
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p060"
down_revision = "h003"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    default_role = "resident"
    op.execute(
        f"UPDATE persons SET role = '{default_role}' WHERE id IN (SELECT id FROM persons WHERE role IS NULL LIMIT {BATCH})"
    )


def downgrade() -> None:
    pass
