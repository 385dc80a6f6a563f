"""Credentials with every constraint named and the FK indexed.

Revision ID: p003
Revises: h003
"""

import sqlalchemy as sa
from alembic import op

revision = "p003"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_credentials_person_id_persons"),
        sa.PrimaryKeyConstraint("id", name="pk_credentials"),
        sa.UniqueConstraint("person_id", "kind", name="uq_credentials_person_id"),
    )


def downgrade() -> None:
    op.drop_table("credentials")
