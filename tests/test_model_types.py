"""The migration's type expression read as SQLAlchemy writes it, without running anything of the migration:
only the SQLAlchemy class its name was imported as, called with literal arguments."""

from __future__ import annotations

import pytest

from alembic_mcp.tools.review.model_types import type_text


@pytest.mark.parametrize(
    ("source", "callee", "text"),
    [
        ("sa.String(10)", "sqlalchemy.String", "VARCHAR(10)"),
        ("sa.String(length=10)", "sqlalchemy.String", "VARCHAR(10)"),
        ("sqlalchemy.Integer()", "sqlalchemy.Integer", "INTEGER"),
        ("Text", "sqlalchemy.Text", "TEXT"),
        ("sa.Numeric(10, 2)", "sqlalchemy.Numeric", "NUMERIC(10, 2)"),
        ("postgresql.JSONB()", "sqlalchemy.dialects.postgresql.JSONB", "JSONB"),
        ("sa.dialects.postgresql.UUID()", "sqlalchemy.dialects.postgresql.UUID", "UUID"),
        ("String(10)", "sqlalchemy.Boolean", "BOOLEAN"),  # from sqlalchemy import Boolean as String
    ],
)
def test_literal_types_are_written_as_sqlalchemy_does(source, callee, text):
    assert type_text(source, callee) == text


@pytest.mark.parametrize(
    ("source", "callee"),
    [
        (None, "sqlalchemy.String"),
        ("", "sqlalchemy.String"),
        ("sa.String(10)", None),  # the name is not imported from SQLAlchemy (or bound twice)
        ("sa.String(LENGTH)", "sqlalchemy.String"),  # a name: its value is not known without running the file
        ("sa.String(*sizes)", "sqlalchemy.String"),
        ("sa.String(**options)", "sqlalchemy.String"),
        ("MyType(10)", "residency.types.MyType"),
        ("sa.String(__import__('os').system('touch /tmp/amcp-pwned'))", "sqlalchemy.String"),
        ("sa.types._Binary()", "sqlalchemy.types._Binary"),
        ("sa.String(10)", "sqlalchemy.dialects.postgresql.String"),  # no such class there
        ("sa.Column('x', sa.Integer())", "sqlalchemy.Column"),  # not a type
        ("not python (", "sqlalchemy.String"),
    ],
)
def test_anything_else_is_not_known(source, callee):
    assert type_text(source, callee) is None


def test_the_targets_dialect_writes_the_type():
    """On PostgreSQL an enum is its own type, not the VARCHAR the default dialect writes."""
    enum = "sa.Enum('a', 'b', name='role')"
    assert type_text(enum, "sqlalchemy.Enum", "postgresql") == "role"
    assert type_text(enum, "sqlalchemy.Enum") == "VARCHAR(1)"
    assert type_text("sa.String(10)", "sqlalchemy.String", "mysql") == "VARCHAR(10)"
    assert type_text("sa.String(10)", "sqlalchemy.String", "oracle") == "VARCHAR(10)"  # unknown: the default


def test_model_tables_by_the_names_migrations_use():
    """A default-schema table by its name; a table of another schema by its bare name only when no other
    table has it (hostile review: archive.persons passed for persons)."""
    import sqlalchemy as sa

    from alembic_mcp.tools.worker.ops.render_sql import _tables_by_name

    metadata = sa.MetaData()
    sa.Table("persons", metadata, sa.Column("id", sa.Integer))
    sa.Table("persons", metadata, sa.Column("id", sa.Boolean), schema="archive")
    sa.Table("events", metadata, sa.Column("id", sa.Integer), schema="events")
    sa.Table("logs", metadata, sa.Column("id", sa.Integer), schema="a")
    sa.Table("logs", metadata, sa.Column("id", sa.Integer), schema="b")
    found = {(t.schema, t.name) for t in _tables_by_name([metadata])}
    assert found == {(None, "persons"), ("events", "events")}
