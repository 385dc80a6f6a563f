"""Add a nullable nickname column.

Revision ID: p001
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p001"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("nickname", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("persons", "nickname")
