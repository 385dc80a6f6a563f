"""squawk require-concurrent-index-deletion.

Revision ID: p043
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p043"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index("ix_persons_role", table_name="persons")


def downgrade() -> None:
    op.create_index("ix_persons_role", "persons", ["role"])
