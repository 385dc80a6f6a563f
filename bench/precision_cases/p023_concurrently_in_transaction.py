"""CONCURRENTLY requested without an autocommit block.

Revision ID: p023
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p023"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_index("ix_assignments_starts_on", "assignments", ["starts_on"], postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index("ix_assignments_starts_on", table_name="assignments")
