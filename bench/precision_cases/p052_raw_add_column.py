"""A column added with raw SQL.

Revision ID: p052
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p052"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE persons ADD COLUMN nick varchar(20)")


def downgrade() -> None:
    op.execute("ALTER TABLE persons DROP COLUMN nick")
