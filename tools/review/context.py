"""Layer 3 of review_migration: facts from the target database that turn "with data" into numbers.

Row counts of touched tables (dbinfo.row_counts), non-null counts of dropped columns, NULL counts for
set-not-null, orphan counts and sample ids for new foreign keys, duplicate counts for new unique
constraints, current column types, primary keys and indexes. PostgreSQL through asyncpg, the others
through SQLAlchemy in a thread (dbinfo.with_sync). Read-only: only SELECTs and catalogue queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.policy import WARN_MIGRATION_ROWS
from alembic_mcp.tools.core.urls import backend_of
from alembic_mcp.tools.core.verdict import Escalation
from alembic_mcp.tools.db.dbinfo import row_counts, sqlite_file_missing, with_pg, with_sync
from alembic_mcp.tools.review.rules.catalogue import Hit

SAMPLE = 5


@dataclass
class TableInfo:
    columns: dict[str, str]
    pk: list[str]
    indexes: list[list[str]]


@dataclass
class Facts:
    """What the target database says; ``reachable`` False means every rule assumes data exists."""

    reachable: bool
    detail: str = ""
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, TableInfo] = field(default_factory=dict)
    values: dict[tuple, Any] = field(default_factory=dict)
    created_earlier: set[str] = field(default_factory=set)  # tables created by earlier reviewed revisions
    server_version: str | None = None  # PostgreSQL "major.minor", for squawk --pg-version

    def table_rows(self, table: str | None) -> int | None:
        if not self.reachable or table is None:
            return None
        if table in self.rows:
            return self.rows[table]["rows"]
        if table in self.created_earlier:
            return 0
        return None


def fact_key(fact: dict[str, Any]) -> tuple:
    return (
        fact["kind"],
        fact.get("table"),
        fact.get("column"),
        tuple(fact.get("columns") or ()),
        fact.get("ref_table"),
        tuple(fact.get("ref_columns") or ()),
    )


def _pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


PG_COLUMNS = """SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"""
PG_INDEXES = """SELECT i.indisprimary, array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) FROM pg_index i
WHERE i.indrelid = to_regclass($1)"""


def _queries(fact: dict[str, Any], info: TableInfo | None, quote, ref_info: TableInfo | None) -> list[str] | None:
    """SQL for one fact (identifiers quoted, no values interpolated), or None when it cannot be asked."""
    kind, table = fact["kind"], fact.get("table")
    if info is None or table is None:
        return None
    t = quote(table)
    if kind in ("nonnull", "nulls"):
        column = fact.get("column")
        if column not in info.columns:
            return None
        c = quote(column)
        return [f"SELECT count({c}) FROM {t}" if kind == "nonnull" else f"SELECT count(*) - count({c}) FROM {t}"]
    if kind == "orphans":
        cols, ref, refcols = fact.get("columns") or [], fact.get("ref_table"), fact.get("ref_columns") or []
        if (
            not cols
            or not ref
            or len(cols) != len(refcols)
            or ref_info is None
            or any(c not in info.columns for c in cols)
            or any(c not in ref_info.columns for c in refcols)
        ):
            return None
        join = " AND ".join(f"p.{quote(rc)} = c.{quote(cc)}" for cc, rc in zip(cols, refcols, strict=True))
        notnull = " AND ".join(f"c.{quote(cc)} IS NOT NULL" for cc in cols)
        where = f"{notnull} AND NOT EXISTS (SELECT 1 FROM {quote(ref)} p WHERE {join})"
        ident = info.pk or cols
        select = ", ".join(f"c.{quote(x)}" for x in ident)
        return [
            f"SELECT count(*) FROM {t} c WHERE {where}",
            f"SELECT {select} FROM {t} c WHERE {where} ORDER BY {select} LIMIT {SAMPLE}",
        ]
    if kind == "duplicates":
        cols = fact.get("columns") or []
        if not cols or any(c not in info.columns for c in cols):
            return None
        q = ", ".join(quote(c) for c in cols)
        notnull = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols)
        groups = f"SELECT {q}, count(*) AS n FROM {t} WHERE {notnull} GROUP BY {q} HAVING count(*) > 1"
        return [
            f"SELECT count(*), coalesce(sum(n), 0) FROM ({groups}) d",
            f"{groups} ORDER BY n DESC LIMIT {SAMPLE}",
        ]
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


async def gather(url: URL, hits: list[Hit], tables: set[str], exact_limit: int, created_earlier: set[str]) -> Facts:
    """Ask the database everything the hits need. Raises DatabaseUnavailable when it cannot connect."""
    facts = Facts(reachable=True, created_earlier=set(created_earlier))
    wanted = [h.fact for h in hits if h.fact]
    names = (
        set(tables)
        | {f["table"] for f in wanted if f.get("table")}
        | {f["ref_table"] for f in wanted if f.get("ref_table")}
    )
    names.discard(None)
    facts.rows = await row_counts(url, sorted(names), exact_limit)
    present = sorted(t for t in names if t in facts.rows)
    unique_facts = {fact_key(f): f for f in wanted}

    if backend_of(url) == "postgresql":

        async def query(conn) -> None:
            version = conn.get_server_version()
            facts.server_version = f"{version.major}.{version.minor}"
            for table in present:
                cols = {r[0]: r[1] for r in await conn.fetch(PG_COLUMNS, _pg_quote(table))}
                pk: list[str] = []
                indexes: list[list[str]] = []
                for primary, columns in await conn.fetch(PG_INDEXES, _pg_quote(table)):
                    indexes.append(list(columns))
                    if primary:
                        pk = list(columns)
                facts.tables[table] = TableInfo(cols, pk, indexes)
            for key, fact in unique_facts.items():
                sqls = _queries(
                    fact,
                    facts.tables.get(fact.get("table")),
                    _pg_quote,
                    facts.tables.get(fact.get("ref_table")),
                )
                if sqls:
                    results = [[tuple(r) for r in await conn.fetch(sql)] for sql in sqls]
                    facts.values[key] = results

        await with_pg(url, query)
        return facts

    def query_sync(conn) -> None:
        inspector = inspect(conn)
        quote = conn.dialect.identifier_preparer.quote
        for table in present:
            cols = {c["name"]: str(c["type"]) for c in inspector.get_columns(table)}
            pk = list(inspector.get_pk_constraint(table).get("constrained_columns") or [])
            indexes = [list(i["column_names"]) for i in inspector.get_indexes(table)]
            indexes += [list(u["column_names"]) for u in inspector.get_unique_constraints(table)]
            if pk:
                indexes.append(pk)
            facts.tables[table] = TableInfo(cols, pk, indexes)
        for key, fact in unique_facts.items():
            sqls = _queries(fact, facts.tables.get(fact.get("table")), quote, facts.tables.get(fact.get("ref_table")))
            if sqls:
                facts.values[key] = [[tuple(r) for r in conn.execute(text(sql))] for sql in sqls]

    if sqlite_file_missing(url):  # no database file: no tables, and opening it would create it
        return facts
    await with_sync(url, query_sync, read_only=True)
    return facts


_VARCHAR = re.compile(r"^(character varying|varchar|nvarchar)\((\d+)\)$", re.I)
_NEW_STRING = re.compile(r"^(?:sa\.)?(String|VARCHAR|Unicode|NVARCHAR)\((?:length=)?(\d+)", re.I)
_NEW_TEXT = re.compile(r"^(?:sa\.)?(Text|TEXT|UnicodeText)\b")


def _db_cast_safe(db_type: str, new_type: str) -> bool:
    m = _VARCHAR.match(db_type.strip())
    if not m:
        return False
    if _NEW_TEXT.match(new_type):
        return True
    n = _NEW_STRING.match(new_type)
    return bool(n) and int(n.group(2)) >= int(m.group(2))


def apply(facts: Facts, hits: list[Hit], large_rows: int) -> list[Hit]:
    """Turn assumptions into facts: adjust messages, severities and escalations. Returns the kept hits."""
    kept: list[Hit] = []
    for hit in hits:
        if _apply_one(facts, hit, large_rows):
            kept.append(hit)
    return kept


def _count_text(facts: Facts, table: str | None, rows: int) -> str:
    exact = facts.rows.get(table or "", {}).get("exact", True)
    return f"{rows:,} rows" if exact else f"about {rows:,} rows (planner estimate)"


def _note(hit: Hit, text_: str) -> None:
    hit.finding.message = hit.finding.message.rstrip() + " " + text_


def _apply_one(facts: Facts, hit: Hit, large_rows: int) -> bool:
    f = hit.finding
    fact = hit.fact
    if fact is None:
        return True
    if not facts.reachable:
        _note(hit, "(Database not checked: assumed to hold data.)")
        return True
    kind, table = fact["kind"], fact.get("table")
    rows = facts.table_rows(table)
    values = facts.values.get(fact_key(fact))
    if (
        table in facts.created_earlier
        and table not in facts.rows
        and kind in ("nonnull", "nulls", "orphans", "duplicates")
    ):
        # Created by an earlier revision of this review: empty when this revision runs.
        values = [[(0,)], []] if kind != "duplicates" else [[(0, 0)], []]
        if kind == "nonnull" and hit.escalation is not None:
            hit.escalation = None
    if kind == "rows":
        if rows == 0:
            f.severity = "warning" if f.severity == "error" else f.severity
            if hit.escalation and hit.escalation.rule == "drop-table-with-data":
                hit.escalation = None
            _note(hit, f"{table} is empty in the target database.")
        elif rows is not None:
            _note(hit, f"{table} has {_count_text(facts, table, rows)} in the target database.")
            if hit.escalation and hit.escalation.rule == "drop-table-with-data":
                hit.escalation.reason = f"Table {table} is dropped and holds {rows:,} rows."
                hit.escalation.evidence["rows"] = rows
            if f.rule == "add-column-required" and rows > large_rows:
                hit.escalation = Escalation(
                    rule="large-data-migration",
                    reason=f"The backfill for {table}.{f.column} touches {rows:,} rows "
                    f"(large_migration_rows = {large_rows:,}).",
                    evidence={"table": table, "rows": rows},
                )
        else:
            _note(hit, f"({table} not found in the target database: row count unknown, assumed to have rows.)")
        return True
    if kind == "nonnull":
        if values is None:
            _note(
                hit,
                "(The column is not in the target database, so it could not be checked: assumed to hold data.)",
            )
            if hit.escalation:
                hit.escalation.reason = (
                    f"{table}.{f.column} is dropped; it could not be checked in the target "
                    "database, so it is assumed to hold data."
                )
            return True
        count = values[0][0][0]
        if count == 0:
            hit.escalation = None
            _note(hit, f"It holds no values in the target database ({rows or 0:,} rows, all NULL).")
        else:
            _note(hit, f"It holds {count:,} non-null values in the target database.")
            if hit.escalation:
                hit.escalation.reason = f"{table}.{f.column} is dropped and holds {count:,} non-null values."
                hit.escalation.evidence["non_null_values"] = count
        return True
    if values is None and rows is None and kind in ("nulls", "orphans", "duplicates"):
        _note(hit, f"({table} could not be checked in the target database: assumed to hold data.)")
        return True
    if kind == "nulls":
        if values is None:
            if rows == 0:
                f.severity = "warning"
                _note(hit, f"{table} is empty in the target database.")
            return True
        count = values[0][0][0]
        if count:
            _note(hit, f"{count:,} of {rows or 0:,} rows hold NULL: the ALTER fails until they are backfilled.")
        elif rows == 0:
            f.severity = "warning"
            _note(hit, f"{table} is empty in the target database.")
        else:
            _note(
                hit,
                f"No NULLs today in {rows or 0:,} rows; the full-table scan under ACCESS EXCLUSIVE remains.",
            )
        return True
    if kind == "orphans":
        if values is None:
            if rows == 0:
                f.severity = "warning"
                _note(hit, f"{table} is empty in the target database.")
            return True
        count = values[0][0][0]
        sample = [r[0] if len(r) == 1 else list(r) for r in values[1]]
        if count:
            f.severity = "error"
            _note(
                hit,
                f"{count:,} orphan row(s) in {table} reference no {fact.get('ref_table')} row "
                f"(sample ids: {', '.join(str(_plain(s)) for s in sample)}): validation fails.",
            )
            hit.data["orphans"] = {"count": count, "sample_ids": [_plain(s) for s in sample]}
        elif rows == 0:
            f.severity = "warning"
            _note(hit, f"{table} is empty in the target database.")
        else:
            _note(hit, f"No orphan rows today in {rows or 0:,} rows.")
            hit.data["orphans"] = {"count": 0, "sample_ids": []}
        return True
    if kind == "duplicates":
        if values is None:
            return True
        groups, dup_rows = values[0][0]
        sample = [list(r[:-1]) if len(r) > 2 else r[0] for r in values[1]]
        if groups:
            f.severity = "error"
            _note(
                hit,
                f"{groups:,} duplicated value(s) ({dup_rows:,} rows) exist in the target database, e.g. "
                f"{', '.join(str(_plain(s)) for s in sample)}: the unique build fails.",
            )
            hit.data["duplicates"] = {
                "groups": groups,
                "rows": int(dup_rows),
                "sample": [_plain(s) for s in sample],
            }
        else:
            _note(hit, "No duplicates today.")
            if hit.data.get("informational"):
                return False
        return True
    if kind == "backfill_rows":
        if rows is None:
            _note(hit, "(Row count unknown.)")
            return True
        _note(hit, f"{table} has {_count_text(facts, table, rows)} in the target database.")
        if rows > large_rows:
            hit.escalation = Escalation(
                rule="large-data-migration",
                reason=f"The data migration on {table} touches up to {rows:,} rows "
                f"(large_migration_rows = {large_rows:,}).",
                evidence={"table": table, "rows": rows},
            )
        elif rows <= WARN_MIGRATION_ROWS:
            f.severity = "info"
        return True
    if kind == "column_type":
        info = facts.tables.get(table or "")
        column = fact.get("column")
        if info is None or column not in info.columns:
            return True
        if column in info.pk:
            hit.escalation = Escalation(
                rule="primary-key-change",
                reason=f"{table}.{column} is part of the primary key and its type changes.",
                evidence={"table": table, "column": column, "db_type": info.columns[column]},
            )
            f.severity = "error"
            return True
        if hit.data.get("old_type") is None and _db_cast_safe(info.columns[column], hit.data.get("new_type", "")):
            return False  # widening, verified against the live column type
        _note(hit, f"The column is {info.columns[column]} in the target database.")
        return True
    if kind == "index_on":
        info = facts.tables.get(table or "")
        cols = fact.get("columns") or []
        return not (info is not None and any(ix[: len(cols)] == cols for ix in info.indexes))
    return True
