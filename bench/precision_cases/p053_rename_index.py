"""Rename an index to the naming convention.

Revision ID: p053
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p053"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER INDEX ix_persons_role RENAME TO ix_persons_role_name")


def downgrade() -> None:
    op.execute("ALTER INDEX ix_persons_role_name RENAME TO ix_persons_role")
