"""Index on assignments.starts_on, built in the transaction.

Revision ID: p022
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p022"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assignments_starts_on", "assignments", ["starts_on"])


def downgrade() -> None:
    op.drop_index("ix_assignments_starts_on", table_name="assignments")
