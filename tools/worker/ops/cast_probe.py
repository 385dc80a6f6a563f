"""Inside the worker: which values of a column a failed type conversion refuses (PostgreSQL).

PostgreSQL 15 has no ``pg_input_is_valid``, so each distinct value of the column is converted alone, the
way the failed ALTER converts it (its USING expression, else a cast to the new type), on one row holding
it, under a savepoint: a data exception (SQLSTATE class 22) means the value does not convert. Any other
error (the type or a column the expression names is missing) ends the probe: it says nothing about values.
Only the values that fail are kept, with how many rows hold each and up to ``MAX_KEYS`` of their keys;
``complete`` says whether every distinct value was tried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

MAX_DISTINCT = 200  # distinct values tried, most frequent first
MAX_LISTED = 20  # failing values listed with their keys
MAX_KEYS = 10
SAVEPOINT = "alembic_mcp_value"


def failing_values(conn: Connection, table: str, column: str, expression: str, key: list[str]) -> dict[str, Any] | None:
    """``{"failing_values": [...], "failing_values_complete": bool, "distinct_values_checked": n}``, or None
    when the conversion cannot be tried value by value."""
    q = conn.dialect.identifier_preparer.quote
    values = conn.execute(
        text(
            f"SELECT {q(column)}, count(*) FROM {q(table)} WHERE {q(column)} IS NOT NULL "
            f"GROUP BY {q(column)} ORDER BY count(*) DESC, {q(column)} LIMIT {MAX_DISTINCT + 1}"
        )
    ).all()
    one_row = (
        f"SELECT count(({expression})) FROM (SELECT * FROM {q(table)} WHERE {q(column)} = :value LIMIT 1) AS {q(table)}"
    )
    failing: list[tuple[Any, int]] = []
    for value, rows in values[:MAX_DISTINCT]:
        refused = _refuses(conn, one_row, value)
        if refused is None:
            return None
        if refused:
            failing.append((value, int(rows)))
    listed = [
        {"value": str(value), "rows": rows, "keys": _keys(conn, table, column, value, key)}
        for value, rows in failing[:MAX_LISTED]
    ]
    return {
        "failing_values": listed,
        "failing_values_complete": len(values) <= MAX_DISTINCT and len(failing) <= MAX_LISTED,
        "distinct_values_checked": min(len(values), MAX_DISTINCT),
    }


def _refuses(conn: Connection, query: str, value: Any) -> bool | None:
    """True: converting ``value`` raises a data exception; False: it converts; None: another error."""
    conn.exec_driver_sql(f"SAVEPOINT {SAVEPOINT}")
    try:
        conn.execute(text(query), {"value": value})
    except Exception as exc:
        conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        state = _sqlstate(exc)
        return True if state and state.startswith("22") else None
    conn.exec_driver_sql(f"RELEASE SAVEPOINT {SAVEPOINT}")
    return False


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(state) if state else None


def _keys(conn: Connection, table: str, column: str, value: Any, key: list[str]) -> list[list[str]]:
    if not key:
        return []
    q = conn.dialect.identifier_preparer.quote
    cols = ", ".join(k if k == "ctid" else q(k) for k in key)
    rows = conn.execute(
        text(f"SELECT {cols} FROM {q(table)} WHERE {q(column)} = :value ORDER BY {cols} LIMIT {MAX_KEYS}"),
        {"value": value},
    )
    return [[str(v) for v in row] for row in rows]
