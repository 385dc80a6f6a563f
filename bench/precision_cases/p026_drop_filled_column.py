"""Remove the training year (still filled).

Revision ID: p026
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p026"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_column("persons", "pgy_level")


def downgrade() -> None:
    op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))
