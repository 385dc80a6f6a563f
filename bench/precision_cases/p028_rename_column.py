"""name -> full_name.

Revision ID: p028
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p028"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.alter_column("persons", "name", new_column_name="full_name")


def downgrade() -> None:
    op.alter_column("persons", "full_name", new_column_name="name")
