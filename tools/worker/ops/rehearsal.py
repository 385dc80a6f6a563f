"""Inside the worker: the steps of one env.py run of a rehearsal, as the migration function Alembic
pulls ``RevisionStep`` objects from.

A run prepares the scratch database (``RunPlan.prepare`` to ``RunPlan.to``), seeds it (unless a step is
re-run without seed rows), takes the baseline, then upgrades, downgrades and upgrades
again each revision from ``state.pos``/``state.resume`` on, checking schema and data between steps.
Everything a later run needs (position, baselines, results) lives on the ``state``: a failed step ends
the run, and ``roundtrip.run`` starts another one where the rehearsal can go on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from alembic.runtime.migration import RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy import event

from alembic_mcp.tools.worker.ops.datacheck import data_lost, table_data
from alembic_mcp.tools.worker.ops.reading import foresee_upgrade, read_state
from alembic_mcp.tools.worker.ops.recovery import drop_new_objects, schema_objects, seed_only
from alembic_mcp.tools.worker.ops.seed import seed_database
from alembic_mcp.tools.worker.ops.seed_hints import read_hints
from alembic_mcp.tools.worker.ops.snapshot import diff_snapshots, take_snapshot


@dataclass
class RunPlan:
    """How one env.py run starts."""

    prepare: str = "none"  # upgrade | downgrade | none: how to reach ``to``
    to: list[str] = field(default_factory=list)  # revisions the database must be at; [] = base
    seed: bool = False  # seed every table after preparing
    # ... or only these tables (created by a step whose re-upgrade did not run)
    seed_tables: list[str] = field(default_factory=list)
    rebuilt: bool = False  # the scratch database was wiped for this run: undo what env.py made on top


def commit(conn: Any, state: Any) -> None:
    if not state.external and conn.in_transaction():
        conn.commit()


def wrap(step: RevisionStep, state: Any, phase: str) -> RevisionStep:
    real = step.migration_fn

    def migration_fn(**kw: Any) -> Any:
        if phase in ("downgrade", "re-upgrade") and state.impl is not None:
            # Alembic's impl remembers the PostgreSQL named types it created in this env.py run and
            # skips creating them again: a re-upgrade after a downgrade that dropped the enum type
            # would fail with "type does not exist", which no deploy (one direction per run) meets
            state.impl.memo.clear()
        state.in_step = True
        try:
            return real(**kw)
        finally:
            state.in_step = False

    step.migration_fn = migration_fn
    state.phase, state.revision = phase, step.revision.revision
    state.ops, state.touched, state.checking = [], set(), False
    state.failed_op, state.statement_facts = None, None
    state.step_locks = {}
    state.failed_op_exc, state.failed_op_site, state.step_db_error = None, None, None
    return step


def migrations(script: ScriptDirectory, state: Any, plan: RunPlan):
    """The migration function of one env.py run."""

    def fn(heads: Any, ctx: Any):
        conn = ctx.connection
        _attach(state, ctx, conn)
        _start_like_fresh(state, conn, heads, plan)
        yield from _prepare(script, state, heads, plan)
        _fill(state, conn, plan)
        _baseline(state, conn)
        yield from _rehearse(script, state, conn)
        if state.pos >= len(state.args.revisions) and state.args.check_drift:
            state.check_drift(ctx, conn)

    return fn


def _attach(state: Any, ctx: Any, conn: Any) -> None:
    args = state.args
    state.external = bool(ctx._in_external_transaction)
    state.impl = ctx.impl
    state.version_table = ctx._version.name
    if state.external:
        state.result["transaction_mode"] = "single (env.py wraps every step in one transaction)"
    if not event.contains(conn.engine, "before_cursor_execute", state.on_statement):
        event.listen(conn.engine, "before_cursor_execute", state.on_statement)
    if not event.contains(conn.engine, "commit", state.on_commit):
        event.listen(conn.engine, "commit", state.on_commit)
    if not event.contains(conn.engine, "handle_error", state.on_db_error):
        event.listen(conn.engine, "handle_error", state.on_db_error)
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


def _start_like_fresh(state: Any, conn: Any, heads: Any, plan: RunPlan) -> None:
    """The first run at base records what env.py made of the empty scratch database; a rebuild drops
    anything more (see ``recovery``), so it starts where a deploy from base in a new process starts."""
    if plan.rebuilt and state.fresh_start is not None:
        dropped = drop_new_objects(conn, state.fresh_start, state.version_table)
        commit(conn, state)
        if dropped and state.result["rebuilds"]:
            state.result["rebuilds"][-1]["env_objects_dropped"] = dropped
    elif state.fresh_start is None and not heads:
        state.fresh_start = schema_objects(conn, state.version_table)
        commit(conn, state)


def _prepare(script: ScriptDirectory, state: Any, heads: Any, plan: RunPlan):
    started = time.perf_counter()
    dest = tuple(plan.to) or "base"
    dest_arg = dest[0] if isinstance(dest, tuple) and len(dest) == 1 else dest
    if plan.prepare == "upgrade" and dest != "base":
        steps = script._upgrade_revs(dest_arg, heads)  # type: ignore[arg-type]  # a tuple of revisions works too
    elif plan.prepare == "downgrade":
        steps = script._downgrade_revs(dest_arg, heads)  # type: ignore[arg-type]  # a tuple of revisions works too
    else:
        steps = []
    state.pre_snapshot = None  # no reading before prepare steps: a failure there is not compared with one
    for step in steps:
        yield wrap(step, state, "prepare")
        state.checking = True
    state.phase = state.revision = None
    prepared = state.result["prepare"]
    prepared["steps"] += len(steps)
    prepared["seconds"] = round(prepared["seconds"] + time.perf_counter() - started, 4)
    if plan.prepare != "none":
        state.progress(f"scratch database at {', '.join(dest) if dest != 'base' else 'base'}")


def _fill(state: Any, conn: Any, plan: RunPlan) -> None:
    if plan.seed and state.args.seed_rows:
        t0 = time.perf_counter()
        if state.seed_hints is None:
            state.seed_hints = read_hints(conn, state.script, state.args.revisions)
        seeded = seed_database(
            conn, int(state.args.seed_rows), state.version_table, state.external, hints=state.seed_hints
        )
        seeded["seconds"] = round(time.perf_counter() - t0, 4)
        if state.result["seed"] is None:
            state.result["seed"] = seeded
            state.progress(f"seeded {len(seeded['tables'])} table(s)")
        state.seeded = True
    elif plan.seed_tables and state.args.seed_rows:
        _seed_more(state, conn, set(plan.seed_tables))


def _baseline(state: Any, conn: Any) -> None:
    """The reading the next step compares with, for the phase the run resumes at."""
    relations: dict[int, dict[str, Any]] | None = {} if state.trace else None
    snap = take_snapshot(conn, state.version_table, cache=state.snap_cache, relations=relations)
    data = table_data(conn, snap)
    commit(conn, state)
    if state.result.get("rows_at_start") is None:  # the first run: rows copied, seeded or the history's own
        state.result["rows_at_start"] = {t: d["rows"] for t, d in data.items() if t != state.version_table}
    if state.resume == "upgrade":
        state.base, state.relations = (snap, data), relations
    elif state.resume == "downgrade":
        state.up, state.base = (snap, data), (state.base[0], data)
    else:
        state.down, state.up, state.base = (snap, data), (state.up[0], data), (state.base[0], data)


def _out_of_time(state: Any) -> bool:
    return state.deadline is not None and time.monotonic() > state.deadline


def _rehearse(script: ScriptDirectory, state: Any, conn: Any):
    revisions = state.args.revisions
    while state.pos < len(revisions):
        rev = revisions[state.pos]
        if state.resume == "upgrade" and _out_of_time(state):
            state.stopped = {"revision": rev, "reason": "the time budget (timeout_s) ran out"}
            return
        record = state.record(rev)
        script_rev = script.get_revision(rev)
        if state.resume == "upgrade":
            yield from _upgrade(script, state, conn, script_rev, record)
        if state.resume == "downgrade":
            yield from _downgrade(script, state, conn, script_rev, record)
        yield from _reupgrade(script, state, conn, script_rev, record)
        if record["status"] == "running":
            record["status"] = "ok"
        state.pos += 1
        state.resume = "upgrade"
    state.phase = state.revision = None


def _step_done(state: Any, record: dict[str, Any], phase: str, started: float) -> None:
    """After a step ran: its time, and a re-run without seed rows that passed."""
    key = {"upgrade": "upgrade_s", "downgrade": "downgrade_s", "re-upgrade": "reupgrade_s"}[phase]
    record[key] = round(time.perf_counter() - started, 4)
    retry = state.retry
    if retry is not None and retry["revision"] == record["revision"] and retry["phase"] == phase:
        if seed_only(retry):
            state.result["seed_limitations"].append({k: retry.get(k) for k in _LIMITATION_KEYS})
        else:  # real rows can hold such values: the migration's failure, though the history's rows pass
            retry["passed_without_seed_rows"] = True
            record_failure(state, retry)
        state.retry = None
        state.reseed = True


_LIMITATION_KEYS = ("revision", "phase", "mode", "error", "file", "line", "operation", "facts")


def record_failure(state: Any, failure: dict[str, Any]) -> None:
    """A failed step in the report, and its revision's status."""
    state.result["failures"].append(failure)
    if state.result["failure"] is None:
        state.result["failure"] = failure
    if failure["revision"] in state.records:
        state.records[failure["revision"]]["status"] = f"failed in {failure['phase']}"


def _upgrade(script: ScriptDirectory, state: Any, conn: Any, script_rev: Any, record: dict[str, Any]):
    snap, data = state.base
    if state.relations is not None:
        state.rel_before = state.relations
    state.pre_snapshot = snap
    t0 = time.perf_counter()
    yield wrap(RevisionStep(script.revision_map, script_rev, True), state, "upgrade")
    state.checking = True
    _step_done(state, record, "upgrade", t0)
    record["upgrade_ops"] = len(state.ops)
    touched = state.touched
    t0 = time.perf_counter()
    snap_up, data_up = read_state(
        conn, state.version_table, (snap, data), touched, state.snap_cache, foreseen=_foresee(state, snap, state.ops)
    )
    record["check_s"] = record.get("check_s", 0.0) + time.perf_counter() - t0
    record["schema_changes"] = [d["message"] for d in diff_snapshots(snap, snap_up, "after upgrade")]
    state.up, state.resume = (snap_up, data_up), "downgrade"
    state.progress(f"{script_rev.revision}: upgrade ok")


def _downgrade(script: ScriptDirectory, state: Any, conn: Any, script_rev: Any, record: dict[str, Any]):
    rev = script_rev.revision
    (snap, data), (snap_up, data_up) = state.base, state.up
    state.pre_snapshot = snap_up
    t0 = time.perf_counter()
    yield wrap(RevisionStep(script.revision_map, script_rev, False), state, "downgrade")
    state.checking = True
    _step_done(state, record, "downgrade", t0)
    record["downgrade_ops"] = len(state.ops)
    record["downgrade_sql"] = state.touched is None
    touched = state.touched
    t0 = time.perf_counter()
    # the downgrade should restore the schema before the upgrade
    snap_down, data_down = read_state(
        conn, state.version_table, (snap_up, data_up), touched, state.snap_cache, foreseen=_foresee(state, snap)
    )
    if state.retry is None or state.retry["revision"] != rev:  # a replay before a re-upgrade re-run: seen already
        _compare_down(state, rev, snap, data, snap_up, data_up, snap_down, data_down)
    record["check_s"] = record.get("check_s", 0.0) + time.perf_counter() - t0
    state.down, state.resume = (snap_down, data_down), "re-upgrade"
    state.progress(f"{rev}: downgrade ok")


def _foresee(state: Any, snapshot: Any, ops: list[dict[str, Any]] | None = None) -> Any:
    """The table layouts a step should leave (``reading.py``), or None when its reading may not be tried
    ahead: inside env.py's single transaction a wrong forecast could not be rolled back alone."""
    if state.external:
        return None
    return snapshot["tables"] if ops is None else foresee_upgrade(snapshot, ops)


def _compare_down(
    state: Any, rev: str, snap: Any, data: Any, snap_up: Any, data_up: Any, snap_down: Any, data_down: Any
) -> None:
    """What the downgrade did not restore (schema and data), and the data it dropped."""
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
            if new_column and loss["table"] not in new_tables:
                loss = {**loss, "message": _added_column_words(loss, snap_up["tables"][loss["table"]])}
            state.result["data_loss"].append({"revision": rev, "kind": "dropped-by-downgrade", **loss})


def _added_column_words(loss: dict[str, Any], table_after_upgrade: Any) -> str:
    """A column the upgrade added holds, here, only what the upgrade wrote: say so (and its default), so
    the loss reads as what it is, not as the application's data."""
    column = table_after_upgrade.get("columns", {}).get(loss["column"], {})
    default = column.get("default")
    return (
        f"column {loss['table']}.{loss['column']}, added by the upgrade, is gone after the downgrade "
        f"({loss['rows_before']} values, written here by the upgrade{f', server default {default}' if default else ''}"
        "; in production also what the application stored there since)"
    )


def _reupgrade(script: ScriptDirectory, state: Any, conn: Any, script_rev: Any, record: dict[str, Any]):
    rev = script_rev.revision
    (snap, _), (snap_up, _), (snap_down, data_down) = state.base, state.up, state.down
    state.pre_snapshot = snap_down
    t0 = time.perf_counter()
    yield wrap(RevisionStep(script.revision_map, script_rev, True), state, "re-upgrade")
    state.checking = True
    _step_done(state, record, "re-upgrade", t0)
    touched = state.touched
    t0 = time.perf_counter()
    relations: dict[int, dict[str, Any]] | None = {} if state.trace else None
    # the re-upgrade should give the schema the upgrade gave
    snap_re, data_re = read_state(
        conn,
        state.version_table,
        (snap_down, data_down),
        touched,
        state.snap_cache,
        relations=relations,
        foreseen=_foresee(state, snap_up),
    )
    for diff in diff_snapshots(snap_up, snap_re, "after re-upgrade"):
        state.result["differences"].append({"revision": rev, "phase": "re-upgrade", **diff})
    data_re = _seed_for_later(state, conn, snap, snap_re, data_re)
    record["check_s"] = round(record.get("check_s", 0.0) + time.perf_counter() - t0, 4)
    state.base, state.relations = (snap_re, data_re), relations
    state.progress(f"{rev}: re-upgrade ok")


def _seed_for_later(state: Any, conn: Any, snap: Any, snap_re: Any, data_re: Any) -> Any:
    """Rows for what later revisions meet: the tables this revision created, or every table after a
    step was re-run without seed rows."""
    if not state.args.seed_rows:
        return data_re
    new_tables = set(snap_re["tables"]) - set(snap["tables"])
    only = None if state.reseed else new_tables
    if only is not None and not only:
        return data_re
    _seed_more(state, conn, only)
    state.reseed, state.seeded = False, True
    data_re = table_data(conn, snap_re, tables=only, previous=data_re)
    commit(conn, state)
    return data_re


def _seed_more(state: Any, conn: Any, only: set[str] | None) -> None:
    """Seed ``only`` these tables (None: all) and add them to the seed report."""
    seeded = seed_database(
        conn, int(state.args.seed_rows), state.version_table, state.external, only=only, hints=state.seed_hints
    )
    if state.result["seed"] is not None:
        state.result["seed"]["tables"].update(seeded["tables"])
        state.result["seed"]["skipped"].update(seeded["skipped"])
