"""Default role for new rows.

Revision ID: p049
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p049"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("persons", "role", existing_type=sa.String(20), server_default="resident")


def downgrade() -> None:
    op.alter_column("persons", "role", existing_type=sa.String(20), server_default=None)
