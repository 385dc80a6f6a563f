"""Add a column; the downgrade was never written.

Revision ID: p031
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p031"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("persons", sa.Column("phone", sa.String(30), nullable=True))


def downgrade() -> None:
    pass
