"""rotation_id FK added NOT VALID, validated, with its index built concurrently.

Revision ID: p012
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p012"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_assignments_rotation_id_rotations",
        "assignments",
        "rotations",
        ["rotation_id"],
        ["id"],
        ondelete="RESTRICT",
        postgresql_not_valid=True,
    )
    op.execute("ALTER TABLE assignments VALIDATE CONSTRAINT fk_assignments_rotation_id_rotations")
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_assignments_rotation_id",
            "assignments",
            ["rotation_id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_assignments_rotation_id", table_name="assignments", postgresql_concurrently=True, if_exists=True
        )
    op.drop_constraint("fk_assignments_rotation_id_rotations", "assignments", type_="foreignkey")
    op.drop_column("assignments", "rotation_id")
