"""Inside the worker: which failure mode a failed migration step hit, and the evidence for it.

``classify`` names the mode from the driver's error code or message (PostgreSQL SQLSTATE, MariaDB
errno, SQLite text); ``probe`` gathers evidence on the database as the failed statement met it (the
violating rows: how many, and up to 10 by primary key, for NOT NULL, foreign-key, unique and CHECK
failures; duplicate values; sample values that do not convert). The words of the finding are the
server's (``tools/roundtrip/diagnosis.py``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from alembic_mcp.tools.worker.ops.cast_probe import failing_values

MODES = (
    "not-null-violation",
    "foreign-key-violation",
    "unique-violation",
    "type-mismatch",
    "object-already-exists",
    "object-does-not-exist",
    "object-still-referenced",
    "check-violation",
    "unknown",
)
MAX_KEYS = 10

# (mode, PostgreSQL SQLSTATEs, MariaDB errnos, message patterns (any backend))
_RULES: list[tuple[str, set[str], set[int], list[str]]] = [
    (
        "not-null-violation",
        {"23502"},
        {1048, 1138},
        [
            r"contains null values",
            r"NOT NULL constraint failed",
            r"Cannot add a NOT NULL column",
            r"cannot be null",
            r"Invalid use of NULL value",
        ],
    ),
    (
        "foreign-key-violation",
        {"23503"},
        {1452, 1451, 1216, 1217},
        [
            r"violates foreign key constraint",
            r"FOREIGN KEY constraint failed",
            r"foreign key constraint fails",
        ],
    ),
    (
        "unique-violation",
        {"23505"},
        {1062, 1169, 1586},
        [r"could not create unique index", r"is duplicated", r"UNIQUE constraint failed", r"Duplicate entry"],
    ),
    (
        "check-violation",
        {"23514"},
        {4025, 3819},
        [r"violates check constraint", r"CHECK constraint failed", r"Check constraint .* is violated"],
    ),
    (
        "type-mismatch",
        {"42804", "22P02", "22001", "22003", "22007", "22008", "42846"},
        {1264, 1265, 1292, 1366, 1406},
        [
            r"cannot be cast",
            r"invalid input syntax for type",
            r"value too long",
            r"out of range",
            r"Incorrect \w+ value",
            r"Data truncated",
            r"Data too long",
            r"datatype mismatch",
        ],
    ),
    (
        "object-already-exists",
        {"42P07", "42701", "42710", "42723", "42P06"},
        {1050, 1060, 1061, 1826, 1022},
        [r"already exists", r"Duplicate column name", r"Duplicate key name", r"duplicate column name"],
    ),
    (
        "object-still-referenced",
        {"2BP01"},
        {1553, 3730},
        [
            r"other objects depend on it",
            r"needed in a foreign key constraint",
            r"referenced by a foreign key",
        ],
    ),
    (
        "object-does-not-exist",
        {"42P01", "42703", "42704", "42883", "3F000"},
        {1146, 1054, 1091, 1176, 1072},
        [
            r"does not exist",
            r"doesn't exist",
            r"no such table",
            r"no such column",
            r"no such index",
            r"Unknown column",
            r"Can't DROP",
            r"check that (column/key|it) exists",
        ],
    ),
]


def error_codes(exc: BaseException) -> tuple[str | None, int | None]:
    """(SQLSTATE, MariaDB errno) of a DBAPI error wrapped by SQLAlchemy, when the driver gives them."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = None
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if candidate is None:
            continue
        sqlstate = (
            getattr(candidate, "sqlstate", None)
            or getattr(candidate, "pgcode", None)
            or getattr(getattr(candidate, "diag", None), "sqlstate", None)
        )
        if sqlstate:
            break
    errno = None
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        errno = args[0]
    return (str(sqlstate) if sqlstate else None), errno


def classify(exc: BaseException | None, message: str, sqlstate: str | None = None, errno: int | None = None) -> str:
    if exc is not None and (sqlstate is None and errno is None):
        sqlstate, errno = error_codes(exc)
    for mode, states, errnos, _ in _RULES:
        if sqlstate and sqlstate in states:
            return mode
        if errno is not None and errno in errnos:
            return mode
    for mode, _, _, patterns in _RULES:
        if any(re.search(p, message, re.IGNORECASE) for p in patterns):
            return mode
    return "unknown"


# ------------------------------------------------------------------ evidence


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _table_exists(conn: Connection, table: str) -> bool:
    return inspect(conn).has_table(table)


def _pk_columns(conn: Connection, table: str) -> list[str]:
    return list(inspect(conn).get_pk_constraint(table).get("constrained_columns") or [])


def _last_op(ops: list[dict[str, Any]], *names: str) -> dict[str, Any] | None:
    for op in reversed(ops):
        if op.get("op") in names:
            return op
    return ops[-1] if ops and not names else None


_QUOTED_NAME = re.compile(r"([\"'`])([^\"'`\s]+)\1")  # one identifier in matching quotes, no spaces


def quoted_names(message: str) -> list[str]:
    """Object names the database quoted in ``message``: the driver's own quoting around the whole text
    (pymysql's ``(1553, "Cannot drop index 'ix_a': ...")``) is not a name."""
    return [name for _, name in _QUOTED_NAME.findall(message)]


def probe(conn: Connection, mode: str, message: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Evidence for ``mode`` on the database as the failure left it. Never raises."""
    try:
        if mode == "not-null-violation":
            return _probe_not_null(conn, message, ops)
        if mode == "foreign-key-violation":
            return _probe_fk(conn, message, ops)
        if mode == "unique-violation":
            return _probe_unique(conn, message, ops)
        if mode == "type-mismatch":
            return _probe_type(conn, message, ops)
        if mode == "check-violation":
            return _probe_check(conn, message, ops)
        if mode in (
            "object-already-exists",
            "object-does-not-exist",
            "object-still-referenced",
            "defined-twice",
            "drop-of-missing-object",
        ):
            names = quoted_names(message)
            op = ops[-1] if ops else {}
            return {"object": names[0] if names else op.get("name"), "table": op.get("table")}
    except Exception as exc:  # evidence is best effort; the diagnosis stands without it
        return {"probe_error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
    return {}


def _row_key(conn: Connection, table: str) -> list[str]:
    """Columns that name a row of ``table``: its primary key, else the database's row id."""
    key = _pk_columns(conn, table)
    if key:
        return key
    return {"postgresql": ["ctid"], "sqlite": ["rowid"]}.get(conn.dialect.name, [])


def violating_rows(conn: Connection, table: str, where: str, alias: str = "") -> dict[str, Any]:
    """How many rows of ``table`` match ``where`` (SQL over the table, optionally ``alias``-ed) and the
    keys of the first ``MAX_KEYS`` of them."""
    source = f"{_q(conn, table)} {alias}".strip()
    prefix = f"{alias}." if alias else ""
    count = int(conn.execute(text(f"SELECT count(*) FROM {source} WHERE {where}")).scalar_one())
    key = _row_key(conn, table)
    facts: dict[str, Any] = {"violating_rows": count, "key_columns": key, "violating_keys": []}
    if key and count:
        cols = ", ".join(prefix + (k if k in ("ctid", "rowid") else _q(conn, k)) for k in key)
        rows = conn.execute(text(f"SELECT {cols} FROM {source} WHERE {where} ORDER BY {cols} LIMIT {MAX_KEYS}"))
        facts["violating_keys"] = [[str(v) for v in row] for row in rows]
    return facts


def _not_null_target(message: str, op: dict[str, Any]) -> tuple[Any, Any]:
    table, column = op.get("table"), op.get("column")
    match = re.search(r'column "([^"]+)" of relation "([^"]+)"', message) or re.search(
        r"NOT NULL constraint failed: (\w+)\.(\w+)", message
    )
    if match:
        column, table = (
            (match.group(1), match.group(2)) if "relation" in match.re.pattern else (match.group(2), match.group(1))
        )
    return table, column


def _probe_not_null(conn: Connection, message: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    op = _last_op(ops, "AddColumnOp", "AlterColumnOp", "CreatePrimaryKeyOp") or {}
    table, column = _not_null_target(message, op)
    facts: dict[str, Any] = {"table": table, "column": column, "operation": op.get("op")}
    if not (table and _table_exists(conn, table)):
        return facts
    facts["rows"] = int(conn.execute(text(f"SELECT count(*) FROM {_q(conn, table)}")).scalar_one())
    existing = {c["name"] for c in inspect(conn).get_columns(table)}
    checked = [c for c in (op.get("columns") or [column]) if isinstance(c, str) and c in existing]
    if column and column in existing:
        facts["null_rows"] = int(
            conn.execute(text(f"SELECT count(*) FROM {_q(conn, table)} WHERE {_q(conn, column)} IS NULL")).scalar_one()
        )
    # a new NOT NULL column without a default: every existing row violates it
    where = " OR ".join(f"{_q(conn, c)} IS NULL" for c in checked) if checked else "1 = 1"
    facts.update(violating_rows(conn, table, where))
    return facts


def _probe_fk(conn: Connection, message: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    op = _last_op(ops, "CreateForeignKeyOp") or {}
    child, parent = op.get("table"), op.get("referent_table")
    local, remote = op.get("local_cols") or [], op.get("remote_cols") or []
    if not child:
        match = re.search(r'on table "([^"]+)".*Key \(([^)]+)\)=.*in table "([^"]+)"', message, re.S)
        if match:
            child, local, parent = (
                match.group(1),
                [c.strip() for c in match.group(2).split(",")],
                match.group(3),
            )
    if child and parent and local and not remote:
        remote = _pk_columns(conn, parent)
    facts: dict[str, Any] = {
        "table": child,
        "columns": local,
        "referred_table": parent,
        "referred_columns": remote,
        "constraint": op.get("name"),
    }
    if not (child and parent and local and remote and len(local) == len(remote)):
        return facts
    # lengths checked above; zip(strict=) needs Python 3.10 and this runs in the project's interpreter
    join = " AND ".join(f"p.{_q(conn, r)} = c.{_q(conn, lc)}" for lc, r in zip(local, remote))  # noqa: B905
    not_null = " AND ".join(f"c.{_q(conn, lc)} IS NOT NULL" for lc in local)
    where = f"{not_null} AND NOT EXISTS (SELECT 1 FROM {_q(conn, parent)} p WHERE {join})"
    facts.update(violating_rows(conn, child, where, alias="c"))
    facts["orphan_rows"] = facts["violating_rows"]
    key = _pk_columns(conn, child) or local
    rows = conn.execute(
        text(
            f"SELECT {', '.join('c.' + _q(conn, k) for k in key)}, "
            f"{', '.join('c.' + _q(conn, lc) for lc in local)} FROM {_q(conn, child)} c "
            f"WHERE {where} ORDER BY 1 LIMIT {MAX_KEYS}"
        )
    ).all()
    facts["sample_key_columns"] = key
    facts["sample_orphans"] = [
        {"key": [str(v) for v in row[: len(key)]], "value": [str(v) for v in row[len(key) :]]} for row in rows
    ]
    return facts


def _probe_unique(conn: Connection, message: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    op = _last_op(ops, "CreateUniqueConstraintOp", "CreateIndexOp") or {}
    table, columns = op.get("table"), op.get("columns") or []
    match = re.search(r"UNIQUE constraint failed: ([\w., ]+)", message)
    if match and not table:
        parts = [p.strip().split(".") for p in match.group(1).split(",")]
        table, columns = parts[0][0], [p[-1] for p in parts]
    facts: dict[str, Any] = {"table": table, "columns": columns, "constraint": op.get("name")}
    if not (table and columns and all(isinstance(c, str) for c in columns)):
        return facts
    cols = ", ".join(_q(conn, c) for c in columns)
    nn = " AND ".join(f"{_q(conn, c)} IS NOT NULL" for c in columns)
    groups = conn.execute(
        text(
            f"SELECT {cols}, count(*) FROM {_q(conn, table)} WHERE {nn} GROUP BY {cols} "
            f"HAVING count(*) > 1 ORDER BY count(*) DESC LIMIT 5"
        )
    ).all()
    facts["duplicate_groups"] = int(
        conn.execute(
            text(
                f"SELECT count(*) FROM (SELECT {cols} FROM {_q(conn, table)} WHERE {nn} GROUP BY {cols} "
                f"HAVING count(*) > 1) d"
            )
        ).scalar_one()
    )
    facts["sample_duplicates"] = [{"value": [str(v) for v in row[:-1]], "rows": int(row[-1])} for row in groups]
    on = " AND ".join(f"d.{_q(conn, c)} = a.{_q(conn, c)}" for c in columns)
    duplicated = f"SELECT {cols} FROM {_q(conn, table)} WHERE {nn} GROUP BY {cols} HAVING count(*) > 1"
    facts.update(violating_rows(conn, table, f"EXISTS (SELECT 1 FROM ({duplicated}) d WHERE {on})", alias="a"))
    return facts


def _probe_check(conn: Connection, message: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    op = _last_op(ops, "CreateCheckConstraintOp") or {}
    table, condition = op.get("table"), op.get("condition")
    facts: dict[str, Any] = {"table": table, "constraint": op.get("name"), "condition": condition}
    if table and condition and _table_exists(conn, table):
        facts.update(violating_rows(conn, table, f"NOT ({condition})"))
    return facts


_SQL_TABLE = re.compile(
    r"\[SQL:\s*(?:UPDATE|INSERT\s+INTO|ALTER\s+TABLE|DELETE\s+FROM)\s+(?:ONLY\s+)?[\"`]?([\w.]+)", re.IGNORECASE
)
_MISMATCHED_COLUMN = re.compile(r'column "([^"]+)" (?:is of type|cannot be cast)')
_MISMATCHED_TYPES = re.compile(r"is of type (.+?) but expression is of type ([^\n]+)")


def _type_facts_from_message(message: str) -> dict[str, Any]:
    """Table, column and types as PostgreSQL's error and the statement name them (raw SQL has no op)."""
    facts: dict[str, Any] = {}
    if found := _SQL_TABLE.search(message):
        facts["table"] = found.group(1).split(".")[-1]
    if found := _MISMATCHED_COLUMN.search(message):
        facts["column"] = found.group(1)
    if found := _MISMATCHED_TYPES.search(message):
        facts["column_type"], facts["expression_type"] = found.group(1), found.group(2).strip()
    return facts


def _probe_type(conn: Connection, message: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    op = _last_op(ops, "AlterColumnOp", "AddColumnOp") or {}
    table, column = op.get("table"), op.get("column")
    facts: dict[str, Any] = {
        "table": table,
        "column": column,
        "new_type": op.get("modify_type"),
        "type_sql": op.get("type_sql"),
    }
    if not (table and column):
        facts.update({k: v for k, v in _type_facts_from_message(message).items() if not facts.get(k)})
        table, column = facts["table"], facts["column"]
    if table and column and _table_exists(conn, table):
        cols = {c["name"] for c in inspect(conn).get_columns(table)}
        if column in cols:
            rows = conn.execute(
                text(
                    f"SELECT DISTINCT {_q(conn, column)} FROM {_q(conn, table)} "
                    f"WHERE {_q(conn, column)} IS NOT NULL LIMIT 5"
                )
            ).all()
            facts["sample_values"] = [str(r[0]) for r in rows]
            facts["non_null_rows"] = int(
                conn.execute(
                    text(f"SELECT count(*) FROM {_q(conn, table)} WHERE {_q(conn, column)} IS NOT NULL")
                ).scalar_one()
            )
            facts.update(_values_refused(conn, table, column, op))
    return facts


def _values_refused(conn: Connection, table: str, column: str, op: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL: the values the failed conversion refuses, by value with their rows' keys (cast_probe)."""
    expression = op.get("using") or (f"CAST({_q(conn, column)} AS {op['type_sql']})" if op.get("type_sql") else None)
    if conn.dialect.name != "postgresql" or not expression:
        return {}
    key = _row_key(conn, table)
    found = failing_values(conn, table, column, expression, key)
    if found is None:
        return {}
    refused = found["failing_values"]
    keys = sorted((k for entry in refused for k in entry["keys"]), key=_natural)
    return {
        **found,
        "sample_values": [entry["value"] for entry in refused[:5]],
        "key_columns": key,
        "violating_rows": sum(entry["rows"] for entry in refused),
        "violating_keys": keys[:MAX_KEYS],
    }


def _natural(key: list[str]) -> list[tuple[int, int | str]]:
    """Keys in numeric order where they are numbers (7 before 13)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in key]
