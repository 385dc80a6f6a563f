"""More digits for rotation rates.

Revision ID: p017
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p017"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.alter_column("rotations", "rate", type_=sa.Numeric(12, 2), existing_type=sa.Numeric(10, 2))


def downgrade() -> None:
    op.alter_column("rotations", "rate", type_=sa.Numeric(10, 2), existing_type=sa.Numeric(12, 2))
