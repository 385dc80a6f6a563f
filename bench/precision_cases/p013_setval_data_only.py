"""Resynchronise the persons id sequence after a bulk import.

Revision ID: p013
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p013"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT setval('persons_id_seq', (SELECT coalesce(max(id), 1) FROM persons))")


def downgrade() -> None:
    pass
