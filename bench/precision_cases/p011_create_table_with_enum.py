"""Leave requests with a status enum created with the table.

Revision ID: p011
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p011"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leave_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.Enum("pending", "approved", "denied", name="leave_status"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leave_requests")
    sa.Enum(name="leave_status").drop(op.get_bind(), checkfirst=True)
