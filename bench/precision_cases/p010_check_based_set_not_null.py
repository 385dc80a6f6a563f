"""The skill's CHECK-based SET NOT NULL on an existing column.

Revision ID: p010
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p010"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_check_constraint(
        op.f("ck_persons_pgy_level_not_null"), "persons", "pgy_level IS NOT NULL", postgresql_not_valid=True
    )
    op.execute("ALTER TABLE persons VALIDATE CONSTRAINT ck_persons_pgy_level_not_null")
    op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)
    op.drop_constraint(op.f("ck_persons_pgy_level_not_null"), "persons", type_="check")


def downgrade() -> None:
    op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)
