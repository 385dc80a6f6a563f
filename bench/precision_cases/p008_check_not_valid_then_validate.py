"""Rates must be positive: CHECK NOT VALID, then VALIDATE.

Revision ID: p008
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p008"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_check_constraint("ck_rotations_rate_positive", "rotations", "rate > 0", postgresql_not_valid=True)
    op.execute("ALTER TABLE rotations VALIDATE CONSTRAINT ck_rotations_rate_positive")


def downgrade() -> None:
    op.drop_constraint("ck_rotations_rate_positive", "rotations", type_="check")
