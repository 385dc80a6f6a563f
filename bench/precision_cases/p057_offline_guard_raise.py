"""Backfill persons.nick from name; refuses offline mode (corpus: indico's online-only revisions).

Revision ID: p057
Revises: h003
"""

import sqlalchemy as sa
from alembic import context, op

revision = "p057"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.is_offline_mode():
        raise Exception("This upgrade is only possible in online mode")
    op.add_column("persons", sa.Column("nick", sa.String(40), nullable=True))


def downgrade() -> None:
    if context.is_offline_mode():
        raise Exception("This downgrade is only possible in online mode")
    op.drop_column("persons", "nick")
