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
from alembic_mcp.tools.worker.ops.snapshot import (
    Snapshot,
    catalog_only,
    pg_catalog_execute,
    pg_catalog_prepared,
    take_snapshot,
)

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
    layouts = foreseen or {}  # given whenever the message was sent
    fresh = {t: d for t, d in guessed.items() if t in snap["tables"] and _same_layout(snap["tables"][t], layouts[t])}
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
    """The psycopg 3 connection under ``conn`` when it would begin a transaction with a plain BEGIN, none
    is open (so the reading may send that BEGIN itself, in its own message) and it prepares no statement of
    its own (the rehearsal's connection, ``roundtrip._scratch_session``), else None."""
    if conn.dialect.name != "postgresql" or conn.in_transaction():
        return None
    proxied = conn.connection
    raw: Any = getattr(proxied, "dbapi_connection", None) or getattr(proxied, "connection", None)
    module = type(raw).__module__
    if module != "psycopg" and not module.startswith("psycopg."):
        return None
    plain = raw.isolation_level is None and raw.read_only is None and raw.deferrable is None
    idle = raw.info.transaction_status.name == "IDLE"  # the driver's own enum (psycopg is not imported here)
    # a connection that prepares its own statements runs DEALLOCATE ALL after each DROP or ALTER: ours too
    unprepared = raw.prepare_threshold is None
    return raw if plain and idle and unprepared and not raw.autocommit and not raw.closed else None


def _together(
    conn: Connection,
    snap_before: Snapshot,
    data_before: dict[str, TableData],
    tables: set[str] | None,
    relations: dict[int, dict[str, Any]] | None,
    foreseen: Layouts,
) -> tuple[list[Any], dict[str, TableData]] | None:
    """Catalog rows and the checksums of the tables foreseen to be read, from one message that also begins
    the transaction (psycopg would send its BEGIN alone) and runs the catalog query prepared in this
    session; None when that cannot be done here or the forecast did not fit the database (nothing is
    left of the attempt)."""
    raw = _psycopg3(conn)
    if raw is None:
        return None
    session = (id(raw), raw.info.backend_pid)
    statements = [] if session in _PREPARED_IN else [pg_catalog_prepared(_CATALOG_STATEMENT)]
    statements.append("BEGIN")
    statements.append(
        pg_catalog_execute(_CATALOG_STATEMENT, catalog_only(snap_before, tables), relations is not None, _literal)
    )
    guess = [t for t in tables_to_read({"tables": foreseen}, tables, data_before) if t in foreseen]
    guessed: dict[str, TableData] = {}
    for start in range(0, len(guess), PG_BATCH):
        query, _, empty = pg_checksum_query(conn, foreseen, guess[start : start + PG_BATCH], _literal)
        guessed.update(empty)
        if query:
            rows = "coalesce(json_agg(json_build_array(t, n, nn, s, r)), '[]')"
            statements.append(f"SELECT {rows} FROM ({query}) AS d(t, n, nn, s, r)")
    conn.begin()  # SQLAlchemy's transaction; the server's begins with the message
    results, failed = _send(raw, "; ".join(statements))
    _note_prepared(session, statements[0], results, failed)
    if failed is not None:  # a foreseen column or table is not there, or the prepared query is gone
        conn.rollback()
        return None
    encoding = raw.info.encoding
    tuples = [r for r in results if r.status == _TUPLES_OK]
    catalog = [_catalog_row(tuples[0], i, encoding) for i in range(tuples[0].ntuples)]
    for reply in tuples[1:]:
        guessed.update(pg_checksum_rows(foreseen, json.loads((reply.get_value(0, 0) or b"[]").decode(encoding))))
    return catalog, guessed


_CATALOG_STATEMENT = "alembic_mcp_catalog"
_PREPARED_IN: set[tuple[int, int]] = set()  # sessions (connection, backend) that hold it
_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK
_FATAL_ERROR = 7  # psycopg.pq.ExecStatus.FATAL_ERROR
_NUMBERS = (3, 5)  # the catalog row's oid and file node
_SQLSTATE = ord("C")  # libpq's PG_DIAG_SQLSTATE


def _literal(value: str) -> str:
    """``value`` as an SQL string literal; the E'' form reads the same whatever standard_conforming_strings is."""
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _send(raw: Any, message: str) -> tuple[list[Any], Any]:
    """Every result of ``message`` (several statements, one round trip) and the first failed one, if any."""
    pgconn = raw.pgconn
    pgconn.send_query(message.encode(raw.info.encoding))
    results, failed = [], None
    while (result := pgconn.get_result()) is not None:  # libpq waits for each; all must be read
        results.append(result)
        if result.status == _FATAL_ERROR and failed is None:
            failed = result
    return results, failed


def _note_prepared(session: tuple[int, int], first: str, results: list[Any], failed: Any) -> None:
    """Whether the session holds the prepared catalog query after this message (PREPARE is not undone by
    a rollback; a migration may have run DEALLOCATE or DISCARD)."""
    state = failed.error_field(_SQLSTATE) if failed is not None else None
    if state == b"26000":  # no such prepared statement
        _PREPARED_IN.discard(session)
    elif state == b"42P05" or (first.startswith("PREPARE") and results and results[0].status != _FATAL_ERROR):
        _PREPARED_IN.add(session)  # it exists (already, or from this message)


def _catalog_row(result: Any, row: int, encoding: str) -> list[Any]:
    """One row of the catalog query as the driver would give it (text, numbers for oid and file node)."""
    values: list[Any] = []
    for column in range(result.nfields):
        value = result.get_value(row, column)
        if value is not None:
            value = int(value) if column in _NUMBERS else value.decode(encoding)
        values.append(value)
    return values
