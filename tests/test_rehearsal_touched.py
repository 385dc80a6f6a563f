"""Which tables a rehearsal step re-reads: the tables its operations name, not all of them.

The savepoint a probed operation runs under on PostgreSQL is ours, not the migration's raw SQL: it
must not make the step count as "any table may have changed" (which re-reflects and re-reads every
table after every step). Raw SQL through the connection still does."""

from __future__ import annotations

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.operations.base import AbstractOperations
from sqlalchemy import Column, Integer, create_engine, event, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.worker.ops.roundtrip import _patch_invoke, _State
from alembic_mcp.tools.worker.protocol import RoundtripArgs


def _step(pg_url, migration):
    """Run ``migration(op, conn)`` as a rehearsal step; the step's touched tables and the statements sent."""
    engine = create_engine(pg_url, poolclass=NullPool)
    state = _State(RoundtripArgs(revisions=["r1"]), pg_url)
    statements: list[str] = []
    original = _patch_invoke(state)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE kids (id INTEGER PRIMARY KEY)"))
            conn.execute(text("CREATE TABLE toys (id INTEGER PRIMARY KEY)"))
            conn.commit()
            event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
            event.listen(conn, "before_cursor_execute", state.on_statement)
            op = Operations(MigrationContext.configure(conn))
            conn.begin()  # a step runs in its own transaction
            state.in_step = True
            migration(op, conn)
            state.in_step = False
            conn.rollback()
    finally:
        AbstractOperations.invoke = original  # type: ignore[method-assign]
        engine.dispose()
    return state.touched, statements


def test_probed_operation_touches_only_its_table(pg_url):
    age = Column("age", Integer(), nullable=False, server_default="0")  # existing rows can refuse it
    touched, statements = _step(pg_url, lambda op, conn: op.add_column("kids", age))
    assert any(s.startswith("SAVEPOINT") for s in statements)  # the operation ran under the probe savepoint
    assert not any(s.startswith("RELEASE") for s in statements)  # left to the step's end: no round trip
    assert touched == {"kids"}


def test_the_failing_operation_is_probed_at_its_own_savepoint(pg_url):
    """The savepoints are never released: the probe of a failing operation must roll back to the
    savepoint set right before it (the column the earlier operation added is still there), not to an
    earlier operation's savepoint of the same name."""
    engine = create_engine(pg_url, poolclass=NullPool)
    state = _State(RoundtripArgs(revisions=["r1"]), pg_url)
    original = _patch_invoke(state)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE kids (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO kids (id) VALUES (1), (2)"))
            conn.commit()
            op = Operations(MigrationContext.configure(conn))
            conn.begin()
            state.in_step = True
            op.add_column("kids", Column("age", Integer()))
            try:
                op.alter_column("kids", "age", nullable=False)
            except Exception:
                pass
            state.in_step = False
            conn.rollback()
    finally:
        AbstractOperations.invoke = original  # type: ignore[method-assign]
        engine.dispose()
    assert state.failed_op is not None and state.failed_op["op"] == "AlterColumnOp"
    facts = state.statement_facts
    assert facts is not None and "probe_error" not in facts, facts
    assert facts["as_of"].startswith("the failing statement")
    assert facts.get("violating_rows") == 2, facts


@pytest.mark.parametrize(
    ("column", "probed"),
    [
        (Column("age", Integer()), False),
        (Column("age", Integer(), unique=True), True),
        (Column("age", Integer(), server_default="1"), True),
        (Column("age", Integer(), nullable=False), True),
    ],
)
def test_a_column_rows_take_as_null_runs_without_savepoint(pg_url, column, probed):
    """A nullable column without default, constraint or user type cannot fail on rows: no probe needed."""
    touched, statements = _step(pg_url, lambda op, conn: op.add_column("kids", column))
    assert any(s.startswith("SAVEPOINT") for s in statements) is probed
    assert touched == {"kids"}


def test_raw_sql_in_a_step_touches_every_table(pg_url):
    def migration(op, conn):
        op.add_column("kids", Column("age", Integer()))
        conn.execute(text("INSERT INTO toys (id) VALUES (1)"))

    touched, _ = _step(pg_url, migration)
    assert touched is None
