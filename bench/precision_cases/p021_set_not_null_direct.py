"""Make pgy_level required directly.

Revision ID: p021
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p021"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)
