"""Data checks for rehearsals: row counts and per-column checksums, and what a downgrade lost.

``table_data`` reads each table once (ordered by its primary key when it has one) and keeps, per
column, the count of non-null values and a checksum of the values in row order (PostgreSQL: computed
by the server, all tables of a check in one query; elsewhere a SHA-1 computed here). Two readings of the
same table then compare on the columns both sides have (a per-table checksum over the common
columns), and ``data_lost`` says, per table and column, what the downgrade did not bring back. Tables of
the first ``ROW_DIGEST_LIMIT`` rows of a table also keep a short digest per row and column, so a column holding
other values after a downgrade says in how many rows (exactly in tables of at most that many rows).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from alembic_mcp.tools.worker.ops.snapshot import Snapshot

TableData = dict[str, Any]
_NULL = b"\x00N"
ROW_DIGEST_LIMIT = 5000  # rows of a table (in key order) whose digests are kept (8 hex digits per row and column)


def _encode(value: Any) -> bytes:
    if value is None:
        return _NULL
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"b" + bytes(value).hex().encode()
    if isinstance(value, bool):
        value = int(value)
    return str(value).encode("utf-8", "surrogatepass")


def read_table(conn: Connection, table: str, snapshot: Snapshot) -> TableData:
    info = snapshot["tables"][table]
    columns = list(info["column_order"])
    prep = conn.dialect.identifier_preparer
    order = info["primary_key"]["columns"] or columns
    sql = f"SELECT {', '.join(prep.quote(c) for c in columns)} FROM {prep.quote(table)}" + (
        f" ORDER BY {', '.join(prep.quote(c) for c in order)}" if order else ""
    )
    hashes = [hashlib.sha1() for _ in columns]
    per_row: list[list[str]] = [[] for _ in columns]
    non_null = [0] * len(columns)
    rows = 0
    if columns:
        result = conn.execute(text(sql), execution_options={"yield_per": 2000})
        for row in result:
            rows += 1
            for i, value in enumerate(row):
                encoded = _encode(value)
                hashes[i].update(encoded + b"\x1f")
                if rows <= ROW_DIGEST_LIMIT:
                    per_row[i].append(hashlib.sha1(encoded).hexdigest()[:8])
                if value is not None:
                    non_null[i] += 1
    digests = ["".join(d) for d in per_row]
    return {
        "rows": rows,
        "columns": {
            c: {"non_null": non_null[i], "checksum": hashes[i].hexdigest(), "row_digests": digests[i]}
            for i, c in enumerate(columns)
        },
    }


def table_data(
    conn: Connection,
    snapshot: Snapshot,
    tables: set[str] | None = None,
    previous: dict[str, TableData] | None = None,
    fresh: dict[str, TableData] | None = None,
) -> dict[str, TableData]:
    """Data of every table in ``snapshot``; with ``previous`` and ``tables`` only ``tables`` (and tables
    new since ``previous``) are read again. On PostgreSQL the tables are summarised by the server, all
    in one query. ``fresh``: tables already read in this same state, with the columns and primary key
    ``snapshot`` gives them (``reading.py`` checks that), taken instead of reading them again."""
    out: dict[str, TableData] = {}
    to_read: list[str] = []
    for table in tables_to_read(snapshot, tables, previous):
        if fresh is not None and table in fresh:
            out[table] = fresh[table]
        else:
            to_read.append(table)
    if previous is not None and tables is not None:
        out.update({t: previous[t] for t in snapshot["tables"] if t not in out and t not in to_read})
    if conn.dialect.name == "postgresql":
        for start in range(0, len(to_read), PG_BATCH):
            sql, params, empty = pg_checksum_query(conn, snapshot["tables"], to_read[start : start + PG_BATCH])
            out.update(empty)
            if sql:
                out.update(pg_checksum_rows(snapshot["tables"], conn.execute(text(sql), params)))
    else:
        for table in to_read:
            out[table] = read_table(conn, table, snapshot)
    return {table: out[table] for table in snapshot["tables"]}


def tables_to_read(
    snapshot: Snapshot, tables: set[str] | None = None, previous: dict[str, TableData] | None = None
) -> list[str]:
    """The tables of ``snapshot`` a reading must read: all, or (with ``previous`` and ``tables``) those
    named in ``tables`` and those ``previous`` does not hold."""
    if previous is None or tables is None:
        return list(snapshot["tables"])
    return [t for t in snapshot["tables"] if t in tables or t not in previous]


PG_BATCH = 100
_DIGEST = (
    "coalesce(sum(('x' || substr(md5(s.n::text || ':' || coalesce('v' || s.{v}::text, 'N')), 1, 16))"
    "::bit(64)::bigint), 0)"
)
# per row: the first 8 hex digits of the same md5, in row order (kept for tables small enough)
_ROW_DIGEST = (
    "string_agg(substr(md5(s.n::text || ':' || coalesce('v' || s.{v}::text, 'N')), 1, 8), '' "
    f"ORDER BY s.n) FILTER (WHERE s.n <= {ROW_DIGEST_LIMIT})"
)


def pg_checksum_query(
    conn: Connection, layouts: dict[str, Any], tables: list[str], literal: Any = None
) -> tuple[str, dict[str, str], dict[str, TableData]]:
    """PostgreSQL: the query that gives per table the row count and, per column, the non-null count and a
    checksum of the values in primary-key order (every value hashed with its row position, the hashes
    summed: the same sequence of values gives the same sum), computed by the server in one UNION ALL
    query, so nothing but one row per table crosses the wire and the memory needed does not grow with
    the table; and per column the digests of the first ``ROW_DIGEST_LIMIT`` rows. ``layouts`` gives each
    table's ``column_order`` and ``primary_key`` (a snapshot's tables).

    Returns (SQL or "" when no table has a column, its parameters, the data of the tables without columns).
    ``literal``: a function quoting a value as an SQL literal; the table names are then written into
    the SQL instead of passed as parameters (for a statement sent together with others)."""
    prep = conn.dialect.identifier_preparer
    parts: list[str] = []
    params: dict[str, str] = {}
    empty: dict[str, TableData] = {}
    for k, table in enumerate(tables):
        info = layouts[table]
        columns = list(info["column_order"])
        if not columns:
            empty[table] = {"rows": 0, "columns": {}}
            continue
        quoted = [prep.quote(c) for c in columns]
        pk = info["primary_key"]["columns"]
        order = ", ".join(prep.quote(c) for c in pk) if pk else ", ".join(f"{q}::text" for q in quoted)
        values = [f"v{i}" for i in range(len(columns))]
        if literal is None:
            params[f"t{k}"] = table
            name = f":t{k}"
        else:
            name = literal(table)
        parts.append(
            f"SELECT CAST({name} AS text), count(*), "
            f"ARRAY[{', '.join(f'count(s.{v})' for v in values)}]::bigint[], "
            f"ARRAY[{', '.join(_DIGEST.format(v=v) for v in values)}]::numeric[], "
            f"ARRAY[{', '.join(_ROW_DIGEST.format(v=v) for v in values)}]::text[] "
            f"FROM (SELECT row_number() OVER (ORDER BY {order}), {', '.join(quoted)} "
            f"FROM {prep.quote(table)}) AS s(n, {', '.join(values)})"
        )
    return " UNION ALL ".join(parts), params, empty


def pg_checksum_rows(layouts: dict[str, Any], rows: Any) -> dict[str, TableData]:
    """The rows of ``pg_checksum_query`` as table data."""
    out: dict[str, TableData] = {}
    for table, count, non_null, sums, row_digests in rows:
        columns = layouts[table]["column_order"]
        out[table] = {
            "rows": int(count),
            "columns": {
                c: {
                    "non_null": int(non_null[i]),
                    "checksum": str(sums[i]),
                    "row_digests": row_digests[i],  # of the first ROW_DIGEST_LIMIT rows
                }
                for i, c in enumerate(columns)
            },
        }
    return out


def rows_changed(before: dict[str, Any], after: dict[str, Any]) -> int | None:
    """In how many of the first ``ROW_DIGEST_LIMIT`` rows (same order) a column's value differs; None when
    the digests were not kept."""
    a, b = before.get("row_digests"), after.get("row_digests")
    if a is None or b is None or len(a) != len(b):
        return None
    return sum(a[i : i + 8] != b[i : i + 8] for i in range(0, len(a), 8))


def _changed_words(changed: int | None, rows: int) -> str:
    if changed is None:
        return f"({rows} rows)"
    if rows <= ROW_DIGEST_LIMIT:
        return f"in {changed} of {rows} rows"
    return f"in {changed} of the first {ROW_DIGEST_LIMIT} of {rows} rows (key order; the rest not compared row by row)"


def common_checksum(a: TableData, b: TableData) -> tuple[str, str, list[str]]:
    """Per-table checksums of ``a`` and ``b`` over the columns both have (and their row counts)."""
    common = sorted(set(a["columns"]) & set(b["columns"]))

    def digest(d: TableData) -> str:
        h = hashlib.sha1(str(d["rows"]).encode())
        for c in common:
            h.update(c.encode() + b"=" + d["columns"][c]["checksum"].encode())
        return h.hexdigest()

    return digest(a), digest(b), common


def data_lost(before: dict[str, TableData], after: dict[str, TableData], when: str) -> list[dict[str, Any]]:
    """What ``after`` no longer holds of ``before``: per table (rows) and per column (values)."""
    out: list[dict[str, Any]] = []
    for table, b in sorted(before.items()):
        a = after.get(table)
        if a is b:
            continue  # the same reading (the table was not read again): nothing lost
        if a is None:
            if b["rows"]:
                out.append(
                    {
                        "table": table,
                        "column": None,
                        "rows_before": b["rows"],
                        "rows_after": 0,
                        "message": f"table {table} with {b['rows']} rows is gone {when}",
                    }
                )
            continue
        if a["rows"] < b["rows"]:
            out.append(
                {
                    "table": table,
                    "column": None,
                    "rows_before": b["rows"],
                    "rows_after": a["rows"],
                    "message": f"table {table} has {a['rows']} rows {when}, {b['rows']} before",
                }
            )
        for column, cinfo in sorted(b["columns"].items()):
            if column not in a["columns"]:
                if cinfo["non_null"]:
                    out.append(
                        {
                            "table": table,
                            "column": column,
                            "rows_before": cinfo["non_null"],
                            "rows_after": 0,
                            "message": f"column {table}.{column} with {cinfo['non_null']} non-null values "
                            f"is gone {when}",
                        }
                    )
                continue
            after_col = a["columns"][column]
            if a["rows"] < b["rows"]:
                continue  # the lost rows are reported once for the table
            if after_col["non_null"] < cinfo["non_null"]:
                out.append(
                    {
                        "table": table,
                        "column": column,
                        "rows_before": cinfo["non_null"],
                        "rows_after": after_col["non_null"],
                        "message": f"column {table}.{column} has {after_col['non_null']} non-null values "
                        f"{when}, {cinfo['non_null']} before",
                    }
                )
            elif after_col["checksum"] != cinfo["checksum"] and a["rows"] == b["rows"]:
                changed = rows_changed(cinfo, after_col)
                counted = _changed_words(changed, b["rows"])
                out.append(
                    {
                        "table": table,
                        "column": column,
                        "rows_before": cinfo["non_null"],
                        "rows_after": after_col["non_null"],
                        "rows_changed": changed if b["rows"] <= ROW_DIGEST_LIMIT else None,
                        "message": f"column {table}.{column} holds different values {when} {counted}",
                    }
                )
    return out


def row_counts(data: dict[str, TableData]) -> dict[str, int]:
    return {table: d["rows"] for table, d in data.items()}


def count_rows(conn: Connection, table: str) -> int:
    prep = conn.dialect.identifier_preparer
    return int(conn.execute(text(f"SELECT count(*) FROM {prep.quote(table)}")).scalar_one())
