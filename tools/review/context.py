"""Layer 3 of review_migration: facts from the target database that turn "with data" into numbers.

Row counts of touched tables (dbinfo.row_counts), non-null counts of dropped columns, NULL counts for
set-not-null, orphan counts and sample ids for new foreign keys, duplicate counts for new unique
constraints, current column types, primary keys and indexes. PostgreSQL through asyncpg, the others
through SQLAlchemy in a thread (dbinfo.with_sync). Read-only: only SELECTs and catalogue queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.policy import WARN_MIGRATION_ROWS
from alembic_mcp.tools.core.urls import backend_of
from alembic_mcp.tools.core.verdict import Escalation
from alembic_mcp.tools.db.dbinfo import row_counts, sqlite_file_missing, with_pg, with_sync
from alembic_mcp.tools.review.reads import sql_reads
from alembic_mcp.tools.review.rules.facts import (
    ROW_QUERY_FACTS,
    BackfillRowsFact,
    ColumnTypeFact,
    DuplicatesFact,
    Fact,
    IndexOnFact,
    NonNullFact,
    NullsFact,
    OrphansFact,
    RowsFact,
    tables_of,
)
from alembic_mcp.tools.review.rules.registry import Hit

SAMPLE = 5
DUPLICATE_KEYS = 10  # rows of duplicated values named by their keys
FACT_TIMEOUT = "5s"  # statement_timeout of a duplicate check on PostgreSQL (read-only transaction)
Quote = Callable[[str], str]


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
    values: dict[Fact, Any] = field(default_factory=dict)  # query results per fact
    unchecked: dict[Fact, str] = field(default_factory=dict)  # facts not answered, and why
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


def _pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


PG_COLUMNS = """SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"""
PG_INDEXES = """SELECT i.indisprimary, array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) FROM pg_index i
WHERE i.indrelid = to_regclass($1)"""

# ---------------------------------------------------------------------------------------------- questions


def _count_sql(fact: NonNullFact | NullsFact, info: TableInfo, quote: Quote, ref: TableInfo | None) -> list[str] | None:
    if fact.table is None:  # the facts are only asked about named tables
        return None
    if fact.column not in info.columns:
        return None
    t, c = quote(fact.table), quote(fact.column)
    if isinstance(fact, NonNullFact):
        return [f"SELECT count({c}) FROM {t}"]
    return [f"SELECT count(*) - count({c}) FROM {t}"]


def _orphans_sql(fact: OrphansFact, info: TableInfo, quote: Quote, ref: TableInfo | None) -> list[str] | None:
    if fact.table is None:  # the facts are only asked about named tables
        return None
    cols, refcols = fact.columns, fact.ref_columns
    if not cols or not fact.ref_table or len(cols) != len(refcols) or ref is None:
        return None
    if any(c not in info.columns for c in cols) or any(c not in ref.columns for c in refcols):
        return None
    join = " AND ".join(f"p.{quote(rc)} = c.{quote(cc)}" for cc, rc in zip(cols, refcols, strict=True))
    notnull = " AND ".join(f"c.{quote(cc)} IS NOT NULL" for cc in cols)
    where = f"{notnull} AND NOT EXISTS (SELECT 1 FROM {quote(fact.ref_table)} p WHERE {join})"
    select = ", ".join(f"c.{quote(x)}" for x in (info.pk or cols))
    t = quote(fact.table)
    return [
        f"SELECT count(*) FROM {t} c WHERE {where}",
        f"SELECT {select} FROM {t} c WHERE {where} ORDER BY {select} LIMIT {SAMPLE}",
    ]


def _duplicates_sql(fact: DuplicatesFact, info: TableInfo, quote: Quote, ref: TableInfo | None) -> list[str] | None:
    """The duplicate groups' count, a sample of them, and the first rows of theirs (values and keys). An
    expression index's key is the migration's own SQL: every query is proven a read (sqlglot, pure functions
    only) or not asked."""
    if fact.table is None:  # the facts are only asked about named tables
        return None
    if fact.expressions:
        key = [f"({e})" for e in fact.expressions]
    elif fact.columns and all(c in info.columns for c in fact.columns):
        key = [quote(c) for c in fact.columns]
    else:
        return None
    q, t = ", ".join(key), quote(fact.table)
    notnull = " AND ".join(f"{k} IS NOT NULL" for k in key)
    grouped = f"FROM {t} WHERE {notnull} GROUP BY {q} HAVING count(*) > 1"
    row_key = ", ".join(quote(c) for c in info.pk)
    sqls = [
        f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT {q}, count(*) AS n {grouped}) d",
        f"SELECT {q}, count(*) AS n {grouped} ORDER BY n DESC, {q} LIMIT {SAMPLE}",
    ]
    if row_key:  # the rows by primary key (a table without one: the values alone)
        sqls.append(
            f"SELECT {q}, {row_key} FROM {t} WHERE ({q}) IN (SELECT {q} {grouped}) ORDER BY {q}, {row_key} "
            f"LIMIT {DUPLICATE_KEYS}"
        )
    return sqls if not fact.expressions or all(sql_reads(sql) for sql in sqls) else None


# The facts answered by queries over rows: their SQL (identifiers quoted, no values interpolated).
QUESTIONS: dict[type, Callable[..., list[str] | None]] = {
    NonNullFact: _count_sql,
    NullsFact: _count_sql,
    OrphansFact: _orphans_sql,
    DuplicatesFact: _duplicates_sql,
}


def _queries(fact: Fact, tables: dict[str, TableInfo], quote: Quote) -> list[str] | None:
    """SQL for one fact, or None when it needs no query or cannot be asked (table or column missing)."""
    question = QUESTIONS.get(type(fact))
    info = tables.get(fact.table or "")
    if question is None or info is None or fact.table is None:
        return None
    return question(fact, info, quote, tables.get(getattr(fact, "ref_table", None) or ""))


def _plain(value: Any) -> Any:
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------- asking


async def gather(url: URL, hits: list[Hit], tables: set[str], exact_limit: int, created_earlier: set[str]) -> Facts:
    """Ask the database everything the hits need. Raises DatabaseUnavailable when it cannot connect."""
    facts = Facts(reachable=True, created_earlier=set(created_earlier))
    wanted = {h.fact for h in hits if h.fact is not None}
    names = set(tables) | {name for fact in wanted for name in tables_of(fact)}
    facts.rows = await row_counts(url, sorted(names), exact_limit)
    present = sorted(t for t in names if t in facts.rows)
    if backend_of(url) == "postgresql":
        await with_pg(url, lambda conn: _ask_pg(conn, facts, present, wanted))
    elif not sqlite_file_missing(url):  # no database file: no tables, and opening it would create it
        await with_sync(url, lambda conn: _ask_sync(conn, facts, present, wanted), read_only=True)
    unasked = [f for f in wanted if isinstance(f, DuplicatesFact) and f.expressions and f not in facts.values]
    for fact in unasked:
        if fact.table in facts.tables:
            facts.unchecked.setdefault(fact, "its key is not proven a read-only expression")
    return facts


async def _ask_pg(conn, facts: Facts, present: list[str], wanted: set) -> None:
    version = conn.get_server_version()
    facts.server_version = f"{version.major}.{version.minor}"
    for table in present:
        columns = {r[0]: r[1] for r in await conn.fetch(PG_COLUMNS, _pg_quote(table))}
        pk: list[str] = []
        indexes: list[list[str]] = []
        for primary, indexed in await conn.fetch(PG_INDEXES, _pg_quote(table)):
            indexes.append(list(indexed))
            pk = list(indexed) if primary else pk
        facts.tables[table] = TableInfo(columns, pk, indexes)
    for fact in wanted:
        sqls = _queries(fact, facts.tables, _pg_quote)
        if sqls and isinstance(fact, DuplicatesFact):
            await _ask_pg_bounded(conn, facts, fact, sqls)
        elif sqls:
            facts.values[fact] = [[tuple(r) for r in await conn.fetch(sql)] for sql in sqls]


async def _ask_pg_bounded(conn, facts: Facts, fact: Fact, sqls: list[str]) -> None:
    """A GROUP BY over a whole table: in a read-only transaction with a statement_timeout; a timeout or an
    error leaves the fact unchecked (said so in the finding), never the review failed."""
    try:
        async with conn.transaction(readonly=True):
            await conn.execute(f"SET LOCAL statement_timeout = '{FACT_TIMEOUT}'")
            facts.values[fact] = [[tuple(r) for r in await conn.fetch(sql)] for sql in sqls]
    except Exception as exc:  # asyncpg's QueryCanceledError on the timeout, or the expression's own error
        facts.unchecked[fact] = f"the query failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"


def _ask_sync(conn, facts: Facts, present: list[str], wanted: set) -> None:
    inspector = inspect(conn)
    for table in present:
        columns = {c["name"]: str(c["type"]) for c in inspector.get_columns(table)}
        pk = list(inspector.get_pk_constraint(table).get("constrained_columns") or [])
        indexes = [list(i["column_names"]) for i in inspector.get_indexes(table)]
        indexes += [list(u["column_names"]) for u in inspector.get_unique_constraints(table)]
        facts.tables[table] = TableInfo(columns, pk, indexes + ([pk] if pk else []))
    for fact in wanted:
        sqls = _queries(fact, facts.tables, conn.dialect.identifier_preparer.quote)
        if not sqls:
            continue
        try:
            facts.values[fact] = [[tuple(r) for r in conn.execute(text(sql))] for sql in sqls]
        except Exception as exc:  # an expression the database refuses: the fact stays unchecked
            if not isinstance(fact, DuplicatesFact):
                raise
            conn.rollback()
            facts.unchecked[fact] = f"the query failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"


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
    return n is not None and int(n.group(2)) >= int(m.group(2))


def apply(facts: Facts, hits: list[Hit], large_rows: int) -> list[Hit]:
    """Turn assumptions into facts: adjust messages, severities and escalations. Returns the kept hits."""
    return [hit for hit in hits if _apply_one(facts, hit, large_rows)]


def _count_text(facts: Facts, table: str | None, rows: int) -> str:
    exact = facts.rows.get(table or "", {}).get("exact", True)
    return f"{rows:,} rows" if exact else f"about {rows:,} rows (planner estimate)"


def _note(hit: Hit, text_: str) -> None:
    hit.finding.message = hit.finding.message.rstrip() + " " + text_


def _empty_table(hit: Hit, table: str | None) -> None:
    hit.finding.severity = "warning"
    _note(hit, f"{table} is empty in the target database.")


@dataclass
class Answer:
    """One hit's fact with what the database said about it."""

    fact: Fact
    rows: int | None  # the table's row count; None when unknown
    values: list | None  # the fact's query results; None when not asked or not answerable


def _answer(facts: Facts, fact: Fact) -> Answer:
    values = facts.values.get(fact)
    if fact.table in facts.created_earlier and fact.table not in facts.rows and isinstance(fact, ROW_QUERY_FACTS):
        # Created by an earlier revision of this review: empty when this revision runs.
        values = [[(0, 0)], [], []] if isinstance(fact, DuplicatesFact) else [[(0,)], []]
    return Answer(fact, facts.table_rows(fact.table), values)


def _apply_one(facts: Facts, hit: Hit, large_rows: int) -> bool:
    """Dispatch the hit to the applier of its fact's type; False drops the hit (the fact cleared it)."""
    if hit.fact is None:
        return True
    if not facts.reachable:
        _note(hit, "(Database not checked: assumed to hold data.)")
        return True
    answer = _answer(facts, hit.fact)
    if answer.values is None and answer.rows is None and isinstance(hit.fact, NullsFact | OrphansFact | DuplicatesFact):
        _note(hit, f"({hit.fact.table} could not be checked in the target database: assumed to hold data.)")
        return True
    return APPLIERS[type(hit.fact)](facts, hit, answer, large_rows)


def _rows(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    table, rows, escalation = answer.fact.table, answer.rows, hit.escalation
    drops_table = escalation is not None and escalation.rule in ("drop-table-with-data", "destructive-data-change")
    if rows == 0:
        hit.finding.severity = "warning" if hit.finding.severity == "error" else hit.finding.severity
        if hit.data.get("loses"):  # no row to delete
            hit.finding.severity = "info"
        hit.escalation = None if drops_table else escalation
        _note(hit, f"{table} is empty in the target database.")
    elif rows is None:
        _note(hit, f"({table} not found in the target database: row count unknown, assumed to have rows.)")
    else:
        _note(hit, f"{table} has {_count_text(facts, table, rows)} in the target database.")
        if drops_table and escalation is not None:
            what = f"{hit.data['loses']}; it" if hit.data.get("loses") else f"Table {table} is dropped and"
            escalation.reason = f"{what} holds {rows:,} rows."
            escalation.evidence["rows"] = rows
        if hit.finding.rule == "add-column-required" and rows > large_rows:
            hit.escalation = Escalation(
                rule="large-data-migration",
                reason=f"The backfill for {table}.{hit.finding.column} touches {rows:,} rows "
                f"(large_migration_rows = {large_rows:,}).",
                evidence={"table": table, "rows": rows},
            )
    return True


def _non_null(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    table, column = answer.fact.table, hit.finding.column
    what = hit.data.get("loses") or f"{table}.{column} is dropped"
    if answer.values is None:
        _note(hit, "(The column is not in the target database, so it could not be checked: assumed to hold data.)")
        if hit.escalation:
            hit.escalation.reason = (
                f"{what}; it could not be checked in the target database, so it is assumed to hold data."
            )
        return True
    count = answer.values[0][0][0]
    if count == 0:
        hit.escalation = None
        if hit.data.get("loses"):  # nothing to overwrite: only the statement's shape is left to mention
            hit.finding.severity = "info"
        _note(hit, f"It holds no values in the target database ({answer.rows or 0:,} rows, all NULL).")
        return True
    _note(hit, f"It holds {count:,} non-null values in the target database.")
    if hit.escalation:
        joined = "; it holds" if hit.data.get("loses") else " and holds"
        hit.escalation.reason = f"{what}{joined} {count:,} non-null values."
        hit.escalation.evidence["non_null_values"] = count
    return True


def _nulls(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    table, rows = answer.fact.table, answer.rows
    count = answer.values[0][0][0] if answer.values is not None else None
    if count:
        _note(hit, f"{count:,} of {rows or 0:,} rows hold NULL: the ALTER fails until they are backfilled.")
    elif rows == 0:
        _empty_table(hit, table)
    elif count == 0:
        _note(hit, f"No NULLs today in {rows or 0:,} rows; the full-table scan under ACCESS EXCLUSIVE remains.")
    return True


def _orphans(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    fact, rows = answer.fact, answer.rows
    if answer.values is None:
        if rows == 0:
            _empty_table(hit, fact.table)
        return True
    count = answer.values[0][0][0]
    sample = [_plain(r[0] if len(r) == 1 else list(r)) for r in answer.values[1]]
    if count:
        hit.finding.severity = "error"
        _note(
            hit,
            f"{count:,} orphan row(s) in {fact.table} reference no {getattr(fact, 'ref_table', None)} row "
            f"(sample ids: {', '.join(str(s) for s in sample)}): validation fails.",
        )
        hit.data["orphans"] = {"count": count, "sample_ids": sample}
    elif rows == 0:
        _empty_table(hit, fact.table)
    else:
        _note(hit, f"No orphan rows today in {rows or 0:,} rows.")
        hit.data["orphans"] = {"count": 0, "sample_ids": []}
    return True


def _duplicates(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    fact = answer.fact
    if answer.values is None:
        why = facts.unchecked.get(fact)
        if why:
            _note(hit, f"(Duplicates were not checked in the target database: {why}.)")
        return True
    groups, dup_rows = answer.values[0][0]
    if not groups:
        rows = answer.rows
        small = rows is not None and rows <= large_rows
        _note(
            hit,
            f"No duplicates today; the build still holds ACCESS EXCLUSIVE while it reads {rows or 0:,} rows"
            + ("." if small else " (more than large_migration_rows): the table is blocked for the whole build."),
        )
        if small and hit.finding.severity == "error":  # only a short lock is left: a warning
            hit.finding.severity = "warning"
        return not hit.data.get("informational")
    width = len(getattr(fact, "expressions", ()) or getattr(fact, "columns", ()))
    sample = [_plain(list(r[:-1]) if len(r) > 2 else r[0]) for r in answer.values[1]]
    rows_of = _rows_by_value(answer.values[2] if len(answer.values) > 2 else [], width)
    info = facts.tables.get(fact.table or "")
    key_names = "/".join(info.pk) if info else ""
    listed = "; ".join(f"{value} in rows {key_names} {', '.join(keys)}" for value, keys in rows_of.items())
    hit.finding.severity = "error"
    _note(
        hit,
        f"{groups:,} duplicated value(s) ({dup_rows:,} rows) exist in the target database, e.g. "
        f"{listed or ', '.join(str(s) for s in sample)}: the unique build fails. A human decides which rows win "
        "(merge, change or delete the others) before this revision deploys.",
    )
    hit.data["duplicates"] = {"groups": groups, "rows": int(dup_rows), "sample": sample, "rows_by_value": rows_of}
    return True


def _rows_by_value(rows: list[tuple], width: int) -> dict[str, list[str]]:
    """The first rows of duplicated values grouped by value: ``{value: [row key, ...]}``."""
    grouped: dict[str, list[str]] = {}
    for row in rows:
        value = "/".join(str(v) for v in row[:width])
        grouped.setdefault(value, []).append("/".join(str(v) for v in row[width:]))
    return grouped


def _backfill_rows(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    table, rows = answer.fact.table, answer.rows
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
        hit.finding.severity = "info"
    return True


def _column_type(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    table, column = answer.fact.table, getattr(answer.fact, "column", None)
    info = facts.tables.get(table or "")
    if info is None or column not in info.columns:
        return True
    if column in info.pk:
        hit.escalation = Escalation(
            rule="primary-key-change",
            reason=f"{table}.{column} is part of the primary key and its type changes.",
            evidence={"table": table, "column": column, "db_type": info.columns[column]},
        )
        hit.finding.severity = "error"
        return True
    if hit.data.get("old_type") is None and _db_cast_safe(info.columns[column], hit.data.get("new_type", "")):
        return False  # widening, verified against the live column type
    _note(hit, f"The column is {info.columns[column]} in the target database.")
    return True


def _index_on(facts: Facts, hit: Hit, answer: Answer, large_rows: int) -> bool:
    info = facts.tables.get(answer.fact.table or "")
    columns = list(getattr(answer.fact, "columns", ()))
    return not (info is not None and any(ix[: len(columns)] == columns for ix in info.indexes))


# Each fact type's applier: (facts, hit, answer, large_rows) -> keep the hit.
APPLIERS: dict[type, Callable[[Facts, Hit, Answer, int], bool]] = {
    RowsFact: _rows,
    NonNullFact: _non_null,
    NullsFact: _nulls,
    OrphansFact: _orphans,
    DuplicatesFact: _duplicates,
    BackfillRowsFact: _backfill_rows,
    ColumnTypeFact: _column_type,
    IndexOnFact: _index_on,
}
