"""Inside the worker: put the scratch database into a known state after a failed step, so that a
rehearsal goes on past it.

``empty_tables`` deletes every row (a step re-run without seed rows); ``wipe`` drops everything so the
next env.py run rebuilds the schema from base (non-transactional DDL, a failed re-upgrade, or env.py
running all steps in one transaction). ``value_independent`` names the failures that any existing row
causes, whatever its values: re-running those without rows proves nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection


def _tables(conn: Connection, version_table: str) -> list[str]:
    return [n for n in conn.dialect.get_table_names(conn) if n != version_table]


def empty_tables(conn: Connection, version_table: str) -> None:
    """Delete every row of every table but the version table, and commit."""
    names = _tables(conn, version_table)
    prep = conn.dialect.identifier_preparer
    if names and conn.dialect.name == "postgresql":
        conn.execute(text(f"TRUNCATE {', '.join(prep.quote(n) for n in names)} CASCADE"))
    elif names:
        metadata = MetaData()
        metadata.reflect(conn, only=names, resolve_fks=False)
        if conn.dialect.name in ("mysql", "mariadb"):
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for table in reversed(metadata.sorted_tables):  # children before their parents
            conn.execute(table.delete())
        if conn.dialect.name in ("mysql", "mariadb"):
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    conn.commit()


def wipe(conn: Connection) -> None:
    """Drop every object of the scratch database's schema (the version table too), and commit."""
    dialect = conn.dialect.name
    prep = conn.dialect.identifier_preparer
    if dialect == "postgresql":
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        conn.execute(text(f"DROP SCHEMA {prep.quote(schema)} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {prep.quote(schema)}"))
    elif dialect in ("mysql", "mariadb"):
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for view in conn.dialect.get_view_names(conn):
            conn.execute(text(f"DROP VIEW IF EXISTS {prep.quote(view)}"))
        for table in conn.dialect.get_table_names(conn):
            conn.execute(text(f"DROP TABLE IF EXISTS {prep.quote(table)}"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    else:
        _wipe_sqlite(conn)
    conn.commit()


def _wipe_sqlite(conn: Connection) -> None:
    prep = conn.dialect.identifier_preparer
    rows = conn.execute(
        text("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND type IN ('view', 'table')")
    ).all()
    for kind, name in sorted(rows, key=lambda r: r[0] != "view"):  # views first
        conn.execute(text(f"DROP {kind.upper()} IF EXISTS {prep.quote(name)}"))


def value_independent(failure: dict[str, Any]) -> bool:
    """A failure that any existing row causes, whatever its values: a NOT NULL column added without a
    default. Seed rows only show it; they do not cause it."""
    if failure.get("mode") != "not-null-violation":
        return False
    op = failure.get("operation") or {}
    return op.get("op") == "AddColumnOp" and op.get("nullable") is False and not op.get("server_default")
