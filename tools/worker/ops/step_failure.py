"""Inside the worker: a failed rehearsal step, from the failing statement to where the rehearsal goes on.

- At the statement: on PostgreSQL each schema operation that can meet bad rows runs under a savepoint;
  when it raises, the savepoint is rolled back and the violating rows are read right there, as the
  statement met them (after the step's earlier statements, e.g. a backfill), before Alembic rolls the
  step back.
- ``diagnose``: mode (the database's error code, refined by what the migration did), the operation
  that raised, the innermost frame in the migration files, the facts, and what the step left behind.
- ``next_plan``: how the next env.py run starts. A failure on seed rows is first re-run without them
  (rebuilt without rows); if it passes, it is a seed limitation when only generated values can cause it
  (``recovery.seed_only``), else the migration's failure on values real rows can hold.
  After a real failure the rehearsal continues with the next revision: at once when the failed step
  was rolled back and left the database at that revision, else after rebuilding the schema from
  base. A failed upgrade ends it: later revisions build on it.
"""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import text

from alembic_mcp.tools.worker.ops.failure_probes import classify, error_codes, probe
from alembic_mcp.tools.worker.ops.failure_site import (
    calling_migration_frame,
    failed_in_migration_code,
    migration_frame,
    raised_by_migration,
    refine_mode,
)
from alembic_mcp.tools.worker.ops.recovery import seed_may_cause, wipe
from alembic_mcp.tools.worker.ops.rehearsal import RunPlan, record_failure
from alembic_mcp.tools.worker.ops.sa_compat import with_sync_connection
from alembic_mcp.tools.worker.ops.snapshot import diff_snapshots, take_snapshot
from alembic_mcp.tools.worker.ops.starting_schema import apply_starting_schema
from alembic_mcp.tools.worker.protocol import describe_exception

SAVEPOINT = "alembic_mcp_statement"
# operations that can fail on existing rows: their failures get the violating rows
_PROBED_OPS = frozenset(
    {
        "AddColumnOp",
        "AlterColumnOp",
        "CreateForeignKeyOp",
        "CreateUniqueConstraintOp",
        "CreateIndexOp",
        "CreatePrimaryKeyOp",
        "CreateCheckConstraintOp",
    }
)


# ------------------------------------------------------------------ at the failing statement


def open_savepoint(state: Any, operations: Any, operation: Any) -> Any:
    """A savepoint before ``operation`` on PostgreSQL inside a step's transaction; the connection, or None.

    It is never released (a RELEASE would be one more round trip per operation): the next probed operation
    sets a savepoint of the same name on top, and ``ROLLBACK TO`` returns to the most recent one, the failing
    operation's own. All of them end with the step's transaction."""
    if not state.in_step or state.op_depth != 1 or type(operation).__name__ not in _PROBED_OPS:
        return None
    if _meets_rows_as_null(operation):
        return None
    ctx = operations.migration_context
    conn = getattr(ctx, "connection", None)
    if conn is None or ctx.as_sql or conn.dialect.name != "postgresql" or not conn.in_transaction():
        return None
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return None  # inside an autocommit block there is no transaction to set a savepoint in
    conn.exec_driver_sql(f"SAVEPOINT {SAVEPOINT}")
    return conn


def ran_in_autocommit(operations: Any) -> dict[str, bool]:
    """``{"autocommit": True}`` when the operation runs in an autocommit block (nothing rolls it back)."""
    conn = getattr(operations.migration_context, "connection", None)
    if conn is None or operations.migration_context.as_sql:
        return {}
    return {"autocommit": True} if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT" else {}


def _meets_rows_as_null(operation: Any) -> bool:
    """An added column every existing row takes as NULL, with nothing that can refuse a NULL: nullable, no
    server default, not computed nor identity, no constraint, foreign key, unique or index of its own, and a
    type of SQLAlchemy's own (a domain or a user type could be NOT NULL). No row can make it fail, so there
    are no violating rows to read at its statement and it needs no savepoint (one round trip less)."""
    if type(operation).__name__ != "AddColumnOp":
        return False
    column = operation.column
    kind = type(column.type)
    return bool(
        column.nullable
        and column.server_default is None
        and getattr(column, "computed", None) is None
        and getattr(column, "identity", None) is None
        and not column.constraints
        and not column.foreign_keys
        and not column.unique
        and not column.index
        and kind.__module__.startswith("sqlalchemy.")
        and kind.__name__ != "DOMAIN"
    )


def operation_failed(state: Any, described: dict[str, Any], exc: BaseException, conn: Any) -> None:
    """Remember the innermost operation that raised; read the violating rows at its statement."""
    if state.failed_op is not None or not state.in_step:
        return
    state.failed_op = described
    state.failed_op_exc = exc
    state.failed_op_site = calling_migration_frame(state.versions_dirs)
    if conn is None:
        return
    try:
        conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        message = str(exc)
        facts = probe(conn, classify(exc, message), message, [described])
    except Exception:  # the evidence is best effort; the step is rolled back anyway
        return
    if facts and "probe_error" not in facts:
        state.statement_facts = {**facts, "as_of": "the failing statement (rows as it met them)"}


# ------------------------------------------------------------------ diagnosis


def diagnose(state: Any, exc: BaseException) -> dict[str, Any]:
    info = describe_exception(exc)
    info.pop("traceback", None)
    message = info["message"]
    sqlstate, errno = error_codes(exc)
    deliberate = raised_by_migration(exc, state.versions_dirs)
    code_error = failed_in_migration_code(exc, state.versions_dirs)
    mode = refine_mode(classify(exc, message, sqlstate, errno), exc, message, state.failed_op, deliberate, code_error)
    # the migration's own line; never a frame inside SQLAlchemy, the driver or the project's venv
    site = migration_frame(exc, state.versions_dirs)
    if mode == "swallowed-error":
        site, message = _swallowed(state, exc, message, site)
    failure: dict[str, Any] = {
        "revision": state.revision,
        "phase": state.phase,
        "mode": mode,
        "error_type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "error": message[:2000],
        "file": site[0] if site else None,
        "line": site[1] if site else None,
        "sqlstate": sqlstate,
        "errno": errno,
        "operation": state.failed_op,
        "operations": state.ops[-5:],
        "applied": [],
        "facts": dict(state.statement_facts or {}),
        "seeded": state.seeded,
    }
    _look_after(state, failure, message)
    record = state.records.get(state.revision or "", {})
    if state.phase == "re-upgrade" and record.get("downgrade_ops") == 0 and not record.get("downgrade_sql"):
        failure["facts"]["downgrade_empty"] = True  # it ran no operation and no SQL
    return failure


def _swallowed(
    state: Any, exc: BaseException, message: str, site: tuple[str, int] | None
) -> tuple[tuple[str, int] | None, str]:
    """The site and message of a failure on an aborted transaction: at the operation whose error the
    migration caught, if an op.* call raised, and naming the error it caught."""
    caught_op = state.failed_op_exc is not None and not _chain_holds(exc, state.failed_op_exc)
    if caught_op:
        caught = state.failed_op_exc
        first = f"{type(caught).__name__}: {str(caught).splitlines()[0][:500] if str(caught) else ''}"
        site = state.failed_op_site or site
    else:
        first = state.step_db_error or "an error of an earlier statement (not an op.* call)"
    return site, f"{message.splitlines()[0]} (after the migration caught {first})"


def _chain_holds(exc: BaseException | None, wanted: BaseException) -> bool:
    """``wanted`` is ``exc`` or what it was raised from."""
    seen = 0
    while exc is not None and seen < 20:
        if exc is wanted:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _look_after(state: Any, failure: dict[str, Any], message: str) -> None:
    """What the failed step left behind, and the facts if the statement could not be probed."""
    pre = state.pre_snapshot
    ops = [state.failed_op] if state.failed_op else state.ops

    def look(conn: Any) -> None:
        if not failure["facts"]:
            failure["facts"] = probe(conn, failure["mode"], message, ops)
        left = left_index(conn, state.failed_op, message)
        if left:
            failure["facts"]["index_left"] = left
        if pre is not None:
            after = take_snapshot(conn, state.version_table, cache=state.snap_cache)
            failure["applied"] = [d["message"] for d in diff_snapshots(pre, after, "after the failed step")]
        conn.rollback()

    try:
        with_sync_connection(state.url, look)
    except Exception as probe_exc:
        failure["facts"] = {"probe_error": f"{type(probe_exc).__name__}: {str(probe_exc).splitlines()[0][:200]}"}


_CONCURRENT_INDEX = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)", re.I)


def left_index(conn: Any, op: dict[str, Any] | None, message: str) -> dict[str, Any] | None:
    """The index a failed CREATE INDEX CONCURRENTLY in an autocommit block left (PostgreSQL keeps it,
    INVALID: nothing rolls it back), as pg_index shows it: name, table and indisvalid; None when none."""
    if not op or not op.get("autocommit") or conn.dialect.name != "postgresql":
        return None
    found = _CONCURRENT_INDEX.search(message)
    name = op.get("name") if op.get("op") == "CreateIndexOp" else (found.group(1) if found else None)
    if not name:
        return None
    row = conn.execute(
        text("SELECT indrelid::regclass::text, indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    ).first()
    return None if row is None else {"name": name, "table": row[0], "valid": bool(row[1])}


# ------------------------------------------------------------------ where the rehearsal goes on


def next_plan(state: Any, failure: dict[str, Any], script: Any) -> RunPlan | None:
    """How the next env.py run starts after ``failure``; None when the rehearsal stops here."""
    if failure["phase"] == "prepare":
        record_failure(state, failure)
        state.stopped = {"revision": failure["revision"], "reason": "preparing the scratch database failed"}
        return None
    retried, state.retry = state.retry, None
    if retried is None and state.seeded and seed_may_cause(failure):
        state.retry = failure  # judged when the re-run passes (rehearsal.step_done) or fails (below)
        return _back_before(state, failure, script)
    if retried is not None:  # reported as the history's own rows meet it; the seeded run's evidence kept
        failure["reproduced_without_seed_rows"] = True
        if retried.get("facts"):
            failure["facts"]["with_seed_rows"] = retried["facts"]
    record_failure(state, failure)
    return _go_on(state, failure)


def _rolled_back(state: Any, failure: dict[str, Any]) -> bool:
    """The failed step left nothing behind: the database is where the step started."""
    return not failure["applied"] and not state.external


def _back_before(state: Any, failure: dict[str, Any], script: Any) -> RunPlan:
    """The state before the failed step as the history alone makes it (rebuilt from base, no seed row,
    rows the migrations insert kept): the step is run again from there. A re-upgrade is preceded by
    the upgrade and downgrade it follows."""
    rev = failure["revision"]
    state.resume = "downgrade" if failure["phase"] == "downgrade" else "upgrade"
    before = [rev] if failure["phase"] == "downgrade" else _parents(script, rev)
    return _rebuild(state, before, seed=False, why=f"re-running {rev} ({failure['phase']}) without seed rows")


def _go_on(state: Any, failure: dict[str, Any]) -> RunPlan | None:
    rev, phase = failure["revision"], failure["phase"]
    if phase == "upgrade":
        if state.pos + 1 < len(state.args.revisions):
            reason = f"the upgrade of {rev} failed; the revisions after it build on it"
            state.stopped = {"revision": rev, "reason": reason}
        return None
    state.pos += 1
    state.resume = "upgrade"
    if state.pos >= len(state.args.revisions):
        return None
    if state.deadline is not None and time.monotonic() > state.deadline:
        state.stopped = {"revision": state.args.revisions[state.pos], "reason": "the time budget (timeout_s) ran out"}
        return None
    if phase == "downgrade" and _rolled_back(state, failure):
        # the downgrade was rolled back: the database is at rev, rows and all; the tables rev created get
        # the rows its re-upgrade would have given them
        created = set(state.up[0]["tables"]) - set(state.base[0]["tables"]) if state.seeded else set()
        return RunPlan(seed_tables=sorted(created))
    seed = bool(state.args.seed_rows)
    return _rebuild(state, [rev], seed=seed, why=f"{rev} failed in {phase}")


def _rebuild(state: Any, to: list[str], seed: bool, why: str) -> RunPlan:
    """Drop everything; the next run upgrades from base (after the bootstrap) to ``to``."""
    _on_connection(state, wipe)
    if state.args.bootstrap:
        apply_starting_schema(state.url, state.args.bootstrap, state.project_dir)
    state.seeded = False
    state.result["rebuilds"].append({"to": to, "seeded": seed, "why": why})
    return RunPlan(prepare="upgrade", to=to, seed=seed, rebuilt=True)


def _parents(script: Any, rev: str) -> list[str]:
    down = script.get_revision(rev).down_revision
    if down is None:
        return []
    return list(down) if isinstance(down, (tuple, list)) else [down]


def _on_connection(state: Any, fn: Any) -> None:
    if state.connection is not None:
        state.connection.rollback()
        fn(state.connection)
    else:
        with_sync_connection(state.url, fn)
