"""Backfill with an f-string of a value given on the command line (alembic -x role=...).

Revision ID: p034
Revises: h003
"""

import sqlalchemy as sa
from alembic import context, op

revision = "p034"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    default_role = context.get_x_argument(as_dictionary=True).get("role", "resident")
    op.execute(
        f"UPDATE persons SET role = '{default_role}' WHERE id IN (SELECT id FROM persons WHERE role IS NULL LIMIT 500)"
    )


def downgrade() -> None:
    pass
