"""Residents' training year.

Revision ID: h003
Revises: h002
"""

import sqlalchemy as sa
from alembic import op

revision = "h003"
down_revision = "h002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))
    op.create_index("ix_persons_role", "persons", ["role"])


def downgrade() -> None:
    op.drop_index("ix_persons_role", table_name="persons")
    op.drop_column("persons", "pgy_level")
