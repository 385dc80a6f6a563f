"""A new audit table and a plain index on it (the table is empty).

Revision ID: p047
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p047"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor", table_name="audit_events")
    op.drop_table("audit_events")
