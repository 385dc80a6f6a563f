"""Seed data for rehearsals: ``seed_rows`` generated rows per table that satisfy the column types,
NOT NULL, unique and foreign-key constraints (parents are filled before their children).

Tables are reflected with SQLAlchemy; values come from the column type (integers count up past the
existing maximum, strings carry the row number so unique columns stay unique and fit the length,
enums cycle through their labels, foreign keys point at existing parent rows). A column a CHECK
constraint restricts to literals, or that a later revision converts to an enum type (``seed_hints``),
cycles through those values; a text column a revision parses as JSON, or named so, holds JSON
(``seed_json``). Autoincrement keys, identity and computed columns are left to the
database. A table that still refuses the rows (a check constraint the generator cannot guess) is
skipped with the database's reason.
"""

from __future__ import annotations

import datetime as dt
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, JSON, Enum, Interval, LargeBinary, MetaData, Table, func, inspect, select, text, types
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Connection

from alembic_mcp.tools.worker.ops.sa_compat import get_multi
from alembic_mcp.tools.worker.ops.seed_hints import Hints, check_values
from alembic_mcp.tools.worker.ops.seed_json import json_text_columns, json_text_value

_EPOCH_DATE = dt.date(2024, 1, 1)
_EPOCH_TS = dt.datetime(2024, 1, 1, 8, 0, 0)


@contextmanager
def unit(conn: Connection, external: bool) -> Iterator[None]:
    """One unit of work: a savepoint inside someone else's transaction, else commit/rollback."""
    if external:
        with conn.begin_nested():
            yield
        return
    if not hasattr(conn, "commit"):  # a 1.4 Connection not made in 2.0 style (env.py's own engine)
        with conn.begin():
            yield
        return
    try:
        yield
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _is_autoincrement_pk(table: Table, column) -> bool:
    pk = list(table.primary_key.columns)
    if len(pk) != 1 or pk[0] is not column:
        return False
    if not isinstance(column.type, types.Integer):
        return False
    return column.autoincrement in (True, "auto") or column.identity is not None


def _string_value(name: str, i: int, length: int | None) -> str:
    value = f"{name}_{i}"
    if length is not None and len(value) > length:
        value = f"s{i}" if len(f"s{i}") <= length else str(i)[-length:]
    return value


# SQLAlchemy 2 has a generic Uuid (PostgreSQL's UUID derives from it); 1.4 has only PostgreSQL's.
_UUID_TYPES = tuple(t for t in (getattr(types, "Uuid", None), PG_UUID) if t is not None)


def _value(table: Table, column, i: int, offsets: dict[str, int]) -> Any:
    t = column.type
    if isinstance(t, Enum) and t.enums:
        return t.enums[i % len(t.enums)]
    if isinstance(t, types.Boolean):
        return i % 2 == 0
    if isinstance(t, types.Integer):
        number = i + offsets.get(column.name, 0)
        return number if not isinstance(t, types.SmallInteger) else number % 32000
    if isinstance(t, types.Numeric):
        return Decimal(i) if not isinstance(t, types.Float) else float(i) + 0.5
    if isinstance(t, types.DateTime):
        return _EPOCH_TS + dt.timedelta(hours=i)
    if isinstance(t, types.Date):
        return _EPOCH_DATE + dt.timedelta(days=i)
    if isinstance(t, types.Time):
        return dt.time(i % 24, i % 60)
    if isinstance(t, Interval):
        return dt.timedelta(minutes=i)
    if isinstance(t, JSON):
        return {"seed": i}
    if isinstance(t, ARRAY):
        return []
    if isinstance(t, LargeBinary):
        return f"seed-{i}".encode()
    if isinstance(t, _UUID_TYPES):
        value: uuid.UUID = uuid.uuid5(uuid.NAMESPACE_OID, f"{table.name}.{column.name}.{i}")
        return value if t.as_uuid else str(value)
    if isinstance(t, types.String):
        return _string_value(column.name, i, t.length)
    try:
        python_type = t.python_type
    except NotImplementedError:
        python_type = str
    if python_type is str:
        return _string_value(column.name, i, None)
    return None


def _unique_column_sets(table: Table) -> list[set[str]]:
    sets = [{c.name for c in table.primary_key.columns}]
    for constraint in table.constraints:
        if constraint.__class__.__name__ == "UniqueConstraint":
            sets.append({c.name for c in constraint.columns})  # type: ignore[attr-defined]
    for index in table.indexes:
        if index.unique:
            sets.append({c.name for c in index.columns})
    return [s for s in sets if s]


def _allowed_values(table: Table, hints: Hints | None) -> dict[str, list[str]]:
    """Column -> the only values it may hold: its CHECK literals, or the enum a later cast expects."""
    allowed = check_values(table)
    for (table_name, column), labels in (hints.labels if hints else {}).items():
        if table_name == table.name and column in table.columns:
            allowed[column] = labels
    return allowed


def _foreign_key_values(
    conn: Connection, table: Table, count: int, unique_sets: list[set[str]]
) -> tuple[dict[str, list[Any]], int, str | None]:
    """Column -> the parent values its rows cycle through; the row count (a unique FK caps it at the
    parents' count); the reason the table cannot be seeded, if any."""
    fk_values: dict[str, list[Any]] = {}
    for fk in table.foreign_key_constraints:
        local = [c.name for c in fk.columns]
        remote = [e.column for e in fk.elements]
        parent = fk.referred_table
        nullable = all(c.nullable for c in fk.columns)
        if parent is table:
            if nullable:
                for name in local:
                    fk_values[name] = [None]
                continue
            return {}, count, f"NOT NULL self-referencing foreign key {fk.name or local}"
        parent_rows = conn.execute(select(*remote).where(*[r.isnot(None) for r in remote]).limit(max(count, 1))).all()
        if not parent_rows:
            if nullable:
                for name in local:
                    fk_values[name] = [None]
                continue
            return {}, count, f"its parent table {parent.name} has no rows to reference"
        if any(set(local) <= s for s in unique_sets):
            count = min(count, len(parent_rows))
        for pos, name in enumerate(local):
            fk_values[name] = [row[pos] for row in parent_rows]
    return fk_values, count, None


def seed_table(
    conn: Connection, table: Table, count: int, external: bool, hints: Hints | None = None
) -> tuple[int, str | None]:
    """Insert ``count`` rows into ``table``; returns (rows inserted, reason when skipped)."""
    allowed = _allowed_values(table, hints)
    json_text = json_text_columns(table, hints.json_columns if hints else set())
    unique_sets = _unique_column_sets(table)
    unique_cols = set().union(*unique_sets) if unique_sets else set()
    offsets: dict[str, int] = {}
    for column in table.columns:
        if column.name in unique_cols and isinstance(column.type, types.Integer):
            current = conn.execute(select(func.max(column))).scalar()
            offsets[column.name] = int(current or 0)  # rows count from 1: max + 1 onwards
    fk_values, count, reason = _foreign_key_values(conn, table, count, unique_sets)
    if reason:
        return 0, reason
    rows = []
    for i in range(1, count + 1):
        row: dict[str, Any] = {}
        for column in table.columns:
            if column.computed is not None or (column.identity is not None and column.primary_key):
                continue
            if _is_autoincrement_pk(table, column):
                continue
            if column.name in fk_values:
                values = fk_values[column.name]
                row[column.name] = values[(i - 1) % len(values)]
                continue
            if column.name in allowed:
                row[column.name] = allowed[column.name][(i - 1) % len(allowed[column.name])]
                continue
            if column.name in json_text:
                row[column.name] = json_text_value(column, i)
                continue
            value = _value(table, column, i, offsets)
            if value is None and not column.nullable and column.server_default is None:
                return 0, f"no generator for column {column.name} of type {column.type!r}"
            if value is not None or not column.nullable:
                row[column.name] = value
        rows.append(row)
    if not rows:
        return 0, None
    try:
        with unit(conn, external):
            conn.execute(table.insert(), rows)
            _advance_sequences(conn, table, [name for name in offsets if name in rows[0]])
    except Exception as exc:
        return 0, f"the database refused the rows: {str(exc).splitlines()[0][:300]}"
    return len(rows), None


def _advance_sequences(conn: Connection, table: Table, columns: list[str]) -> None:
    """A key the application draws from a sequence of its own, client-side (``Sequence("ab_user_id_seq")``:
    no server default, so the key was seeded explicitly), gets that sequence moved past the seeded keys, as
    real inserts through it would have left it (PostgreSQL; the sequence named ``<table>_<column>_seq``)."""
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer.quote
    for column in columns:
        sequence = quote(f"{table.name}_{column}_seq")
        if conn.execute(text("SELECT to_regclass(:name)"), {"name": sequence}).scalar() is None:
            continue
        conn.execute(
            text(f"SELECT setval(CAST(:name AS regclass), (SELECT max({quote(column)}) FROM {quote(table.name)}))"),
            {"name": sequence},
        )


def seed_database(
    conn: Connection,
    count: int,
    version_table: str = "alembic_version",
    external: bool = False,
    only: set[str] | None = None,
    hints: Hints | None = None,
) -> dict[str, Any]:
    """Seed every table (or those in ``only``), parents first.

    Returns ``{"tables": {name: rows}, "skipped": {name: reason}}``."""
    metadata = MetaData()
    names = [n for n in conn.dialect.get_table_names(conn) if n != version_table]
    if only is None:
        metadata.reflect(conn, only=names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cycles between tables: sorted_tables warns and guesses
            ordered = metadata.sorted_tables
    else:
        # the tables asked for and the tables they reference directly, reflected in one batch
        fks = get_multi(inspect(conn), "foreign_keys", names)
        parents = {table: {fk["referred_table"] for fk in found} for (_, table), found in fks.items()}
        targets = [t for t in names if t in only]
        wanted = set(targets) | {p for t in targets for p in parents.get(t, ()) if p in names}
        metadata.reflect(conn, only=sorted(wanted), resolve_fks=False)
        ordered = [metadata.tables[t] for t in _parents_first(targets, parents)]
    if conn.in_transaction() and not external:
        conn.commit()
    inserted: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for table in ordered:
        if count <= 0:
            break
        try:
            rows, reason = seed_table(conn, table, count, external, hints)
        except Exception as exc:  # e.g. a foreign key into another schema
            rows, reason = 0, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        if reason:
            skipped[table.name] = reason
        else:
            inserted[table.name] = rows
    if conn.in_transaction() and not external:
        conn.commit()
    return {"tables": inserted, "skipped": skipped}


def _parents_first(tables: list[str], parents: dict[str, set[str]]) -> list[str]:
    """``tables`` ordered so that a table comes after the tables (of the list) it references."""
    order: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(table: str) -> None:
        if table in placed or table in visiting:  # a cycle: keep the order found so far
            return
        visiting.add(table)
        for parent in sorted(parents.get(table, ())):
            if parent in tables and parent != table:
                place(parent)
        visiting.discard(table)
        placed.add(table)
        order.append(table)

    for table in tables:
        place(table)
    return order
