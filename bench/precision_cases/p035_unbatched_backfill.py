"""Backfill every row in one statement.

Revision ID: p035
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p035"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("persons", sa.Column("display_name", sa.String(120), nullable=True))
    op.execute("UPDATE persons SET display_name = name")


def downgrade() -> None:
    # data loss: persons.display_name
    op.drop_column("persons", "display_name")
