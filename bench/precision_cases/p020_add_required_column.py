"""A required badge number (autogenerate's add_column, no default).

Revision ID: p020
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p020"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("badge", sa.String(20), nullable=False))


def downgrade() -> None:
    op.drop_column("persons", "badge")
