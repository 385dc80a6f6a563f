"""squawk renaming-table / strong_migrations rename_table.

Revision ID: p041
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p041"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.rename_table("rotations", "rotation_types")


def downgrade() -> None:
    op.rename_table("rotation_types", "rotations")
