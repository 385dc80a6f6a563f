"""Add persons.nick only where it is missing: a nested read-only helper over the inspector (corpus: mlflow).

Revision ID: p056
Revises: h003
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "p056"
down_revision = 'h003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())

    def _columns_by_table(tables):
        found = defaultdict(set)
        for table in tables:
            found[table] |= {column["name"] for column in inspector.get_columns(table)}
        return found

    if "nick" not in _columns_by_table(["persons"])["persons"]:
        op.add_column("persons", sa.Column("nick", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("persons", "nick")
