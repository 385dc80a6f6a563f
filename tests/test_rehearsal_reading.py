"""The reading after a rehearsal step on PostgreSQL: catalog and the checksums of the tables it foresees,
sent in one message with the transaction's BEGIN (``worker/ops/reading.py``).

Whatever the forecast, the reading must equal the plain one (catalog, then data from the snapshot): a
forecast that is right is reused, one that is wrong (columns in another order, a column or table that is
not there, a primary key that changed) is read again. Each case is a state a step can leave that the
forecast did not foresee."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.worker.ops import reading
from alembic_mcp.tools.worker.ops.datacheck import table_data
from alembic_mcp.tools.worker.ops.reading import foresee_upgrade, read_state
from alembic_mcp.tools.worker.ops.snapshot import take_snapshot

SCHEMA = [
    "CREATE TABLE parents (id INTEGER PRIMARY KEY, code VARCHAR(8) NOT NULL, score INTEGER)",
    "CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id), a TEXT, b TEXT)",
    "INSERT INTO parents VALUES (1, 'p3', 10), (2, 'p1', 20), (3, 'p2', NULL)",  # by code: another order
    "INSERT INTO kids VALUES (1, 1, 'a1', 'b1'), (2, 1, 'a2', NULL), (3, 2, NULL, 'b3')",
    # its name is written into the message as a literal
    """CREATE TABLE "it's\\odd" (id INTEGER PRIMARY KEY, v TEXT)""",
    """INSERT INTO "it's\\odd" VALUES (1, 'x'), (2, NULL)""",
]

# (what the step did, the tables it named): states the forecast (the schema before the step) gets wrong
STEPS = {
    "nothing changed": ([], {"kids"}),
    "values changed": (["UPDATE kids SET a = 'x' WHERE id = 2"], {"kids"}),
    "values changed in a table with an odd name": (["""UPDATE "it's\\odd" SET v = 'y'"""], {"it's\\odd"}),
    # the same columns in another order: the forecast's query runs, its checksums are not taken (they
    # would be right here; the check is stricter than needed: without a primary key, rows are ordered
    # by the columns in their order)
    "columns reordered": (
        [
            "ALTER TABLE kids RENAME COLUMN a TO tmp",
            "ALTER TABLE kids RENAME COLUMN b TO a",
            "ALTER TABLE kids RENAME COLUMN tmp TO b",
        ],
        {"kids"},
    ),
    "column dropped": (["ALTER TABLE kids DROP COLUMN b"], {"kids"}),
    "column added": (["ALTER TABLE kids ADD COLUMN c INTEGER DEFAULT 7"], {"kids"}),
    "table dropped": (["DROP TABLE kids"], {"kids"}),
    "table created": (
        ["CREATE TABLE toys (id INTEGER PRIMARY KEY, kid INTEGER)", "INSERT INTO toys VALUES (1, 1)"],
        None,
    ),
    # the order rows are hashed in follows the primary key
    "primary key changed": (
        ["ALTER TABLE parents DROP CONSTRAINT parents_pkey CASCADE", "ALTER TABLE parents ADD PRIMARY KEY (code)"],
        {"parents", "kids"},
    ),
}


def _engine(pg_url, **connect_args):
    """The rehearsal's connection prepares no statement of its own (``roundtrip._scratch_session``)."""
    return create_engine(pg_url, poolclass=NullPool, connect_args={"prepare_threshold": None, **connect_args})


def _plain(conn, before, tables, relations):
    snap = take_snapshot(conn, previous=before[0], tables=tables, cache={}, relations=relations)
    return snap, table_data(conn, snap, tables=tables, previous=before[1])


@pytest.fixture
def how_read(monkeypatch) -> list[str]:
    """Each reading, in order: "together" (one message) or "plain" (the forecast did not hold or was not tried)."""
    sent: list[str] = []
    original = reading._together

    def spy(*args, **kwargs):
        got = original(*args, **kwargs)
        sent.append("together" if got is not None else "plain")
        return got

    monkeypatch.setattr(reading, "_together", spy)
    return sent


@pytest.mark.parametrize("step", list(STEPS))
def test_the_reading_equals_the_plain_one(pg_url, step, how_read):
    statements, named = STEPS[step]
    engine = _engine(pg_url)
    sent = how_read
    try:
        with engine.connect() as conn:
            for ddl in SCHEMA:
                conn.execute(text(ddl))
            conn.commit()
            before_snap = take_snapshot(conn)
            before = (before_snap, table_data(conn, before_snap))
            conn.commit()
            for ddl in statements:
                conn.execute(text(ddl))
            conn.commit()
            queries: list[str] = []
            event.listen(conn, "before_cursor_execute", lambda *a: queries.append(a[2]))
            relations: dict = {}
            snap, data = read_state(
                conn, "alembic_version", before, named, {}, relations=relations, foreseen=before_snap["tables"]
            )
            reread = [q for q in queries if "count(*)" in q]  # checksums read after the message
            conn.commit()
            expected_relations: dict = {}
            expected_snap, expected_data = _plain(conn, before, named, expected_relations)
            conn.commit()
    finally:
        engine.dispose()
    assert snap == expected_snap
    assert data == expected_data
    assert relations == expected_relations and relations  # the lock trace's relations: oids, file nodes
    assert data.keys() == snap["tables"].keys()
    if step in (
        "nothing changed",
        "values changed",
        "values changed in a table with an odd name",
    ):  # foreseen right: nothing read after the message
        assert sent == ["together"] and not reread
    if step == "columns reordered":  # the same columns: the forecast ran, but its checksums were not taken
        assert sent == ["together"] and reread
        assert data["kids"]["columns"]["a"] != before[1]["kids"]["columns"]["a"]


def test_a_wrong_forecast_leaves_nothing_behind(pg_url):
    """A forecast naming a column that is gone fails the message: rolled back, the connection usable and
    outside any transaction, the reading done the plain way."""
    engine = _engine(pg_url)
    with engine.connect() as conn:
        for ddl in SCHEMA:
            conn.execute(text(ddl))
        conn.commit()
        snap = take_snapshot(conn)
        before = (snap, table_data(conn, snap))
        conn.commit()
        conn.execute(text("ALTER TABLE kids DROP COLUMN a"))
        conn.commit()
        assert reading._together(conn, snap, before[1], {"kids"}, None, snap["tables"]) is None
        assert not conn.in_transaction()
        assert conn.execute(text("SELECT count(*) FROM kids")).scalar() == 3
        conn.rollback()
    engine.dispose()


def test_an_upgrade_is_foreseen_from_its_column_operations():
    snap = {
        "tables": {
            "kids": {"column_order": ["id", "a", "b"], "primary_key": {"columns": ["id"]}},
            "toys": {"column_order": ["id"], "primary_key": {"columns": ["id"]}},
        }
    }
    kept = copy.deepcopy(snap)
    ops = [
        {"op": "AddColumnOp", "table": "kids", "column": "c"},
        {"op": "DropColumnOp", "table": "kids", "column": "a"},
        {"op": "CreateIndexOp", "table": "toys", "name": "ix"},
        {"op": "AddColumnOp", "table": "elsewhere", "column": "x"},
    ]
    layouts = foresee_upgrade(snap, ops)
    assert layouts["kids"]["column_order"] == ["id", "b", "c"]
    assert layouts["toys"] is snap["tables"]["toys"]
    assert "elsewhere" not in layouts
    assert snap == kept  # the snapshot it starts from is not changed


def test_the_prepared_catalog_query_comes_back_after_deallocate(pg_url, how_read):
    """A migration may run DEALLOCATE ALL (or DISCARD ALL): the next reading is done the plain way, the one
    after prepares the catalog query again, and each equals the plain reading."""
    engine = _engine(pg_url)
    sent = how_read
    try:
        with engine.connect() as conn:
            for ddl in SCHEMA:
                conn.execute(text(ddl))
            conn.commit()
            snap = take_snapshot(conn)
            state = (snap, table_data(conn, snap))
            conn.commit()
            for step in ("UPDATE kids SET a = 'y'", "DEALLOCATE ALL", "UPDATE kids SET b = 'z'", "SELECT 1"):
                conn.execute(text(step))
                conn.commit()
                state = read_state(conn, "alembic_version", state, {"kids"}, {}, foreseen=snap["tables"])
                conn.commit()
                assert state == _plain(conn, state, {"kids"}, {}), step
                conn.commit()
    finally:
        engine.dispose()
    assert sent == ["together", "plain", "together", "together"]


def test_a_connection_that_prepares_its_own_statements_reads_the_plain_way(pg_url):
    """psycopg runs DEALLOCATE ALL after a DROP or ALTER when it prepared statements itself (env.py's own
    engine): the prepared catalog query would be gone at every other step."""
    engine = _engine(pg_url, prepare_threshold=5)
    with engine.connect() as conn:
        for ddl in SCHEMA:
            conn.execute(text(ddl))
        conn.commit()
        snap = take_snapshot(conn)
        before = (snap, table_data(conn, snap))
        conn.commit()
        assert reading._together(conn, snap, before[1], {"kids"}, None, snap["tables"]) is None
        assert read_state(conn, "alembic_version", before, {"kids"}, {}, foreseen=snap["tables"]) == before
        conn.rollback()
    engine.dispose()
