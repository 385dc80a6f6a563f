"""A new role value added inside the migration's transaction.

Revision ID: p036
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p036"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TYPE person_role ADD VALUE 'chief'")


def downgrade() -> None:
    pass
