"""eugene E9 / squawk: a raw ALTER with a volatile default.

Revision ID: p044
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p044"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE persons ADD COLUMN joined_at timestamptz NOT NULL DEFAULT clock_timestamp()")


def downgrade() -> None:
    op.execute("ALTER TABLE persons DROP COLUMN joined_at")
