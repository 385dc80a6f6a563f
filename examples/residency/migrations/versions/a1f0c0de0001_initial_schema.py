"""initial schema: persons, rotations, assignments

Revision ID: a1f0c0de0001
Revises:
Create Date: 2026-11-25 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a1f0c0de0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("pgy_level", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("email", name=op.f("uq_persons_email")),
    )
    op.create_table(
        "rotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("max_hours_per_week", sa.Integer(), server_default="80", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rotations")),
        sa.UniqueConstraint("name", name=op.f("uq_rotations_name")),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("rotation_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("on_call", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_assignments_person_id_persons")),
        sa.ForeignKeyConstraint(["rotation_id"], ["rotations.id"],
                                name=op.f("fk_assignments_rotation_id_rotations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index(op.f("ix_assignments_person_id"), "assignments", ["person_id"])
    op.create_index(op.f("ix_assignments_rotation_id"), "assignments", ["rotation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_assignments_rotation_id"), table_name="assignments")
    op.drop_index(op.f("ix_assignments_person_id"), table_name="assignments")
    op.drop_table("assignments")
    op.drop_table("rotations")
    op.drop_table("persons")
