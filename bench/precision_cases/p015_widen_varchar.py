"""Longer rotation names.

Revision ID: p015
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p015"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.alter_column("rotations", "name", type_=sa.String(200), existing_type=sa.String(120), existing_nullable=False)


def downgrade() -> None:
    op.alter_column("rotations", "name", type_=sa.String(120), existing_type=sa.String(200), existing_nullable=False)
