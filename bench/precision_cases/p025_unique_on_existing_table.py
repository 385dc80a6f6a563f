"""Person names must be unique.

Revision ID: p025
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p025"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_unique_constraint("uq_persons_name", "persons", ["name"])


def downgrade() -> None:
    op.drop_constraint("uq_persons_name", "persons", type_="unique")
