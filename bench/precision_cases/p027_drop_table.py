"""Retire the rotations table.

Revision ID: p027
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p027"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_table("rotations")


def downgrade() -> None:
    op.create_table(
        "rotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("rate", sa.Numeric(10, 2), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rotations"),
        sa.UniqueConstraint("name", name="uq_rotations_name"),
    )
