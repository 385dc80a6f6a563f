"""Batch mode (render_as_batch) on a PostgreSQL target: a column and its index.

Revision ID: p045
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p045"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("persons") as batch_op:
        batch_op.add_column(sa.Column("pager", sa.String(20), nullable=True))
        batch_op.create_index("ix_persons_pager", ["pager"])


def downgrade() -> None:
    with op.batch_alter_table("persons") as batch_op:
        batch_op.drop_index("ix_persons_pager")
        batch_op.drop_column("pager")
