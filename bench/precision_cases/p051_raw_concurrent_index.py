"""Raw CREATE INDEX CONCURRENTLY in an autocommit block.

Revision ID: p051
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p051"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_assignments_starts_on ON assignments (starts_on)")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_assignments_starts_on")
