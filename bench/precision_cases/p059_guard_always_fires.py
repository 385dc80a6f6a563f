"""Drop the nick column again; the downgrade's "guard" fires on every real run (must escalate).

Revision ID: p059
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p059"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("nick", sa.String(40), nullable=True))


def downgrade() -> None:
    if op.get_bind() is not None:
        raise NotImplementedError("no way back")
    op.drop_column("persons", "nick")
