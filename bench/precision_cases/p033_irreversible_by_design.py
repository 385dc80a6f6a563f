"""Merge duplicate persons; cannot be undone.

Revision ID: p033
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p033"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM persons p USING persons q WHERE p.email = q.email AND p.id > q.id")


def downgrade() -> None:
    raise NotImplementedError("cannot downgrade past this revision: merged persons cannot be split again")
