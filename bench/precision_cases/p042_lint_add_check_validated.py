"""squawk constraint-missing-not-valid: CHECK added and validated at once.

Revision ID: p042
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p042"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_check_constraint("ck_persons_role", "persons", "role IN ('resident', 'faculty')")


def downgrade() -> None:
    op.drop_constraint("ck_persons_role", "persons", type_="check")
