"""Tags with table-level constraints left unnamed (autogenerate without naming_convention).

Revision ID: p004
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p004"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("label"),
    )
    op.create_index(op.f("ix_tags_person_id"), "tags", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tags_person_id"), table_name="tags")
    op.drop_table("tags")
