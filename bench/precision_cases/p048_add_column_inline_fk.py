"""A mentor per person: a new nullable column with an inline ForeignKey.

Revision ID: p048
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p048"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("mentor_id", sa.Integer(), sa.ForeignKey("persons.id"), nullable=True))


def downgrade() -> None:
    op.drop_column("persons", "mentor_id")
