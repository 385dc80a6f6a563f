"""Add persons.phone; the downgrade drops an index nobody created.

Revision ID: p038
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p038"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("persons", sa.Column("phone", sa.String(30), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_persons_phone", table_name="persons")
    op.drop_column("persons", "phone")
