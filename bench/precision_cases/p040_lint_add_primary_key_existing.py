"""squawk adding-serial-primary-key-field / Atlas PG104: a new primary key on an existing table.

Revision ID: p040
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p040"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_constraint("pk_assignments", "assignments", type_="primary")
    op.create_primary_key("pk_assignments", "assignments", ["person_id", "starts_on"])


def downgrade() -> None:
    op.drop_constraint("pk_assignments", "assignments", type_="primary")
    op.create_primary_key("pk_assignments", "assignments", ["id"])
