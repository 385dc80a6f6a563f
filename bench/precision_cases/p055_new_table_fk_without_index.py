"""Duty logs referencing persons, without an index on the key.

Revision ID: p055
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p055"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duty_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_duty_logs"),
    )


def downgrade() -> None:
    op.drop_table("duty_logs")
