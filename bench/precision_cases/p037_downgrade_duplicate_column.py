"""Drop legacy assignments; the downgrade re-creates it with a column twice.

Revision ID: p037
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p037"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_table("assignments")


def downgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("rotation_name", sa.String(120), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assignments"),
    )
