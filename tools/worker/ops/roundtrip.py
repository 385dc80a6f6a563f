"""Worker op ``roundtrip``: upgrade, downgrade, upgrade every revision on a scratch database and
check schema and data after each step.

One env.py run drives everything: a custom migration function hands Alembic one ``RevisionStep`` at
a time (prepare to ``from_revision``, then up / down / up per revision) and checks the database
between steps on env.py's own connection. ``transaction_per_migration`` is forced so each step
commits on its own (a failure keeps the steps before it, and PostgreSQL locks are per step). Every
``op.*`` call is recorded through ``Operations.invoke``: the tables it names are the only ones
re-reflected and re-read after the step (any raw SQL means: all tables), and the last one tells
the diagnosis what was running when a step failed.

Args: ``revisions`` (ids, upgrade order), ``prepare`` ("upgrade"|"downgrade"|"none"),
``from_revision`` (ids or []), ``seed_rows``, ``trace_locks``, ``check_drift``, ``progress_path``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.pool import NullPool

try:  # the base class of Operations and BatchOperations (Alembic >= 1.11)
    from alembic.operations.base import AbstractOperations
except ImportError:  # Alembic 1.9/1.10: Operations is the base
    from alembic.operations.base import Operations as AbstractOperations  # type: ignore[assignment,unused-ignore]  # only on old Alembic

from alembic_mcp.tools.worker.ops.alembic_env import config_from_spec, is_async_driver
from alembic_mcp.tools.worker.ops.datacheck import data_lost, table_data
from alembic_mcp.tools.worker.ops.failure_probes import classify, error_codes, probe
from alembic_mcp.tools.worker.ops.sa_compat import new_engine, with_sync_connection
from alembic_mcp.tools.worker.ops.seed import seed_database
from alembic_mcp.tools.worker.ops.snapshot import diff_snapshots, take_snapshot
from alembic_mcp.tools.worker.ops.starting_schema import apply_starting_schema
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


def _describe_op(operation: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"op": type(operation).__name__}
    for attr, key in _OP_FIELDS.items():
        value = getattr(operation, attr, None)
        if value is not None and key not in out:
            out[key] = list(value) if isinstance(value, (list, tuple)) else value
    if type(operation).__name__ == "AddColumnOp":
        out["column"] = operation.column.name
        out["nullable"] = operation.column.nullable
    if type(operation).__name__ in ("CreateIndexOp", "CreateUniqueConstraintOp"):
        out["columns"] = [
            c if isinstance(c, str) else getattr(c, "name", None) or str(c)
            for c in (getattr(operation, "columns", None) or [])
        ]
    if type(operation).__name__ == "BulkInsertOp":
        out["table"] = operation.table.name
    modify_type = getattr(operation, "modify_type", None)
    if modify_type is not None:
        out["modify_type"] = repr(modify_type)
    return {k: v for k, v in out.items() if isinstance(v, str | int | float | bool | list)}


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
        self.trace = False
        self.external = False
        self.target_metadata: Any = None
        self.version_table = args.version_table or "alembic_version"
        self.result: dict[str, Any] = {
            "prepare": {"steps": 0, "seconds": 0.0},
            "seed": None,
            "steps": [],
            "differences": [],
            "data_loss": [],
            "locks": [],
            "rewrites": [],
            "drift": None,
            "failure": None,
            "transaction_mode": "per-step",
            "lock_trace": "off",
            "env_error": None,
        }

    def progress(self, message: str, advance: int = 1) -> None:
        self.done += advance
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

    def on_version_apply(self, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        if not (self.trace and self.phase == "upgrade"):
            return
        conn = ctx.connection
        after: dict[int, dict[str, Any]] = {}
        locks: dict[int, str] = {}
        for oid, relfilenode, mode in conn.execute(_AFTER_QUERY):  # one round trip: files and locks
            if mode is None:
                after[oid] = {"relfilenode": relfilenode}
            elif oid in self.rel_before and mode in _LOCK_ORDER:
                current = locks.get(oid)
                if current is None or _LOCK_ORDER.index(mode) > _LOCK_ORDER.index(current):
                    locks[oid] = mode
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


def _commit(conn: Any, state: _State) -> None:
    if not state.external and conn.in_transaction():
        conn.commit()


def _wrap(step: RevisionStep, state: _State, phase: str) -> RevisionStep:
    real = step.migration_fn

    def migration_fn(**kw: Any) -> Any:
        state.in_step = True
        try:
            return real(**kw)
        finally:
            state.in_step = False

    step.migration_fn = migration_fn
    state.phase, state.revision = phase, step.revision.revision
    state.ops, state.touched, state.checking = [], set(), False
    return step


def _migrations(script: ScriptDirectory, state: _State):
    args = state.args

    def fn(heads: Any, ctx: Any):
        conn = ctx.connection
        state.external = bool(ctx._in_external_transaction)
        state.version_table = ctx._version.name
        if state.external:
            state.result["transaction_mode"] = "single (env.py wraps every step in one transaction)"
        event.listen(conn.engine, "before_cursor_execute", state.on_statement)
        is_pg = conn.dialect.name == "postgresql"
        state.trace = bool(args.trace_locks) and is_pg and not state.external
        state.result["lock_trace"] = (
            "on"
            if state.trace
            else "off"
            if not args.trace_locks
            else "not PostgreSQL"
            if not is_pg
            else "unavailable: env.py runs one transaction"
        )
        revmap = script.revision_map
        # 1. prepare: bring the scratch database to from_revision
        started = time.perf_counter()
        dest = tuple(args.from_revision or ()) or "base"
        dest_arg = dest[0] if isinstance(dest, tuple) and len(dest) == 1 else dest
        if args.prepare == "upgrade" and dest != "base":
            steps = script._upgrade_revs(dest_arg, heads)  # type: ignore[arg-type]  # a tuple of revisions works too
        elif args.prepare == "downgrade":
            steps = script._downgrade_revs(dest_arg, heads)  # type: ignore[arg-type]  # a tuple of revisions works too
        else:
            steps = []
        for step in steps:
            yield _wrap(step, state, "prepare")
            state.checking = True
        state.phase = state.revision = None
        state.result["prepare"] = {"steps": len(steps), "seconds": round(time.perf_counter() - started, 4)}
        state.progress(f"scratch database at {', '.join(dest) if dest != 'base' else 'base'}")
        # 2. seed
        if args.seed_rows:
            t0 = time.perf_counter()
            seeded = seed_database(conn, int(args.seed_rows), state.version_table, state.external)
            seeded["seconds"] = round(time.perf_counter() - t0, 4)
            state.result["seed"] = seeded
            state.progress(f"seeded {len(seeded['tables'])} table(s)")
        # with lock tracing, the relations (oid, file node) before each upgrade come with the snapshot
        # taken just before it, in the same catalog query
        relations: dict[int, dict[str, Any]] | None = {} if state.trace else None
        snap = take_snapshot(conn, state.version_table, cache=state.snap_cache, relations=relations)
        data = table_data(conn, snap)
        _commit(conn, state)
        # 3. up / down / up per revision
        for rev in args.revisions:
            script_rev = script.get_revision(rev)
            record: dict[str, Any] = {"revision": rev, "status": "running"}
            state.result["steps"].append(record)
            if relations is not None:
                state.rel_before = relations
            state.pre_snapshot = snap
            t0 = time.perf_counter()
            yield _wrap(RevisionStep(revmap, script_rev, True), state, "upgrade")
            state.checking = True
            record["upgrade_s"] = round(time.perf_counter() - t0, 4)
            record["upgrade_ops"] = len(state.ops)
            touched_up = state.touched
            t0 = time.perf_counter()
            snap_up = take_snapshot(conn, state.version_table, previous=snap, tables=touched_up, cache=state.snap_cache)
            data_up = table_data(conn, snap_up, tables=touched_up, previous=data)
            check = time.perf_counter() - t0
            record["schema_changes"] = [d["message"] for d in diff_snapshots(snap, snap_up, "after upgrade")]
            state.progress(f"{rev}: upgrade ok")

            state.pre_snapshot = snap_up
            t0 = time.perf_counter()
            yield _wrap(RevisionStep(revmap, script_rev, False), state, "downgrade")
            state.checking = True
            record["downgrade_s"] = round(time.perf_counter() - t0, 4)
            record["downgrade_ops"] = len(state.ops)
            record["downgrade_sql"] = state.touched is None
            touched_down = state.touched
            t0 = time.perf_counter()
            snap_down = take_snapshot(
                conn, state.version_table, previous=snap_up, tables=touched_down, cache=state.snap_cache
            )
            data_down = table_data(conn, snap_down, tables=touched_down, previous=data_up)
            for diff in diff_snapshots(snap, snap_down, "after downgrade"):
                state.result["differences"].append({"revision": rev, "phase": "downgrade", **diff})
            for loss in data_lost(data, data_down, "after the downgrade"):
                state.result["data_loss"].append({"revision": rev, "kind": "not-restored", **loss})
            new_tables = set(snap_up["tables"]) - set(snap["tables"])
            for loss in data_lost(data_up, data_down, "after the downgrade"):
                new_column = loss["column"] is not None and loss["column"] not in (
                    snap["tables"].get(loss["table"], {}).get("columns", {})
                )
                if loss["table"] in new_tables or new_column:
                    state.result["data_loss"].append({"revision": rev, "kind": "dropped-by-downgrade", **loss})
            check += time.perf_counter() - t0
            state.progress(f"{rev}: downgrade ok")

            state.pre_snapshot = snap_down
            t0 = time.perf_counter()
            yield _wrap(RevisionStep(revmap, script_rev, True), state, "re-upgrade")
            state.checking = True
            record["reupgrade_s"] = round(time.perf_counter() - t0, 4)
            touched_re = state.touched
            t0 = time.perf_counter()
            relations = {} if state.trace else None
            snap_re = take_snapshot(
                conn,
                state.version_table,
                previous=snap_down,
                tables=touched_re,
                cache=state.snap_cache,
                relations=relations,
            )
            data_re = table_data(conn, snap_re, tables=touched_re, previous=data_down)
            for diff in diff_snapshots(snap_up, snap_re, "after re-upgrade"):
                state.result["differences"].append({"revision": rev, "phase": "re-upgrade", **diff})
            new_tables = set(snap_re["tables"]) - set(snap["tables"])
            if args.seed_rows and new_tables:
                # tables this revision created get rows too, so later revisions meet data
                seeded = seed_database(conn, int(args.seed_rows), state.version_table, state.external, only=new_tables)
                if state.result["seed"] is not None:
                    state.result["seed"]["tables"].update(seeded["tables"])
                    state.result["seed"]["skipped"].update(seeded["skipped"])
                data_re = table_data(conn, snap_re, tables=new_tables, previous=data_re)
                _commit(conn, state)
            check += time.perf_counter() - t0
            record["check_s"] = round(check, 4)
            record["status"] = "ok"
            state.progress(f"{rev}: re-upgrade ok")
            snap, data = snap_re, data_re
        state.phase = state.revision = None
        # 4. drift at head
        if args.check_drift:
            try:
                state.result["drift"] = _drift(ctx, state.target_metadata)
            except Exception as exc:
                state.result["drift"] = {
                    "checked": False,
                    "items": [],
                    "reason": f"compare_metadata raised {type(exc).__name__}: {exc}",
                }
            _commit(conn, state)
            state.progress("compared models with the database")

    return fn


def _drift(ctx: Any, metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {
            "checked": False,
            "reason": "env.py passes no target_metadata to context.configure",
            "items": [],
        }
    from alembic.autogenerate import compare_metadata

    items = []
    for diff in compare_metadata(ctx, metadata):
        for entry in diff if isinstance(diff, list) else [diff]:
            items.append(_render_diff(entry))
    return {"checked": True, "items": items}


def _render_diff(entry: tuple) -> dict[str, Any]:
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
        message = f"column {table}.{column} {attr}: database {entry[5]!s}, models {entry[6]!s}"
    else:
        message = " ".join(str(e) for e in entry)
    return {"kind": kind, "table": table, "column": column, "message": message}


def _diagnose(state: _State, exc: BaseException) -> dict[str, Any]:
    info = describe_exception(exc)
    info.pop("traceback", None)
    message = info["message"]
    sqlstate, errno = error_codes(exc)
    mode = classify(exc, message, sqlstate, errno)
    failure: dict[str, Any] = {
        "revision": state.revision,
        "phase": state.phase,
        "mode": mode,
        "error_type": info["type"],
        "error": message[:2000],
        "file": info.get("file"),
        "line": info.get("line"),
        "sqlstate": sqlstate,
        "errno": errno,
        "operations": state.ops[-5:],
        "applied": [],
        "facts": {},
    }
    pre = state.pre_snapshot

    def look(conn):
        facts = probe(conn, mode, message, state.ops)
        applied: list[str] = []
        if pre is not None:
            after = take_snapshot(conn, state.version_table, cache=state.snap_cache)
            applied = [d["message"] for d in diff_snapshots(pre, after, "after the failed step")]
        conn.rollback()
        return facts, applied

    try:
        failure["facts"], failure["applied"] = with_sync_connection(state.url, look)
    except Exception as probe_exc:
        failure["facts"] = {"probe_error": f"{type(probe_exc).__name__}: {str(probe_exc).splitlines()[0][:200]}"}
    return failure


_NO_DURABILITY = {
    # A scratch database is dropped at the end: commits need not wait for the disk.
    "sqlite": ["PRAGMA synchronous = OFF", "PRAGMA journal_mode = MEMORY"],
    "postgresql": ["SET synchronous_commit TO off"],
}


def _scratch_session(connection: Any) -> None:
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


def run(request: WorkerRequest) -> dict[str, Any]:
    spec, args = request.project, request.args
    url = request.database_url
    if url is None:  # the runner always gives a roundtrip its scratch database
        raise ValueError("the roundtrip op needs the scratch database's URL")
    state = _State(args, url)
    cfg = config_from_spec(spec, url)
    script = ScriptDirectory.from_config(cfg)
    if args.bootstrap and not _bootstrap(state, url, args.bootstrap, spec.project_dir):
        return state.result
    engine = None
    connection = None
    if not is_async_driver(url):
        engine = new_engine(url, poolclass=NullPool)
        connection = engine.connect()
        _scratch_session(connection)
        cfg.attributes["connection"] = connection
    original_invoke = AbstractOperations.invoke

    def invoke(self, operation):
        state.record_op(operation)
        state.op_depth += 1
        try:
            return original_invoke(self, operation)
        finally:
            state.op_depth -= 1

    original_configure = EnvironmentContext.configure
    AbstractOperations.invoke = invoke  # type: ignore[method-assign]
    EnvironmentContext.configure = _patched_configure(original_configure, state)  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        env = EnvironmentContext(
            cfg,
            script,
            fn=_migrations(script, state),
            as_sql=False,
            starting_rev=None,
            destination_rev=args.revisions[-1] if args.revisions else None,
            tag=None,
        )
        with env:
            script.run_env()
    except BaseException as exc:
        if connection is not None:
            try:
                connection.rollback()
            except Exception:
                pass
        if state.checking:
            raise  # our own checks failed, not the migration: surface it as a worker error
        if state.phase is None:
            info = describe_exception(exc)
            info.pop("traceback", None)
            state.result["env_error"] = info
        else:
            state.result["failure"] = _diagnose(state, exc)
            for record in state.result["steps"]:
                if record.get("status") == "running":
                    record["status"] = f"failed in {state.phase}"
    finally:
        AbstractOperations.invoke = original_invoke  # type: ignore[method-assign]
        EnvironmentContext.configure = original_configure  # type: ignore[method-assign]
        if connection is not None:
            connection.close()
        if engine is not None:
            engine.dispose()
    state.result["total_s"] = round(time.perf_counter() - started, 4)
    return state.result
