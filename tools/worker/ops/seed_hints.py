"""Inside the worker: values seed rows must hold that the schema alone does not tell.

``cast_hints`` reads the revisions under test for columns a later revision converts to an enum type
(``postgresql_using='col::mood'``, ``ALTER TABLE t ALTER COLUMN c TYPE mood USING c::mood``) and the
labels of that type (``sa.Enum('a', 'b', name='mood')``, ``CREATE TYPE mood AS ENUM ('a', 'b')``, or
the database's ``pg_enum`` when the type exists at seeding time): a text column seeded with
``mood_1`` would break a correct conversion. ``read_hints`` adds the text columns the revisions parse
as JSON (``seed_json``). ``check_values`` reads a table's CHECK constraints for a column restricted to
a list of literals (``status IN ('new', 'done')``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from alembic_mcp.tools.worker.ops.seed_json import JsonColumns, helper_sources, json_reads

_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_ALTER_USING = re.compile(
    r"alter_column\(\s*['\"](\w+)['\"]\s*,\s*['\"](\w+)['\"][\s\S]{0,800}?postgresql_using\s*=\s*"
    r"[rbuf]*['\"][^'\"]*?::\s*\"?(\w+)\"?",
)
_SQL_USING = re.compile(
    r"ALTER\s+TABLE\s+(?:ONLY\s+)?\"?(\w+)\"?\s+ALTER\s+(?:COLUMN\s+)?\"?(\w+)\"?\s+(?:SET\s+DATA\s+)?TYPE\s+"
    r"\"?(\w+)\"?\s+USING\b",
    re.IGNORECASE,
)
_CREATE_TYPE = re.compile(r"CREATE\s+TYPE\s+\"?(\w+)\"?\s+AS\s+ENUM\s*\(([^)]*)\)", re.IGNORECASE)
_ENUM_CALL = re.compile(r"\bENUM\(([^()]*)\)", re.IGNORECASE)
_NAME_KW = re.compile(r"name\s*=\s*['\"](\w+)['\"]")

_LIST_CHECK = re.compile(r"\bIN\s*\(|=\s*ANY\s*\(", re.IGNORECASE)  # PostgreSQL shows IN as = ANY (ARRAY[...])
Labels = dict[tuple[str, str], list[str]]


@dataclass
class Hints:
    """What the revisions under test expect of the rows: labels a column is converted with, JSON it parses."""

    labels: Labels = field(default_factory=dict)
    json_columns: JsonColumns = field(default_factory=set)


def _literals(source: str) -> list[str]:
    return [m.replace("''", "'") for m in _QUOTED.findall(source)]


def _enum_labels(sources: list[str]) -> dict[str, list[str]]:
    """Enum type name -> labels, as the migration sources declare them."""
    labels: dict[str, list[str]] = {}
    for source in sources:
        for name, body in _CREATE_TYPE.findall(source):
            labels.setdefault(name, _literals(body))
        for call in _ENUM_CALL.findall(source):
            named = _NAME_KW.search(call)
            if named:
                values = [v for v in re.findall(r"['\"]([^'\"]*)['\"]", call[: named.start()])]
                labels.setdefault(named.group(1), values)
    return labels


def _db_labels(conn: Any, type_name: str) -> list[str]:
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(
        text(
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "WHERE t.typname = :name ORDER BY e.enumsortorder"
        ),
        {"name": type_name},
    )
    return [r[0] for r in rows]


def read_hints(conn: Any, script: Any, revisions: list[str]) -> Hints:
    """The hints of the revisions under test (their files, and for JSON reads their helper modules too)."""
    sources = []
    for rev in revisions:
        path = script.get_revision(rev).path
        try:
            with open(path, encoding="utf-8") as fh:
                sources.append(fh.read())
        except OSError:
            continue
    return Hints(cast_hints(conn, sources), json_reads(sources + helper_sources(sources)))


def cast_hints(conn: Any, sources: list[str]) -> Labels:
    """(table, column) -> the labels of the enum type a revision under test converts it to."""
    declared = _enum_labels(sources)
    hints: Labels = {}
    for source in sources:
        for table, column, type_name in [*_ALTER_USING.findall(source), *_SQL_USING.findall(source)]:
            labels = declared.get(type_name) or _db_labels(conn, type_name)
            if labels:
                hints.setdefault((table, column), labels)
    return hints


def check_values(table: Any) -> dict[str, list[str]]:
    """Column -> the literals a CHECK constraint of ``table`` restricts it to (a single column ``IN`` a list)."""
    allowed: dict[str, list[str]] = {}
    for constraint in table.constraints:
        if constraint.__class__.__name__ != "CheckConstraint":
            continue
        sql = str(constraint.sqltext)
        bare = _QUOTED.sub("''", sql)  # column names, not words inside the literals
        columns = [c.name for c in table.columns if re.search(rf"\b{re.escape(c.name)}\b", bare)]
        literals = _literals(sql)
        if len(columns) == 1 and literals and _LIST_CHECK.search(bare):
            allowed.setdefault(columns[0], literals)
    return allowed
