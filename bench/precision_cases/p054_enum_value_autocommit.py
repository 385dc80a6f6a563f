"""A new enum value added the safe way; enum values cannot be removed.

Revision ID: p054
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p054"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE person_role ADD VALUE IF NOT EXISTS 'chief'")


def downgrade() -> None:
    pass
