"""Preferences stored as json.

Revision ID: p007
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p007"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preferences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("preferences")
