"""The skill's three-phase NOT NULL in one revision.

Revision ID: p009
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p009"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("persons", sa.Column("email_verified", sa.Boolean(), nullable=True))
    op.execute(
        "UPDATE persons SET email_verified = false WHERE id IN (SELECT id FROM persons WHERE email_verified IS NULL LIMIT 5000)"
    )
    op.alter_column("persons", "email_verified", existing_type=sa.Boolean(), nullable=False)


def downgrade() -> None:
    op.drop_column("persons", "email_verified")
