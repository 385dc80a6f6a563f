"""autogenerate without naming_convention: create_foreign_key(None, ...).

Revision ID: p039
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p039"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("assignments", sa.Column("mentor_id", sa.Integer(), nullable=True))
    op.create_foreign_key(None, "assignments", "persons", ["mentor_id"], ["id"])


def downgrade() -> None:
    op.drop_constraint(None, "assignments", type_="foreignkey")
    op.drop_column("assignments", "mentor_id")
