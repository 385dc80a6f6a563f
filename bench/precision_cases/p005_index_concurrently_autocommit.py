"""Index on persons.name built concurrently.

Revision ID: p005
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p005"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_persons_name", table_name="persons", postgresql_concurrently=True, if_exists=True)
