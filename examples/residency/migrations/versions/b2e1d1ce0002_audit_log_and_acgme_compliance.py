"""audit log and ACGME compliance

Revision ID: b2e1d1ce0002
Revises: a1f0c0de0001
Create Date: 2026-11-25 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b2e1d1ce0002"
down_revision = "a1f0c0de0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "acgme_compliance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("week_of", sa.Date(), nullable=False),
        sa.Column("duty_hours", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"],
                                name=op.f("fk_acgme_compliance_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acgme_compliance")),
    )
    op.create_index(op.f("ix_acgme_compliance_person_id"), "acgme_compliance", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_acgme_compliance_person_id"), table_name="acgme_compliance")
    op.drop_table("acgme_compliance")
    op.drop_table("audit_log")
