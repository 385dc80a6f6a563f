"""The skill's foreign-key example: rotation_name -> rotation_id FK (validated while added).

Revision ID: p024
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p024"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))
    op.execute("UPDATE assignments a SET rotation_id = r.id FROM rotations r WHERE a.rotation_name = r.name")
    op.alter_column("assignments", "rotation_id", existing_type=sa.Integer(), nullable=False)
    op.create_foreign_key(
        "fk_assignment_rotation", "assignments", "rotations", ["rotation_id"], ["id"], ondelete="RESTRICT"
    )
    op.drop_column("assignments", "rotation_name")


def downgrade() -> None:
    op.add_column("assignments", sa.Column("rotation_name", sa.String(120), nullable=True))
    op.drop_constraint("fk_assignment_rotation", "assignments", type_="foreignkey")
    op.drop_column("assignments", "rotation_id")
