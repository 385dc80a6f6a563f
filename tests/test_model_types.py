"""The migration's type expression read as SQLAlchemy writes it, without running anything of the migration."""

from __future__ import annotations

import pytest

from alembic_mcp.tools.review.model_types import type_text


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("sa.String(10)", "VARCHAR(10)"),
        ("sa.String(length=10)", "VARCHAR(10)"),
        ("sqlalchemy.Integer()", "INTEGER"),
        ("Text", "TEXT"),
        ("sa.Numeric(10, 2)", "NUMERIC(10, 2)"),
        ("postgresql.JSONB()", "JSONB"),
        ("sa.dialects.postgresql.UUID()", "UUID"),
    ],
)
def test_literal_types_are_written_as_sqlalchemy_does(source, text):
    assert type_text(source) == text


@pytest.mark.parametrize(
    "source",
    [
        None,
        "",
        "sa.String(LENGTH)",  # a name: its value is not known without running the file
        "sa.String(*sizes)",
        "sa.String(**options)",
        "MyType(10)",  # not one of SQLAlchemy's types
        "sa.String(__import__('os').system('touch /tmp/amcp-pwned'))",
        "sa.types._Binary()",
        "sa.String(10).with_variant(sa.Text(), 'mysql')",
        "sa.Column('x', sa.Integer())",
        "not python (",
    ],
)
def test_anything_else_is_not_known(source, tmp_path):
    assert type_text(source) is None


def test_the_targets_dialect_writes_the_type():
    """On PostgreSQL an enum is its own type, not the VARCHAR the default dialect writes."""
    assert type_text("sa.Enum('a', 'b', name='role')", "postgresql") == "role"
    assert type_text("sa.Enum('a', 'b', name='role')") == "VARCHAR(1)"
    assert type_text("sa.String(10)", "mysql") == "VARCHAR(10)"
    assert type_text("sa.String(10)", "oracle") == "VARCHAR(10)"  # an unknown dialect: the default
