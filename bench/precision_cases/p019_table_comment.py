"""Document the persons table.

Revision ID: p019
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p019"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table_comment("persons", "Residents and faculty", existing_comment=None)


def downgrade() -> None:
    op.drop_table_comment("persons", existing_comment="Residents and faculty")
