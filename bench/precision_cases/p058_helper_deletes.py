"""Purge inactive persons through a helper that deletes rows (must stay unread and escalate).

Revision ID: p058
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p058"
down_revision = 'h003'
branch_labels = None
depends_on = None


def _purge(bind, table):
    bind.execute(sa.text(f"DELETE FROM {table} WHERE pgy_level IS NULL"))


def upgrade() -> None:
    _purge(op.get_bind(), "persons")


def downgrade() -> None:
    pass
