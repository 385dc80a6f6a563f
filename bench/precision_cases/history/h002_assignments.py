"""Assignments linking persons to rotations.

Revision ID: h002
Revises: h001
"""

import sqlalchemy as sa
from alembic import op

revision = "h002"
down_revision = "h001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("rotation_name", sa.String(120), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_assignments_person_id_persons"),
        sa.PrimaryKeyConstraint("id", name="pk_assignments"),
    )
    op.create_index("ix_assignments_person_id", "assignments", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_assignments_person_id", table_name="assignments")
    op.drop_table("assignments")
