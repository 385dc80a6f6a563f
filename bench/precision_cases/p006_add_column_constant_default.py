"""An active flag, NOT NULL with a constant default (no rewrite on PostgreSQL 11+).

Revision ID: p006
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p006"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("persons", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("persons", "active")
