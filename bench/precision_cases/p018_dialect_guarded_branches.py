"""A collation index that only MySQL needs; PostgreSQL gets a concurrent index.

Revision ID: p018
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p018"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "mysql":
        op.execute(build_mysql_collation_sql())
    else:
        op.execute("SET LOCAL lock_timeout = '5s'")
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_rotations_notes", "rotations", ["notes"], postgresql_concurrently=True, if_not_exists=True
            )


def downgrade() -> None:
    if op.get_context().dialect.name != "mysql":
        with op.get_context().autocommit_block():
            op.drop_index("ix_rotations_notes", table_name="rotations", postgresql_concurrently=True, if_exists=True)
