"""Inside the worker: one reading of the scratch database after a rehearsal step, its schema snapshot
and its data, in as few round trips as the database and driver allow.

The data checksums of a table need its columns and primary key, which the catalog reply gives. After
a step the rehearsal can foresee them: a downgrade should restore the schema before the upgrade, a
re-upgrade the schema after the upgrade, an upgrade the schema before it with the columns its
``add_column``/``drop_column`` operations name. On PostgreSQL with psycopg 3 the catalog query and
the checksum query built from that forecast go in one message. The forecast is then checked table by
table against the snapshot the catalog reply gives: a table whose columns (in order) and primary key
are as foreseen keeps its checksums, which are exactly what the query built from the snapshot would
have returned in this same state; any other table is read again. A forecast naming a column or table
that is not there fails the message; it is rolled back (it ran in a transaction of its own, before the
next step) and the reading is done the plain way. Elsewhere, the plain way: catalog, then data.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Connection

from alembic_mcp.tools.worker.ops.datacheck import (
    PG_BATCH,
    TableData,
    pg_checksum_query,
    pg_checksum_rows,
    table_data,
    tables_to_read,
)
from alembic_mcp.tools.worker.ops.snapshot import Snapshot, catalog_only, pg_catalog_sql, take_snapshot

Layouts = dict[str, dict[str, Any]]  # table -> at least its column_order and primary_key (a snapshot's tables)


def read_state(
    conn: Connection,
    version_table: str,
    previous: tuple[Snapshot, dict[str, TableData]],
    tables: set[str] | None,
    cache: dict[tuple, dict[str, Any]],
    relations: dict[int, dict[str, Any]] | None = None,
    foreseen: Layouts | None = None,
) -> tuple[Snapshot, dict[str, TableData]]:
    """The snapshot and data after a step that named ``tables`` (None: any table may have changed),
    from the reading before it (``previous``); ``foreseen``: the layouts the step should leave."""
    snap_before, data_before = previous
    sent = _together(conn, snap_before, data_before, tables, relations, foreseen) if foreseen is not None else None
    if sent is None:
        snap = take_snapshot(conn, version_table, previous=snap_before, tables=tables, cache=cache, relations=relations)
        return snap, table_data(conn, snap, tables=tables, previous=data_before)
    catalog_rows, guessed = sent
    snap = take_snapshot(
        conn,
        version_table,
        previous=snap_before,
        tables=tables,
        cache=cache,
        relations=relations,
        catalog_rows=catalog_rows,
    )
    fresh = {t: d for t, d in guessed.items() if t in snap["tables"] and _same_layout(snap["tables"][t], foreseen[t])}  # type: ignore[index]
    return snap, table_data(conn, snap, tables=tables, previous=data_before, fresh=fresh)


def foresee_upgrade(snapshot: Snapshot, ops: list[dict[str, Any]]) -> Layouts:
    """The layouts after an upgrade from ``snapshot`` that ran ``ops`` (as ``roundtrip._describe_op``
    records them): its columns added at the end, its columns dropped. Anything else is checked anyway."""
    layouts: Layouts = dict(snapshot["tables"])
    for op in ops:
        table, column = op.get("table"), op.get("column")
        if table not in layouts or not isinstance(column, str):
            continue
        order = list(layouts[table]["column_order"])
        if op.get("op") == "AddColumnOp" and column not in order:
            order.append(column)
        elif op.get("op") == "DropColumnOp" and column in order:
            order.remove(column)
        else:
            continue
        layouts[table] = {"column_order": order, "primary_key": layouts[table]["primary_key"]}
    return layouts


def _same_layout(table: dict[str, Any], foreseen: dict[str, Any]) -> bool:
    return (
        list(table["column_order"]) == list(foreseen["column_order"])
        and table["primary_key"]["columns"] == foreseen["primary_key"]["columns"]
    )


def _psycopg3(conn: Connection) -> Any:
    """The psycopg 3 connection under ``conn`` when it would begin a transaction with a plain BEGIN and
    none is open (so the reading may send that BEGIN itself, in its own message), else None."""
    if conn.dialect.name != "postgresql" or conn.in_transaction():
        return None
    proxied = conn.connection
    raw: Any = getattr(proxied, "dbapi_connection", None) or getattr(proxied, "connection", None)
    module = type(raw).__module__
    if module != "psycopg" and not module.startswith("psycopg."):
        return None
    from psycopg.pq import TransactionStatus

    plain = raw.isolation_level is None and raw.read_only is None and raw.deferrable is None
    idle = raw.pgconn.transaction_status == TransactionStatus.IDLE
    return raw if plain and idle and not raw.autocommit and not raw.closed else None


def _together(
    conn: Connection,
    snap_before: Snapshot,
    data_before: dict[str, TableData],
    tables: set[str] | None,
    relations: dict[int, dict[str, Any]] | None,
    foreseen: Layouts,
) -> tuple[list[Any], dict[str, TableData]] | None:
    """Catalog rows and the checksums of the tables foreseen to be read, from one message that also begins
    the transaction (psycopg would send its BEGIN alone); None when that cannot be done here or the
    forecast did not fit the database (nothing is left of the attempt)."""
    raw = _psycopg3(conn)
    if raw is None:
        return None
    from psycopg import pq
    from psycopg import sql as pgsql

    def literal(value: str) -> str:
        return pgsql.Literal(value).as_string(raw)

    guess = [t for t in tables_to_read({"tables": foreseen}, tables, data_before) if t in foreseen]
    catalog = pg_catalog_sql(catalog_only(snap_before, tables), relations is not None, literal)
    columns = [f"(SELECT coalesce(json_agg(json_build_array({_CATALOG_COLUMNS})), '[]') FROM ({catalog}) AS c)"]
    guessed: dict[str, TableData] = {}
    for start in range(0, len(guess), PG_BATCH):
        query, _, empty = pg_checksum_query(conn, foreseen, guess[start : start + PG_BATCH], literal)
        guessed.update(empty)
        if query:
            rows = "coalesce(json_agg(json_build_array(t, n, nn, s)), '[]')"
            columns.append(f"(SELECT {rows} FROM ({query}) AS d(t, n, nn, s))")
    conn.begin()  # SQLAlchemy's transaction; the server's begins with the message
    encoding = raw.info.encoding
    result = raw.pgconn.exec_(f"BEGIN; SELECT {', '.join(columns)}".encode(encoding))
    if result.status != pq.ExecStatus.TUPLES_OK:  # a foreseen column or table is not there
        conn.rollback()
        return None
    replies = [json.loads((result.get_value(0, i) or b"[]").decode(encoding)) for i in range(result.nfields)]
    for reply in replies[1:]:
        guessed.update(pg_checksum_rows(foreseen, reply))
    return replies[0], guessed


# JSON has no oid: as numbers, like the rows the driver gives
_CATALOG_COLUMNS = "c.kind, c.name, c.detail, c.oid::bigint, c.relkind, c.relfilenode::bigint, c.tablename"
