"""autogenerate noise: rotations.notes TEXT -> String (no length).

Revision ID: p016
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p016"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.alter_column("rotations", "notes", type_=sa.String(), existing_type=sa.TEXT(), existing_nullable=True)


def downgrade() -> None:
    op.alter_column("rotations", "notes", type_=sa.TEXT(), existing_type=sa.String(), existing_nullable=True)
