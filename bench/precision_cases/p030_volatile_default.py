"""A token per person, defaulted with gen_random_uuid().

Revision ID: p030
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p030"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column(
        "persons", sa.Column("token", sa.String(36), nullable=False, server_default=sa.text("gen_random_uuid()::text"))
    )


def downgrade() -> None:
    op.drop_column("persons", "token")
