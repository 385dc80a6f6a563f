"""Inside the worker: put the scratch database into a known state after a failed step, so that a
rehearsal goes on past it.

``wipe`` drops everything so the next env.py run rebuilds the schema from base (a step re-run
without seed rows, non-transactional DDL, a failed re-upgrade, or env.py running all steps in one
transaction). ``seed_may_cause`` says which failures are worth re-running without seed rows, and
``seed_only`` which of those that then pass are seed limitations rather than the migration's failures.

A rebuild runs env.py again in the same interpreter, where the revision files already imported the
application's models. An env.py that creates tables from its metadata on an empty database (Flask-
AppBuilder's ``create_db`` in superset) then creates the head schema, not the few tables a fresh
deploy gets, and the first revision that adds one of them fails. ``schema_objects`` reads what a
fresh env.py run left before the first step; ``drop_new_objects`` removes what a rebuild's env.py
run made on top of it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection


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


def schema_objects(conn: Connection, version_table: str) -> set[tuple[str, str]]:
    """(kind, name) of the tables, views, sequences and types in the connection's schema."""
    dialect = conn.dialect.name
    rows: list[Any]
    if dialect == "postgresql":
        rows = list(conn.execute(text(_PG_OBJECTS)).all())
    elif dialect in ("mysql", "mariadb"):
        rows = [("view", name) for name in conn.dialect.get_view_names(conn)]
        rows += [("table", name) for name in conn.dialect.get_table_names(conn)]
    else:
        rows = list(
            conn.execute(
                text(
                    "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND type IN ('view', 'table')"
                )
            ).all()
        )
    return {(str(kind), str(name)) for kind, name in rows if name != version_table}


_PG_OBJECTS = """
SELECT CASE relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
       ELSE 'table' END, relname
FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'S')
UNION ALL
SELECT CASE typtype WHEN 'd' THEN 'domain' ELSE 'type' END, typname
FROM pg_type WHERE typnamespace = current_schema()::regnamespace AND typtype IN ('e', 'd')
"""
# views before the tables they read, tables before the sequences and types their columns use
_DROP_ORDER = ("view", "materialized view", "table", "sequence", "domain", "type")


def drop_new_objects(conn: Connection, fresh: set[tuple[str, str]], version_table: str) -> list[str]:
    """Drop what is in the schema now but was not after a fresh env.py run (``fresh``); their names."""
    extra = schema_objects(conn, version_table) - fresh
    if not extra:
        return []
    prep = conn.dialect.identifier_preparer
    cascade = " CASCADE" if conn.dialect.name == "postgresql" else ""
    mysql = conn.dialect.name in ("mysql", "mariadb")
    if mysql:
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
    for kind, name in sorted(extra, key=lambda item: (_DROP_ORDER.index(item[0]), item[1])):
        conn.execute(text(f"DROP {kind.upper()} IF EXISTS {prep.quote(name)}{cascade}"))
    if mysql:
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    return [f"{kind} {name}" for kind, name in sorted(extra)]


# failures that depend on the rows' values; the others (an object missing or already there, a name,
# a deliberate raise) come from the schema alone
_DATA_MODES = frozenset(
    {
        "not-null-violation",
        "foreign-key-violation",
        "unique-violation",
        "check-violation",
        "type-mismatch",
        "migration-code-error",  # its Python read a seeded value (json.loads of generated text)
        "unknown",
    }
)


def seed_may_cause(failure: dict[str, Any]) -> bool:
    """Whether seed rows may have caused ``failure`` (a re-run without them tells): a failure on row values.
    A NOT NULL column added without a default fails on any row whatever its values; the re-run still tells
    whether the table holds rows of the history's own there, or only seed rows (airflow 3a8972ecb8f9)."""
    return failure.get("mode") in _DATA_MODES


# Generated text ("payload_1") never has the form a type conversion expects of a column's real content
# (JSON, digits, dates). A value too long for a new length or out of a new range is not about form.
_SIZE_SQLSTATES = frozenset({"22001", "22003"})
_SIZE_ERRNOS = frozenset({1264, 1265, 1406})
_SIZE_WORDS = re.compile(r"value too long|out of range|Data too long|Data truncated", re.IGNORECASE)
_JSON_TYPE = re.compile(r"\bJSONB?\b", re.IGNORECASE)
# The migration's own Python failing to parse a value it read (json.loads of generated text); any other
# error of its code that passes without seed rows (an attribute its frozen model lacks) is latent in it.
_PARSE_ERRORS = frozenset({"JSONDecodeError", "DecodeError", "InvalidOperation", "InvalidToken"})
# decoders whose exception class names say nothing alone (zlib.error, binascii.Error): generated bytes are
# not compressed data, generated text is not base64 (superset's encrypted columns, airflow's compressed DAGs)
_PARSE_QUALIFIED = frozenset({"zlib.error", "binascii.Error"})
_PARSE_WORDS = re.compile(r"invalid literal for int\(\) with base|could not convert string to float")


def seed_only(failure: dict[str, Any]) -> bool:
    """A failure that passed without seed rows is a seed limitation only when the values that caused it
    cannot be in real rows: generated text a type conversion (or the migration's own parser) cannot
    parse. NULLs, orphan references, duplicates, values outside a new CHECK or too long for a new length
    are values the schema allows, so real rows can hold them: those failures are the migration's."""
    op = failure.get("operation") or {}
    if failure.get("mode") == "migration-code-error":
        error_type = str(failure.get("error_type", ""))
        return (
            error_type.rsplit(".", 1)[-1] in _PARSE_ERRORS
            or error_type in _PARSE_QUALIFIED
            or bool(_PARSE_WORDS.search(str(failure.get("error", ""))))
        )
    if failure.get("mode") == "check-violation":
        # MariaDB converts to JSON with a json_valid() CHECK: generated text fails it as a check violation
        return bool(_JSON_TYPE.search(str(op.get("modify_type", ""))))
    if failure.get("mode") != "type-mismatch":
        return False
    sized = failure.get("sqlstate") in _SIZE_SQLSTATES or failure.get("errno") in _SIZE_ERRNOS
    return not sized and not _SIZE_WORDS.search(str(failure.get("error", "")))
