"""Worker op ``roundtrip``: upgrade, downgrade, upgrade every revision on a scratch database and
check schema and data after each step.

An env.py run drives the steps: a custom migration function (``rehearsal.py``) hands Alembic one
``RevisionStep`` at a time (prepare to ``from_revision``, then up / down / up per revision) and
checks the database between steps on env.py's own connection. ``transaction_per_migration`` is
forced so each step commits on its own (a failure keeps the steps before it, and PostgreSQL locks
are per step). A failed step ends that run; ``step_failure.py`` diagnoses it and says how the next
run starts (re-run without seed rows, go on with the next revision, rebuild from base), so one call
rehearses the whole range and reports every failure, within ``budget_s``. Every ``op.*`` call is
recorded through ``Operations.invoke``: the tables it names are the only ones re-reflected and
re-read after the step (any raw SQL means: all tables), and the one that raised is the failed
operation.

Args: ``revisions`` (ids, upgrade order), ``prepare`` ("upgrade"|"downgrade"|"none"),
``from_revision`` (ids or []), ``seed_rows``, ``trace_locks``, ``check_drift``, ``progress_path``,
``budget_s`` (0: no limit).
"""

from __future__ import annotations

import json
import time
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.pool import NullPool

try:  # the base class of Operations and BatchOperations (Alembic >= 1.11)
    from alembic.operations.base import AbstractOperations
except ImportError:  # Alembic 1.9/1.10: Operations is the base
    from alembic.operations.base import Operations as AbstractOperations  # type: ignore[assignment,unused-ignore]  # only on old Alembic

from alembic_mcp.tools.worker.ops.alembic_env import config_from_spec, is_async_driver
from alembic_mcp.tools.worker.ops.drift_values import same_default, value_text
from alembic_mcp.tools.worker.ops.failure_site import versions_dirs
from alembic_mcp.tools.worker.ops.rehearsal import RunPlan, migrations
from alembic_mcp.tools.worker.ops.sa_compat import new_engine
from alembic_mcp.tools.worker.ops.seed_hints import Hints
from alembic_mcp.tools.worker.ops.starting_schema import apply_starting_schema
from alembic_mcp.tools.worker.ops.step_failure import (
    diagnose,
    next_plan,
    open_savepoint,
    operation_failed,
    ran_in_autocommit,
)
from alembic_mcp.tools.worker.protocol import RoundtripArgs, WorkerRequest, describe_exception

_TABLE_ATTRS = ("table_name", "source_table", "referent_table", "new_table_name")
_OP_FIELDS = {
    "table_name": "table",
    "source_table": "table",
    "referent_table": "referent_table",
    "local_cols": "local_cols",
    "remote_cols": "remote_cols",
    "column_name": "column",
    "constraint_name": "name",
    "index_name": "name",
    "new_table_name": "new_table",
    "unique": "unique",
    "modify_nullable": "modify_nullable",
}
_AFTER_QUERY = text(
    "SELECT c.oid, c.relfilenode, NULL AS mode FROM pg_class c "
    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'i', 'm', 'p') "
    "UNION ALL SELECT relation, NULL, mode FROM pg_locks "
    "WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"
)
_LOCKS_SQL = "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"


def _describe_op(operation: Any, dialect: Any = None) -> dict[str, Any]:
    """The operation's names and arguments as plain data; with ``dialect``, an alter_column's new type as
    that dialect writes it and its USING expression (a failed cast is probed with them)."""
    out: dict[str, Any] = {"op": type(operation).__name__}
    for attr, key in _OP_FIELDS.items():
        value = getattr(operation, attr, None)
        if value is not None and key not in out:
            out[key] = list(value) if isinstance(value, (list, tuple)) else value
    if type(operation).__name__ == "AddColumnOp":
        out["column"] = operation.column.name
        out["nullable"] = operation.column.nullable
        out["server_default"] = operation.column.server_default is not None
    if type(operation).__name__ == "CreateCheckConstraintOp" and isinstance(operation.condition, str):
        out["condition"] = operation.condition
    if type(operation).__name__ in ("CreateIndexOp", "CreateUniqueConstraintOp", "CreatePrimaryKeyOp"):
        out["columns"] = [
            c if isinstance(c, str) else getattr(c, "name", None) or str(c)
            for c in (getattr(operation, "columns", None) or [])
        ]
    if type(operation).__name__ == "BulkInsertOp":
        out["table"] = operation.table.name
    modify_type = getattr(operation, "modify_type", None)
    if modify_type is not None:
        out["modify_type"] = repr(modify_type)
        out.update(_cast_of(operation, modify_type, dialect))
    return {k: v for k, v in out.items() if isinstance(v, str | int | float | bool | list)}


def _cast_of(operation: Any, modify_type: Any, dialect: Any) -> dict[str, Any]:
    """``type_sql`` (the new type in the dialect's words) and ``using`` of an alter_column, when known."""
    out: dict[str, Any] = {}
    using = (getattr(operation, "kw", None) or {}).get(f"{getattr(dialect, 'name', '')}_using")
    if isinstance(using, str):
        out["using"] = using
    if dialect is not None:
        try:
            out["type_sql"] = modify_type.compile(dialect=dialect)
        except Exception:  # a type the dialect cannot write: the probe falls back to sample values
            pass
    return out


def _op_tables(operation: Any) -> set[str] | None:
    name = type(operation).__name__
    if name in ("ExecuteSQLOp", "RenameTableOp"):
        return None
    if name == "BulkInsertOp":
        return {operation.table.name}
    tables = {getattr(operation, a) for a in _TABLE_ATTRS if isinstance(getattr(operation, a, None), str)}
    return tables or None


class _State:
    def __init__(self, args: RoundtripArgs, url: str):
        self.args = args
        self.url = url
        self.progress_path = args.progress_path
        self.done = 0
        self.total = int(args.total_steps or 1)
        self.phase: str | None = None
        self.revision: str | None = None
        self.in_step = False
        self.checking = False
        self.op_depth = 0
        self.ops: list[dict[str, Any]] = []
        self.touched: set[str] | None = set()
        self.pre_snapshot: dict[str, Any] | None = None
        self.snap_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self.rel_before: dict[int, dict[str, Any]] = {}
        self.step_locks: dict[int, str] = {}  # relation oid -> the strongest lock the upgrade step took
        self.trace = False
        self.external = False
        self.target_metadata: Any = None
        self.version_table = args.version_table or "alembic_version"
        # where the rehearsal stands, across env.py runs
        self.pos = 0
        self.resume = "upgrade"  # the phase of revisions[pos] to run next
        self.base: Any = None  # (snapshot, data) before the upgrade of revisions[pos]
        self.up: Any = None  # ... after it
        self.down: Any = None  # ... after its downgrade
        self.relations: dict[int, dict[str, Any]] | None = None
        self.records: dict[str, dict[str, Any]] = {}
        self.seeded = False  # the tables hold seed rows
        self.retry: dict[str, Any] | None = None  # a failure being re-run without seed rows
        self.reseed = False  # rows were deleted for a re-run: seed every table after this revision
        self.stopped: dict[str, Any] | None = None
        self.deadline = time.monotonic() + args.budget_s if args.budget_s else None
        self.versions_dirs: tuple[str, ...] = ()
        self.connection: Any = None  # ours, handed to env.py (None with an async driver)
        self.project_dir = "."
        self.script: Any = None
        self.seed_hints: Hints | None = None  # read once, at the first seeding
        self.impl: Any = None  # the migration context's DDL impl (its memo of named types created)
        self.fresh_start: set[tuple[str, str]] | None = None  # what env.py made of the empty scratch database
        # the operation that raised, and the evidence gathered right at the failing statement
        self.failed_op: dict[str, Any] | None = None
        self.statement_facts: dict[str, Any] | None = None
        self.failed_op_exc: BaseException | None = None  # what it raised
        self.failed_op_site: tuple[str, int] | None = None  # its line in the migration file
        self.step_db_error: str | None = None  # the first database error of the step, caught or not
        self.result: dict[str, Any] = {
            "prepare": {"steps": 0, "seconds": 0.0},
            "seed": None,
            "rows_at_start": None,
            "steps": [],
            "differences": [],
            "data_loss": [],
            "locks": [],
            "rewrites": [],
            "drift": None,
            "failure": None,
            "failures": [],
            "seed_limitations": [],
            "rebuilds": [],
            "stopped": None,
            "transaction_mode": "per-step",
            "lock_trace": "off",
            "env_error": None,
        }

    def record(self, revision: str) -> dict[str, Any]:
        """The step record of ``revision`` (created on first use)."""
        if revision not in self.records:
            self.records[revision] = {"revision": revision, "status": "running"}
            self.result["steps"].append(self.records[revision])
        return self.records[revision]

    def check_drift(self, ctx: Any, conn: Any) -> None:
        try:
            self.result["drift"] = _drift(ctx, self.target_metadata)
        except Exception as exc:
            self.result["drift"] = {
                "checked": False,
                "items": [],
                "reason": f"compare_metadata raised {type(exc).__name__}: {exc}",
            }
        if not self.external and conn.in_transaction():
            conn.commit()
        self.progress("compared models with the database")

    def progress(self, message: str, advance: int = 1) -> None:
        self.done = min(self.done + advance, self.total)
        if self.progress_path:
            with open(self.progress_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"done": self.done, "total": self.total, "message": message}) + "\n")

    # ---- hooks
    def record_op(self, operation: Any) -> None:
        if not self.in_step:
            return
        self.ops.append(_describe_op(operation))
        tables = _op_tables(operation)
        if tables is None:
            self.touched = None
        elif self.touched is not None:
            self.touched |= tables

    def on_statement(self, *args: Any, **kw: Any) -> None:
        if self.in_step and self.op_depth == 0:
            self.touched = None  # raw SQL through op.get_bind(): any table may have changed

    def on_commit(self, conn: Any) -> None:
        """A commit inside an upgrade step (an autocommit block commits the step's transaction early): the
        locks the step held until then, read before they are released."""
        if not (self.trace and self.in_step and self.phase == "upgrade"):
            return
        cursor = conn.connection.cursor()  # the DBAPI cursor: no events, no autobegin
        try:
            cursor.execute(_LOCKS_SQL)
            self._hold_locks(cursor.fetchall())
        finally:
            cursor.close()

    def _hold_locks(self, rows: Any) -> None:
        """Keep the strongest mode per relation that existed before the step."""
        for oid, mode in rows:
            if oid in self.rel_before and mode in _LOCK_ORDER:
                current = self.step_locks.get(oid)
                if current is None or _LOCK_ORDER.index(mode) > _LOCK_ORDER.index(current):
                    self.step_locks[oid] = mode

    def on_db_error(self, context: Any) -> None:
        if self.in_step and self.step_db_error is None:
            error = context.original_exception
            first = str(error).splitlines()[0][:500] if str(error) else ""
            self.step_db_error = f"{type(error).__name__}: {first}"

    def on_version_apply(self, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        if not (self.trace and self.phase == "upgrade"):
            return
        conn = ctx.connection
        after: dict[int, dict[str, Any]] = {}
        held = []
        for oid, relfilenode, mode in conn.execute(_AFTER_QUERY):  # one round trip: files and locks
            if mode is None:
                after[oid] = {"relfilenode": relfilenode}
            else:
                held.append((oid, mode))
        self._hold_locks(held)
        locks, self.step_locks = self.step_locks, {}
        for oid, mode in locks.items():
            rel = self.rel_before[oid]
            if self.version_table in (rel["relname"], rel.get("tablename")):
                continue
            self.result["locks"].append(
                {
                    "revision": self.revision,
                    "relation": rel["relname"],
                    "kind": "index" if rel["relkind"] == "i" else "table",
                    "table": rel.get("tablename") or rel["relname"],
                    "mode": mode,
                }
            )
        for oid, rel in self.rel_before.items():
            now = after.get(oid)
            if now is None or not rel["relfilenode"] or now["relfilenode"] == rel["relfilenode"]:
                continue
            if self.version_table in (rel["relname"], rel.get("tablename")):
                continue
            self.result["rewrites"].append(
                {
                    "revision": self.revision,
                    "relation": rel["relname"],
                    "kind": "index" if rel["relkind"] == "i" else "table",
                    "table": rel.get("tablename") or rel["relname"],
                }
            )


_LOCK_ORDER = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
]


def _patched_configure(original: Any, state: _State):
    """env.py's ``context.configure`` with per-step transactions, server-default comparison and our
    version-apply callback added."""

    def configure(self: EnvironmentContext, *args: Any, **kw: Any) -> None:
        kw["transaction_per_migration"] = True
        kw["compare_server_default"] = True
        callbacks = list(kw.get("on_version_apply") or ())
        callbacks.append(state.on_version_apply)
        kw["on_version_apply"] = callbacks
        state.target_metadata = kw.get("target_metadata")
        original(self, *args, **kw)

    return configure


def _drift(ctx: Any, metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {
            "checked": False,
            "reason": "env.py passes no target_metadata to context.configure",
            "items": [],
        }
    from alembic.autogenerate import compare_metadata

    items = []
    dialect = ctx.dialect
    for diff in compare_metadata(ctx, metadata):
        for entry in diff if isinstance(diff, list) else [diff]:
            if entry[0] == "modify_default" and same_default(entry[5], entry[6], dialect):
                continue  # the same default spelled differently (MariaDB's current_timestamp() for now())
            items.append(_render_diff(entry, dialect))
    return {"checked": True, "items": items}


def _render_diff(entry: tuple, dialect: Any) -> dict[str, Any]:
    kind = entry[0]
    table = column = None
    if kind in ("add_table", "remove_table"):
        table = entry[1].name
        message = (
            f"table {table} is in the models but not in the database"
            if kind == "add_table"
            else f"table {table} is in the database but not in the models"
        )
    elif kind in ("add_column", "remove_column"):
        table, column = entry[2], entry[3].name
        message = (
            f"column {table}.{column} is in the models but not in the database"
            if kind == "add_column"
            else f"column {table}.{column} is in the database but not in the models"
        )
    elif kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = entry[1]
        owner = getattr(obj, "table", None) if kind.endswith("index") else getattr(obj, "parent", None)
        table = getattr(owner, "name", None)
        what = {"index": "index", "constraint": "constraint", "fk": "foreign key"}[kind.split("_", 1)[1]]
        where = (
            "in the models but not in the database"
            if kind.startswith("add")
            else "in the database but not in the models"
        )
        message = f"{what} {getattr(obj, 'name', None) or ''} on {table} is {where}".replace("  ", " ")
    elif kind.startswith("modify_"):
        table, column = entry[2], entry[3]
        attr = kind[len("modify_") :]
        database, models = value_text(entry[5], dialect), value_text(entry[6], dialect)
        message = f"column {table}.{column} {attr}: database {database}, models {models}"
    else:
        message = " ".join(str(e) for e in entry)
    return {"kind": kind, "table": table, "column": column, "message": message}


_NO_DURABILITY = {
    # A scratch database is dropped at the end: commits need not wait for the disk.
    "sqlite": ["PRAGMA synchronous = OFF", "PRAGMA journal_mode = MEMORY"],
    "postgresql": ["SET synchronous_commit TO off"],
}


def _scratch_session(connection: Any) -> None:
    raw = getattr(connection.connection, "dbapi_connection", None)
    if raw is not None and hasattr(raw, "prepare_threshold"):
        # psycopg 3 prepares a query run five times, and drops every prepared statement after each DROP or
        # ALTER (one more round trip): between rehearsal steps that is nothing but cost.
        raw.prepare_threshold = None
    try:
        for statement in _NO_DURABILITY.get(connection.dialect.name, []):
            connection.execute(text(statement))
        connection.commit()  # leave no transaction open: Alembic must see a fresh connection
    except Exception:
        connection.rollback()


def _bootstrap(state: _State, url: str, setting: str, project_dir: str) -> bool:
    """Run the ``bootstrap`` setting on the fresh scratch database; False (and the error recorded) on failure."""
    try:
        state.result["bootstrap"] = apply_starting_schema(url, setting, project_dir)
    except BaseException as exc:  # user code
        info = describe_exception(exc)
        info.pop("traceback", None)
        state.result["bootstrap_error"] = info
        return False
    return True


def _patch_invoke(state: _State) -> Any:
    """Record every operation; on PostgreSQL run the ones that can meet bad rows under a savepoint, so
    a failure is probed at its statement. Returns the original ``invoke``."""
    original_invoke = AbstractOperations.invoke

    def invoke(self, operation):
        state.record_op(operation)
        state.op_depth += 1
        conn = None
        try:
            conn = open_savepoint(state, self, operation)
            result = original_invoke(self, operation)
        except BaseException as exc:
            dialect = getattr(self.migration_context, "dialect", None)
            operation_failed(state, {**_describe_op(operation, dialect), **ran_in_autocommit(self)}, exc, conn)
            raise
        finally:
            state.op_depth -= 1
        return result

    AbstractOperations.invoke = invoke  # type: ignore[method-assign]
    return original_invoke


def _run_env(cfg: Any, script: ScriptDirectory, state: _State, plan: RunPlan) -> BaseException | None:
    """One env.py run from where the rehearsal stands; the exception of a failed step, else None."""
    try:
        env = EnvironmentContext(
            cfg,
            script,
            fn=migrations(script, state, plan),
            as_sql=False,
            starting_rev=None,
            destination_rev=state.args.revisions[-1] if state.args.revisions else None,
            tag=None,
        )
        with env:
            script.run_env()
    except BaseException as exc:
        if state.connection is not None:
            try:
                state.connection.rollback()
            except Exception:
                pass
        if state.checking:
            raise  # our own checks failed, not the migration: surface it as a worker error
        return exc
    return None


def _rehearse_all(cfg: Any, script: ScriptDirectory, state: _State) -> None:
    """env.py runs until the rehearsal is through, stopped, or cannot go on."""
    args = state.args
    plan: RunPlan | None = RunPlan(prepare=args.prepare, to=list(args.from_revision or ()), seed=bool(args.seed_rows))
    while plan is not None:
        exc = _run_env(cfg, script, state, plan)
        if exc is None:
            break
        if state.phase is None:
            info = describe_exception(exc)
            info.pop("traceback", None)
            state.result["env_error"] = info
            break
        plan = next_plan(state, diagnose(state, exc), script)
        state.phase = state.revision = None
    state.result["stopped"] = state.stopped
    for record in state.result["steps"]:
        if record.get("status") == "running":
            record["status"] = "not-run"


def run(request: WorkerRequest) -> dict[str, Any]:
    spec, args = request.project, request.args
    url = request.database_url
    if url is None:  # the runner always gives a roundtrip its scratch database
        raise ValueError("the roundtrip op needs the scratch database's URL")
    state = _State(args, url)
    state.project_dir = spec.project_dir
    cfg = config_from_spec(spec, url)
    script = ScriptDirectory.from_config(cfg)
    state.versions_dirs = versions_dirs(script)
    state.script = script
    if args.bootstrap and not _bootstrap(state, url, args.bootstrap, spec.project_dir):
        return state.result
    engine = None
    if not is_async_driver(url):
        engine = new_engine(url, poolclass=NullPool)
        state.connection = engine.connect()
        _scratch_session(state.connection)
        cfg.attributes["connection"] = state.connection
    original_invoke = _patch_invoke(state)
    original_configure = EnvironmentContext.configure
    EnvironmentContext.configure = _patched_configure(original_configure, state)  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        _rehearse_all(cfg, script, state)
    finally:
        AbstractOperations.invoke = original_invoke  # type: ignore[method-assign]
        EnvironmentContext.configure = original_configure  # type: ignore[method-assign]
        if state.connection is not None:
            state.connection.close()
        if engine is not None:
            engine.dispose()
    state.result["total_s"] = round(time.perf_counter() - started, 4)
    return state.result
