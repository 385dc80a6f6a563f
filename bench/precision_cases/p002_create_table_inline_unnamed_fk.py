"""Notes per person; the FK is declared inline without a name.

Revision ID: p002
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p002"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id", sa.Integer(), sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notes")
