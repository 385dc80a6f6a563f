"""assignments.id to bigint (rewrites the table).

Revision ID: p029
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p029"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.alter_column("assignments", "id", type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    op.alter_column("assignments", "id", type_=sa.Integer(), existing_type=sa.BigInteger())
