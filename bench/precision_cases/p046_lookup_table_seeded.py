"""A lookup table of leave types, seeded by the migration.

Revision ID: p046
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p046"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    leave_types = op.create_table(
        "leave_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_leave_types"),
    )
    op.bulk_insert(leave_types, [{"id": 1, "code": "vacation"}, {"id": 2, "code": "sick"}])


def downgrade() -> None:
    op.drop_table("leave_types")
