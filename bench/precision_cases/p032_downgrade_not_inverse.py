"""An index the downgrade forgets.

Revision ID: p032
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p032"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("persons", sa.Column("phone", sa.String(30), nullable=True))
    with op.get_context().autocommit_block():
        op.create_index("ix_persons_phone", "persons", ["phone"], postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    op.drop_column("persons", "phone")
