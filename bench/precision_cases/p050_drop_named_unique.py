"""Rotation names no longer need to be unique.

Revision ID: p050
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p050"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("uq_rotations_name", "rotations", type_="unique")


def downgrade() -> None:
    op.create_unique_constraint("uq_rotations_name", "rotations", ["name"])
