"""``test_roundtrip``: rehearse upgrade, downgrade, upgrade of each revision on a scratch database and
prove that schema and data survive; diagnose failures by failure mode. Never touches the target.

Flow: validate the arguments, load the history, pick the range (``from_revision`` exclusive up to
``revision``), create a scratch database (always dropped), fill it (seeded rows, or a read-only copy of
the target), run the worker op ``roundtrip`` while relaying its per-step progress, and turn what it
saw into findings, escalations and a verdict.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, Field

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument, ProjectError, WorkerFailed
from alembic_mcp.tools.core.policy import is_production
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.urls import backend_of, parse_url
from alembic_mcp.tools.core.verdict import Escalation, Finding, VerdictResult
from alembic_mcp.tools.db.datacopy import copy_database
from alembic_mcp.tools.db.dbinfo import current_revisions
from alembic_mcp.tools.db.scratch import scratch_database, scratch_notes
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.history.graph import History, load_history
from alembic_mcp.tools.roundtrip.diagnosis import explain
from alembic_mcp.tools.worker.prestart import prestart
from alembic_mcp.tools.worker.protocol import RoundtripArgs
from alembic_mcp.tools.worker.runner import UnsupportedWorkerEnvironment, WorkerError, run_worker, worker_python

MAX_SEED_ROWS = 10_000
MAX_TIMEOUT_S = 3600
DataFrom = Literal["seed", "target"]

LOCK_SQL_NAMES = {
    "AccessShareLock": "ACCESS SHARE",
    "RowShareLock": "ROW SHARE",
    "RowExclusiveLock": "ROW EXCLUSIVE",
    "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "ShareLock": "SHARE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}
LOCK_BLOCKS = {
    "AccessShareLock": "only ACCESS EXCLUSIVE (ALTER TABLE, DROP, TRUNCATE); reads and writes continue",
    "RowShareLock": "EXCLUSIVE and ACCESS EXCLUSIVE; reads and writes continue",
    "RowExclusiveLock": "SHARE and stronger (CREATE INDEX, ALTER TABLE); reads and writes continue",
    "ShareUpdateExclusiveLock": "VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY and schema changes; "
    "reads and writes continue",
    "ShareLock": "INSERT, UPDATE and DELETE until the step commits; reads continue",
    "ShareRowExclusiveLock": "INSERT, UPDATE, DELETE and other SHARE locks; reads continue",
    "ExclusiveLock": "everything but plain SELECT until the step commits",
    "AccessExclusiveLock": "everything, SELECT included, until the step commits",
}
_REPORTED_LOCKS = (
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)


class StepResult(BaseModel):
    revision: str
    message: str = ""
    file: str | None = None
    status: str = Field(description="ok, failed in <phase>, or not-run.")
    upgrade_s: float | None = None
    downgrade_s: float | None = None
    reupgrade_s: float | None = None
    check_s: float | None = Field(default=None, description="Time spent on snapshots and data checks.")
    schema_changes: list[str] = Field(default_factory=list, description="What the upgrade changed.")


class Difference(BaseModel):
    revision: str
    phase: Literal["downgrade", "re-upgrade"] = Field(
        description="downgrade: compared with the schema before the upgrade; "
        "re-upgrade: compared with the first upgrade."
    )
    kind: str
    object: str
    table: str | None = None
    column: str | None = None
    change: Literal["missing", "unexpected", "changed"]
    message: str


class DataLoss(BaseModel):
    revision: str
    kind: Literal["not-restored", "dropped-by-downgrade"] = Field(
        description="not-restored: data present before the upgrade is gone or changed after the downgrade; "
        "dropped-by-downgrade: data in a table/column the upgrade created is dropped by the downgrade."
    )
    table: str
    column: str | None = None
    rows_before: int
    rows_after: int
    message: str


class LockTaken(BaseModel):
    revision: str
    relation: str
    kind: Literal["table", "index"]
    table: str
    mode: str = Field(description="PostgreSQL lock mode as pg_locks names it, e.g. ShareLock.")
    sql_mode: str = Field(description="The mode as LOCK TABLE names it, e.g. SHARE.")
    blocks: str = Field(description="What other sessions cannot do while the step holds it.")


class Rewrite(BaseModel):
    revision: str
    relation: str
    kind: Literal["table", "index"]
    table: str


class DriftItem(BaseModel):
    kind: str
    table: str | None = None
    column: str | None = None
    message: str


class FailureReport(BaseModel):
    revision: str | None
    phase: str | None = Field(description="prepare, upgrade, downgrade or re-upgrade.")
    mode: str = Field(
        description="not-null-violation, foreign-key-violation, unique-violation, type-mismatch, "
        "object-already-exists, object-does-not-exist, object-still-referenced or unknown."
    )
    error: str
    file: str | None = None
    line: int | None = None
    applied: list[str] = Field(
        default_factory=list,
        description="Schema changes the failed step left behind (non-transactional DDL).",
    )
    facts: dict[str, Any] = Field(default_factory=dict)
    recovery: list[str] = Field(default_factory=list)


class ScratchReport(BaseModel):
    url: str | None = Field(default=None, description="Scratch database URL, password masked.")
    backend: str | None = None
    dropped: bool = False


class SeedReport(BaseModel):
    data_from: DataFrom
    rows_per_table: int
    tables: dict[str, int] = Field(default_factory=dict, description="Rows inserted per table.")
    skipped: dict[str, str] = Field(default_factory=dict, description="Tables left empty, with the reason.")


class TestRoundtripResult(VerdictResult):
    revisions: list[str] = Field(default_factory=list, description="Revisions tested, in upgrade order.")
    from_revision: list[str] = Field(default_factory=list, description="Where the scratch database started.")
    steps: list[StepResult] = Field(default_factory=list)
    steps_planned: int = Field(default=0, description="Revisions the rehearsal was to upgrade, downgrade, upgrade.")
    steps_run: int = Field(default=0, description="Of those, the ones whose three steps all ran (status ok).")
    differences: list[Difference] = Field(default_factory=list)
    data_loss: list[DataLoss] = Field(default_factory=list)
    locks: list[LockTaken] = Field(default_factory=list)
    rewrites: list[Rewrite] = Field(default_factory=list)
    drift: list[DriftItem] = Field(default_factory=list)
    drift_checked: bool = False
    lock_trace: str = Field(default="off", description="on, off, not PostgreSQL, or why it was unavailable.")
    transaction_mode: str = Field(
        default="per-step",
        description="per-step: each step committed on its own; single: env.py wraps all steps in one "
        "transaction (a failure then rolls back everything, and locks cannot be traced per step).",
    )
    seed: SeedReport | None = None
    failure: FailureReport | None = None
    scratch_database: ScratchReport = Field(default_factory=ScratchReport)
    total_s: float = 0.0


__test__ = False  # not a pytest test class, despite the name


# ------------------------------------------------------------------ arguments


def validate_arguments(
    revision: Any, from_revision: Any, seed_rows: Any, data_from: Any, trace_locks: Any, timeout_s: Any
) -> None:
    if not isinstance(revision, str) or not revision.strip():
        raise InvalidArgument("revision must be a revision id, a unique prefix, a branch label or 'heads'.")
    if from_revision is not None and (not isinstance(from_revision, str) or not from_revision.strip()):
        raise InvalidArgument("from_revision must be a revision id, 'base', or omitted (null).")
    if isinstance(seed_rows, bool) or not isinstance(seed_rows, int) or not 0 <= seed_rows <= MAX_SEED_ROWS:
        raise InvalidArgument(f"seed_rows must be an integer from 0 to {MAX_SEED_ROWS}; got {seed_rows!r}.")
    if data_from not in ("seed", "target"):
        raise InvalidArgument(f"data_from must be 'seed' or 'target'; got {data_from!r}.")
    if not isinstance(trace_locks, bool):
        raise InvalidArgument(f"trace_locks must be true or false; got {trace_locks!r}.")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 1 <= timeout_s <= MAX_TIMEOUT_S:
        raise InvalidArgument(f"timeout_s must be a number of seconds from 1 to {MAX_TIMEOUT_S}; got {timeout_s!r}.")


def _resolve_one(history: History, ident: str, what: str) -> str:
    matches = [r for r in history.resolve(ident.strip()) if r in history.nodes]
    if not matches:
        raise InvalidArgument(
            f"Unknown {what} {ident!r}. Heads: {', '.join(history.heads) or 'none'}; "
            "use a revision id, a unique prefix, a branch label or 'heads'."
        )
    if len(matches) > 1:
        raise InvalidArgument(
            f"{what} {ident!r} matches several revisions ({', '.join(sorted(matches)[:6])}); give more characters."
        )
    return matches[0]


def _targets(history: History, revision: str) -> list[str]:
    if revision.strip() in ("head", "heads"):
        if not history.heads:
            raise InvalidArgument("The project has no revisions to test.")
        return list(history.heads)
    return [_resolve_one(history, revision, "revision")]


def _ancestors(history: History, revs: list[str]) -> set[str]:
    return set().union(*(history.ancestors(r) for r in revs)) if revs else set()


def plan_range(
    history: History, revision: str, from_revision: str | None, current: list[str] | None
) -> tuple[list[str], list[str], str]:
    """(revisions under test, from revisions, how from was chosen)."""
    targets = _targets(history, revision)
    wanted = _ancestors(history, targets)
    if from_revision is not None:
        if from_revision.strip() == "base":
            start: list[str] = []
        else:
            start = [_resolve_one(history, from_revision, "from_revision")]
            if start[0] not in wanted or start[0] in targets:
                raise InvalidArgument(
                    f"from_revision {start[0]} is not below revision {', '.join(targets)}; "
                    "it must be an ancestor of the revision to test (or 'base')."
                )
        how = "given"
    elif current and all(r in history.nodes for r in current) and wanted - _ancestors(history, current):
        start, how = [r for r in current if r in wanted] or [], "the target database's revision"
    elif current and all(r in history.nodes for r in current):
        start = sorted({p for t in targets for p in history.nodes[t].down_revisions})
        how = "the parent of the tested revision (the target is already there)"
    else:
        start, how = [], "base (the target has no revision)"
    under_test = history.ordered(wanted - _ancestors(history, start))
    if not under_test:
        raise InvalidArgument("Nothing to test between from_revision and revision.")
    return under_test, start, how


# ------------------------------------------------------------------ the tool


def _production_refusal(project: Project, data_from: DataFrom) -> TestRoundtripResult | None:
    """On a production target, copying its data or creating scratch databases on its server is a human's
    call: escalate before doing anything."""
    settings = project.settings
    if not is_production(project.database_url, settings.environment, settings.production_hosts):
        return None
    if data_from == "target":
        reason = (
            "The target is classified production: copying its data (a full dump) into a scratch "
            "database loads the production server and moves production data."
        )
        steps = ["Ask a human whether a dump of production may be taken now, or call again with data_from='seed'."]
    elif not settings.scratch_url:
        reason = (
            "The target is classified production and no scratch_url is set: the rehearsal would "
            "create a scratch database on the production server."
        )
        steps = [
            "Set scratch_url to a non-production server (ALEMBIC_MCP_SCRATCH_URL or [tool.alembic-mcp]), "
            "then call test_roundtrip again."
        ]
    else:
        return None
    return TestRoundtripResult(
        escalations=[
            Escalation(
                rule="production-database",
                reason=reason,
                evidence={"target": project.masked_database_url, "data_from": data_from},
            )
        ],
        summary=reason + " Nothing was run.",
        next_steps=steps,
    )


def _missing_sqlite_file(url: Any) -> bool:
    """A SQLite target that does not exist yet: reading it would create the file, so don't."""
    return (
        backend_of(url) == "sqlite"
        and bool(url.database)
        and url.database != ":memory:"
        and not (Path(url.database).exists())
    )


LOCK_TIMEOUT_SET = re.compile(r"^[^#\n]*lock_timeout", re.M)


def lock_timeout_set(project: Project, revision_path: str | Path) -> bool:
    """The revision or env.py sets lock_timeout (read as text, not imported)."""
    for path in (Path(revision_path), project.script_location / "env.py"):
        try:
            if LOCK_TIMEOUT_SET.search(path.read_text(encoding="utf-8")):
                return True
        except OSError:
            continue
    return False


def _lock_fix(already_set: bool) -> str:
    if already_set:
        return (
            "lock_timeout is already set, so waiting for this lock fails fast instead of queueing reads behind it; "
            "keep the step small (no rewrite or scan under this lock)."
        )
    return "Set lock_timeout in the migration (op.execute(\"SET LOCAL lock_timeout = '5s'\")) and keep the step small."


async def test_roundtrip(
    project: Project,
    revision: str = "heads",
    from_revision: str | None = None,
    seed_rows: int = 20,
    data_from: DataFrom = "seed",
    trace_locks: bool = True,
    timeout_s: float = 300,
    progress: Progress = no_progress,
) -> TestRoundtripResult:
    validate_arguments(revision, from_revision, seed_rows, data_from, trace_locks, timeout_s)
    started = time.perf_counter()
    deadline = started + timeout_s
    target = project.database_url
    scratch_base = target or (parse_url(project.settings.scratch_url) if project.settings.scratch_url else None)
    if scratch_base is None:
        raise ProjectError(
            "No database configured: test_roundtrip needs a target database URL (database_url, "
            "$DATABASE_URL or alembic's sqlalchemy.url) or scratch_url to know which database "
            "server to rehearse on."
        )
    if data_from == "target" and target is None:
        raise InvalidArgument("data_from='target' needs a target database; configure database_url or use 'seed'.")
    refusal = _production_refusal(project, data_from)
    if refusal is not None:
        return refusal
    prestart(worker_python(project).path)  # warms up while we plan and copy
    await progress(0, None, "loading the revision history")
    fast = await anyio.to_thread.run_sync(history_from_files, project)
    history = fast[0] if fast is not None else (await load_history(project, check_env=False))[0]
    broken = [f for f in history.findings if f.severity == "error"]
    if broken or not history.usable:
        return TestRoundtripResult(
            findings=broken,
            summary="The history is broken; fix it before a rehearsal.",
            next_steps=[f"{f.rule}: {f.fix}" for f in broken],
        )
    findings: list[Finding] = []
    current: list[str] | None = None
    if target is not None and not _missing_sqlite_file(target):
        try:
            current = await current_revisions(
                target, project.settings.version_table, project.settings.version_table_schema
            )
        except AlembicMcpError as exc:
            if data_from == "target":
                raise
            findings.append(
                Finding(
                    rule="database-unreachable",
                    severity="info",
                    message="The target database could not be read; the range starts at base.",
                    why=str(exc),
                )
            )
    under_test, start, how = plan_range(history, revision, from_revision, current)
    prepare = "upgrade"
    if data_from == "target":
        have = _ancestors(history, current or [])
        want = _ancestors(history, start)
        if have == want:
            prepare = "none"
        elif want < have:
            prepare = "downgrade"
        elif not have <= want:
            raise InvalidArgument(
                "from_revision is on a different branch than the target database's revision "
                f"({', '.join(current or []) or 'base'}); with data_from='target' it must be "
                "an ancestor or descendant of it."
            )
    end_state = set(under_test) | _ancestors(history, start)
    check_drift = all(h in end_state for h in history.heads)
    seeding = data_from == "seed" and seed_rows > 0
    total = 1 + int(seeding) + 3 * len(under_test) + int(check_drift)
    scratch_report = ScratchReport(backend=backend_of(scratch_base))
    raw: dict[str, Any] | None = None
    worker_problem: str | None = None
    unsupported: UnsupportedWorkerEnvironment | None = None
    timed_out = False
    last_progress: dict[str, Any] = {"message": "", "offset": 0}
    settings = project.settings
    async with scratch_database(scratch_base, settings.scratch_url, settings.scratch_credentials) as scratch:
        scratch_report.url = scratch.masked_url
        if data_from == "target":
            await progress(0, total, f"copying the target's data into {scratch.masked_url} (read-only on the target)")
            await copy_database(target, scratch.url, scratch.role)  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory(prefix="alembic-mcp-rt-") as tmp:
            progress_path = Path(tmp) / "progress.jsonl"
            progress_path.touch()
            args = RoundtripArgs(
                revisions=under_test,
                from_revision=start,
                prepare=prepare,
                seed_rows=seed_rows if seeding else 0,
                trace_locks=trace_locks,
                check_drift=check_drift,
                progress_path=str(progress_path),
                total_steps=total,
                version_table=project.settings.version_table,
                bootstrap=project.settings.bootstrap if data_from == "seed" else None,
            )
            remaining = max(1.0, deadline - time.perf_counter())
            async with anyio.create_task_group() as tg:
                tg.start_soon(_relay_progress, progress_path, progress, last_progress)
                try:
                    raw = await run_worker(
                        project, "roundtrip", args, database_url=scratch.url_string, timeout_s=remaining
                    )
                except WorkerError as exc:
                    worker_problem = f"{exc.info.get('type')}: {exc.info.get('message')}"
                except UnsupportedWorkerEnvironment as exc:  # raised below, outside the task group
                    unsupported = exc
                except WorkerFailed as exc:
                    timed_out = exc.timed_out
                    worker_problem = str(exc)
                finally:
                    tg.cancel_scope.cancel()
            await _relay_once(progress_path, progress, last_progress)
    scratch_report.dropped = scratch.dropped
    if unsupported is not None:
        raise unsupported
    result = _build(project, history, raw, under_test, start, how, seed_rows, data_from, findings)
    result.findings.extend(scratch_notes(scratch, json.dumps([raw, worker_problem], default=str)))
    result.scratch_database = scratch_report
    result.total_s = round(time.perf_counter() - started, 3)
    if worker_problem is not None:
        _worker_failed(result, worker_problem, timed_out, timeout_s, last_progress["message"])
    await progress(total, total, result.summary)
    return result


async def _relay_once(path: Path, progress: Progress, last: dict[str, Any]) -> None:
    """Relay the complete lines the worker appended since the last call (``last["offset"]``)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(last["offset"])
            chunk = fh.read()
    except OSError:
        return
    complete = chunk[: chunk.rfind(b"\n") + 1]
    last["offset"] += len(complete)
    for line in complete.decode("utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        last["message"] = item["message"]
        await progress(item["done"], item["total"], item["message"])


async def _relay_progress(path: Path, progress: Progress, last: dict[str, Any]) -> None:
    while True:
        await _relay_once(path, progress, last)
        await anyio.sleep(0.1)


# ------------------------------------------------------------------ verdict


def _worker_failed(result: TestRoundtripResult, problem: str, timed_out: bool, timeout_s: float, last: str) -> None:
    where = f" The last completed step: {last}." if last else ""
    reason = (
        f"The rehearsal did not finish within {timeout_s:g} s and was stopped.{where}"
        if timed_out
        else f"The rehearsal worker failed: {problem}.{where}"
    )
    result.escalations.append(
        Escalation(
            rule="migration-failure-unclear",
            reason=reason,
            evidence={"timed_out": timed_out, "detail": problem[-1500:]},
        )
    )
    result.verdict = "escalate"
    result.escalate_to_human = True
    result.summary = reason + " The scratch database was dropped; the target was not touched."
    result.next_steps = [
        "A step that hangs usually waits on a lock or loops over data: look at the revision "
        "after the last completed step.",
        "Raise timeout_s if the history is just large, and call test_roundtrip again.",
    ]


def _build(
    project: Project,
    history: History,
    raw: dict[str, Any] | None,
    under_test: list[str],
    start: list[str],
    how: str,
    seed_rows: int,
    data_from: DataFrom,
    findings: list[Finding],
) -> TestRoundtripResult:
    escalations: list[Escalation] = []
    raw = raw or {}
    steps_by_rev = {s["revision"]: s for s in raw.get("steps", [])}
    steps = []
    for rev in under_test:
        node = history.nodes[rev]
        rec = steps_by_rev.get(rev, {})
        steps.append(
            StepResult(
                revision=rev,
                message=(node.doc or "").strip().splitlines()[0] if (node.doc or "").strip() else "",
                file=project.relative(node.path),
                status=rec.get("status", "not-run"),
                upgrade_s=rec.get("upgrade_s"),
                downgrade_s=rec.get("downgrade_s"),
                reupgrade_s=rec.get("reupgrade_s"),
                check_s=rec.get("check_s"),
                schema_changes=rec.get("schema_changes", []),
            )
        )
    differences = [Difference(**{k: d.get(k) for k in Difference.model_fields}) for d in raw.get("differences", [])]
    data_loss = [DataLoss(**{k: d.get(k) for k in DataLoss.model_fields}) for d in raw.get("data_loss", [])]
    locks = [
        LockTaken(
            revision=lk["revision"],
            relation=lk["relation"],
            kind=lk["kind"],
            table=lk["table"],
            mode=lk["mode"],
            sql_mode=LOCK_SQL_NAMES.get(lk["mode"], lk["mode"]),
            blocks=LOCK_BLOCKS.get(lk["mode"], "unknown"),
        )
        for lk in raw.get("locks", [])
        if lk["mode"] in _REPORTED_LOCKS
    ]
    rewrites = [Rewrite(**rw) for rw in raw.get("rewrites", [])]
    drift_raw = raw.get("drift") or {}
    drift = [DriftItem(**item) for item in drift_raw.get("items", [])]
    seed = None
    if raw.get("seed") is not None or data_from == "target":
        seeded = raw.get("seed") or {}
        seed = SeedReport(
            data_from=data_from,
            rows_per_table=seed_rows if data_from == "seed" else 0,
            tables=seeded.get("tables", {}),
            skipped=seeded.get("skipped", {}),
        )
        for table, reason in seed.skipped.items():
            findings.append(
                Finding(
                    rule="seed-skipped",
                    severity="info",
                    table=table,
                    message=f"Table {table} was not seeded: {reason}.",
                    why="Its data paths were rehearsed without rows.",
                    fix="Call again with data_from='target' to rehearse on real rows.",
                )
            )
    file_of = {rev: project.relative(history.nodes[rev].path) for rev in under_test}

    # downgrade does not restore the schema; re-upgrade differs
    for rev in under_test:
        down = [d for d in differences if d.revision == rev and d.phase == "downgrade"]
        rec = steps_by_rev.get(rev, {})
        if down:
            empty = rec.get("downgrade_ops") == 0 and not rec.get("downgrade_sql")
            reason = (
                "downgrade() is empty: it undoes nothing of what upgrade() did"
                if empty
                else "downgrade() does not restore the schema that was there before upgrade()"
            )
            escalations.append(
                Escalation(
                    rule="unclear-rollback",
                    reason=f"{rev}: {reason}.",
                    evidence={"revision": rev, "differences": [d.message for d in down]},
                )
            )
            findings.append(
                Finding(
                    rule="empty-downgrade" if empty else "downgrade-incomplete",
                    severity="error",
                    file=file_of[rev],
                    message=f"{rev}: {reason}: {'; '.join(d.message for d in down[:8])}"
                    + (f" (+{len(down) - 8} more)" if len(down) > 8 else ""),
                    why="A rollback in production would leave a schema no revision describes.",
                    fix="Write downgrade() as the exact reverse of upgrade(): drop what it created, "
                    "re-create "
                    "what it dropped, with the same names, in reverse order.",
                )
            )
        reup = [d for d in differences if d.revision == rev and d.phase == "re-upgrade"]
        if reup:
            findings.append(
                Finding(
                    rule="reupgrade-differs",
                    severity="error",
                    file=file_of[rev],
                    message=f"{rev}: upgrading again after the downgrade gives a different schema: "
                    f"{'; '.join(d.message for d in reup[:8])}",
                    why="The downgrade leaves state behind that changes what the next upgrade produces.",
                    fix="Make downgrade() remove everything upgrade() creates.",
                )
            )
    for rev in under_test:
        lost = [d for d in data_loss if d.revision == rev]
        if not lost:
            continue
        not_restored = [d for d in lost if d.kind == "not-restored"]
        dropped = [d for d in lost if d.kind == "dropped-by-downgrade"]
        if not_restored:
            findings.append(
                Finding(
                    rule="downgrade-loses-data",
                    severity="error",
                    file=file_of[rev],
                    table=not_restored[0].table,
                    column=not_restored[0].column,
                    message=f"{rev}: data present before the upgrade is not back after the downgrade: "
                    f"{'; '.join(d.message for d in not_restored[:6])}.",
                    why="Rolling this revision back in production destroys these values for good.",
                    fix="Keep what upgrade() removes (copy the column/table aside in upgrade() and "
                    "restore it in "
                    "downgrade()), or have a human accept that this revision is one-way.",
                )
            )
        if dropped:
            findings.append(
                Finding(
                    rule="downgrade-loses-data",
                    severity="warning",
                    file=file_of[rev],
                    table=dropped[0].table,
                    column=dropped[0].column,
                    message=f"{rev}: the downgrade drops data written after the upgrade: "
                    f"{'; '.join(d.message for d in dropped[:6])}.",
                    why="Values stored in what this revision adds are lost if it is rolled back after going live.",
                    fix="Before a rollback in production, back up these columns/tables (backup_db).",
                )
            )
    for rw in rewrites:
        if rw.kind == "table":
            findings.append(
                Finding(
                    rule="table-rewrite",
                    severity="warning",
                    file=file_of.get(rw.revision),
                    table=rw.table,
                    message=f"{rw.revision}: the upgrade rewrites table {rw.table} (its relfilenode changed).",
                    why="A rewrite copies every row while holding ACCESS EXCLUSIVE: reads and writes wait, "
                    "for a time that grows with the table.",
                    fix="Avoid the rewrite: add a new column, backfill in batches, then swap; "
                    "or change types "
                    "in a binary-compatible way (varchar length up, int -> bigint via a new column).",
                )
            )
    for lk in locks:
        if lk.mode == "ShareLock" and lk.kind == "table":
            findings.append(
                Finding(
                    rule="lock-blocks-writes",
                    severity="warning",
                    file=file_of.get(lk.revision),
                    table=lk.table,
                    message=f"{lk.revision}: the upgrade holds a SHARE lock on {lk.table} (an index build): "
                    "writes wait until it commits.",
                    why="Building an index without CONCURRENTLY blocks INSERT/UPDATE/DELETE for the whole build.",
                    fix="with op.get_context().autocommit_block(): op.create_index(..., postgresql_concurrently=True)",
                )
            )
        elif lk.mode == "AccessExclusiveLock" and lk.kind == "table":
            findings.append(
                Finding(
                    rule="lock-blocks-reads",
                    severity="info",
                    file=file_of.get(lk.revision),
                    table=lk.table,
                    message=f"{lk.revision}: the upgrade takes ACCESS EXCLUSIVE on {lk.table}: "
                    "reads and writes wait "
                    "until it commits.",
                    why="Brief for catalog-only changes; long if the step also rewrites or scans the table.",
                    fix=_lock_fix(lock_timeout_set(project, history.nodes[lk.revision].path))
                    if lk.revision in history.nodes
                    else _lock_fix(False),
                )
            )
    for item in drift:
        findings.append(
            Finding(
                rule="model-drift",
                severity="warning" if item.kind.startswith("modify_default") else "error",
                table=item.table,
                column=item.column,
                message=f"After the last revision, {item.message}.",
                why="The migrations do not produce what the models declare; the next autogenerate will pick it up.",
                fix="Call generate_migration to write the missing revision (or fix the model).",
            )
        )
    if drift_raw and not drift_raw.get("checked", True):
        findings.append(
            Finding(
                rule="drift-not-checked",
                severity="info",
                message=f"Models were not compared: {drift_raw.get('reason')}.",
            )
        )
    failure = None
    if raw.get("env_error"):
        err = raw["env_error"]
        findings.append(
            Finding(
                rule="env-py-error",
                severity="error",
                message=f"env.py raised {err.get('type')}: {err.get('message')}",
                file=project.relative(err["file"]) if err.get("file") else None,
                line=err.get("line"),
                why="No migration can run until env.py works.",
                fix="Fix env.py at the given line.",
            )
        )
    if raw.get("bootstrap_error"):
        findings.append(_bootstrap_failed(project, raw["bootstrap_error"]))
    elif not raw.get("failure") and not raw.get("env_error"):
        findings.extend(_steps_not_run(steps))
    if raw.get("failure"):
        failure = _failure(
            project,
            raw["failure"],
            backend_of(project.database_url or project.settings.scratch_url or "sqlite://"),
            findings,
            escalations,
            file_of,
        )
        findings.extend(_needs_bootstrap(project, history, failure))
    result = TestRoundtripResult(
        revisions=under_test,
        from_revision=start,
        steps=steps,
        steps_planned=len(steps),
        steps_run=sum(1 for step in steps if step.status == "ok"),
        differences=differences,
        data_loss=data_loss,
        locks=locks,
        rewrites=rewrites,
        drift=drift,
        drift_checked=bool(drift_raw.get("checked")),
        lock_trace=raw.get("lock_trace", "off"),
        transaction_mode=raw.get("transaction_mode", "per-step"),
        seed=seed,
        failure=failure,
        findings=findings,
        escalations=escalations,
        summary="",
    )
    result.summary = _summary(result, how)
    result.next_steps = _next_steps(result)
    return result


def _failure(
    project: Project,
    raw: dict[str, Any],
    backend: str,
    findings: list[Finding],
    escalations: list[Escalation],
    file_of: dict[str, str],
) -> FailureReport:
    rev, phase, mode = raw.get("revision"), raw.get("phase"), raw.get("mode", "unknown")
    words = explain(mode, raw.get("facts") or {}, phase or "", rev or "", backend)
    applied = raw.get("applied") or []
    recovery: list[str] = []
    if applied:
        recovery.append(
            f"The failed step left {len(applied)} change(s) behind (DDL on {backend} is not "
            f"transactional): {'; '.join(applied[:10])}. On a real database, revert these by hand; "
            "alembic_version still names the previous revision."
        )
        recovery.append(
            "Split the revision so each one holds a single DDL statement, so a failure leaves a "
            "state some revision describes."
        )
    else:
        recovery.append(
            "Nothing of the failed step remained (it was rolled back); alembic_version names the previous revision."
        )
    recovery.append(words["fix"])
    recovery.append("Call test_roundtrip again after the fix.")
    report = FailureReport(
        revision=rev,
        phase=phase,
        mode=mode,
        error=raw.get("error", ""),
        file=project.relative(raw["file"]) if raw.get("file") else file_of.get(rev or ""),
        line=raw.get("line"),
        applied=applied,
        facts=raw.get("facts") or {},
        recovery=recovery,
    )
    where = f"{rev} ({phase})" if rev else (phase or "a step")
    if applied:
        findings.append(
            Finding(
                rule="migration-failed-midway",
                severity="error",
                file=report.file,
                line=report.line,
                message=f"{where} failed halfway and left {len(applied)} change(s) applied: {'; '.join(applied[:6])}.",
                why="Non-transactional DDL: the database is now in a state no revision describes.",
                fix=recovery[0],
            )
        )
    if mode == "unknown" or (phase == "prepare" and mode == "unknown"):
        escalations.append(
            Escalation(
                rule="migration-failure-unclear",
                reason=f"{where} failed and the cause matches no known failure mode.",
                evidence={"revision": rev, "phase": phase, "error": report.error[:1000]},
            )
        )
    else:
        findings.append(
            Finding(
                rule=mode,
                severity="error",
                file=report.file,
                line=report.line,
                table=(report.facts or {}).get("table"),
                column=(report.facts or {}).get("column"),
                message=f"{where} failed: {words['title']}.",
                why=words["why"],
                fix=words["fix"],
            )
        )
    what_failed = "downgrade() raises" if phase == "downgrade" else "upgrading again after the downgrade fails"
    if phase in ("downgrade", "re-upgrade"):
        escalations.append(
            Escalation(
                rule="unclear-rollback",
                reason=f"{rev}: {what_failed} ({mode}).",
                evidence={"revision": rev, "error": report.error[:1000]},
            )
        )
    return report


def _bootstrap_failed(project: Project, err: dict[str, Any]) -> Finding:
    return Finding(
        rule="bootstrap-failed",
        severity="error",
        message=f"The bootstrap {project.settings.bootstrap!r} raised {err.get('type')}: {err.get('message')}; "
        "no revision ran.",
        file=project.relative(err["file"]) if err.get("file") else None,
        line=err.get("line"),
        why="The scratch database could not be given its starting schema, so the history was not rehearsed.",
        fix="Fix the bootstrap (a `module:function` taking a SQLAlchemy connection, or a .sql file), "
        "then call test_roundtrip again.",
    )


def _needs_bootstrap(project: Project, history: History, failure: FailureReport) -> list[Finding]:
    """A base revision failing on a missing object: the history expects a schema that predates it."""
    node = history.nodes.get(failure.revision or "")
    if failure.mode != "object-does-not-exist" or node is None or node.down_revisions:
        return []
    configured = project.settings.bootstrap
    return [
        Finding(
            rule="needs-bootstrap",
            severity="error",
            file=failure.file,
            line=failure.line,
            message=f"The base revision {failure.revision} failed on an object no revision creates: the history "
            "appears to start from an existing schema (e.g. the project runs create_all and stamps before "
            "its first migration)."
            + (f" The configured bootstrap {configured!r} did not create it." if configured else ""),
            why="On an empty database the first revision cannot run; real deployments had the schema already.",
            fix="Give scratch databases that starting schema: in pyproject.toml [tool.alembic-mcp] set "
            'bootstrap = "myapp.db:create_base_schema" (a function receiving a SQLAlchemy connection, e.g. '
            'calling Base.metadata.create_all for the pre-migration tables) or bootstrap = "schema/base.sql" '
            "(or ALEMBIC_MCP_BOOTSTRAP), then call test_roundtrip again.",
        )
    ]


def _steps_not_run(steps: list[StepResult]) -> list[Finding]:
    """Planned revisions the rehearsal never reached although nothing failed: env.py did not run them."""
    missing = [step.revision for step in steps if step.status != "ok"]
    if not missing:
        return []
    return [
        Finding(
            rule="steps-not-run",
            severity="error",
            message=f"{len(missing)} of {len(steps)} planned revision(s) did not run: "
            f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}. Nothing was rehearsed for them.",
            why="env.py returned without running the migrations asked for, so nothing can be said about them.",
            fix="Make env.py call context.run_migrations() on the connection in config.attributes['connection'] "
            "(or the URL in sqlalchemy.url / $DATABASE_URL), then call test_roundtrip again.",
        )
    ]


def _summary(result: TestRoundtripResult, how: str) -> str:
    n, ok = result.steps_planned, result.steps_run
    frm = ", ".join(result.from_revision) or "base"
    if result.failure is not None:
        f = result.failure
        return (
            f"Rehearsal from {frm} ({how}) failed at {f.revision} during {f.phase}: {f.mode}; "
            f"{ok} of {n} planned revision(s) ran before it. "
            "The scratch database was dropped; the target was not touched."
        )
    if n == 0 or ok == 0:
        return (
            f"Rehearsal from {frm} ({how}): 0 of {n} planned revision(s) ran on the scratch database; nothing tested."
        )
    problems = []
    if result.differences:
        problems.append(f"{len(result.differences)} schema difference(s)")
    if any(d.kind == "not-restored" for d in result.data_loss):
        problems.append("data not restored by a downgrade")
    if result.drift:
        problems.append(f"{len(result.drift)} model drift item(s)")
    text = f"Upgrade, downgrade and upgrade of {ok} of {n} planned revision(s) from {frm} ({how}) ran on a scratch "
    text += "database"
    if problems:
        text += f"; found {', '.join(problems)}."
    elif ok < n:
        text += f"; schema and data survived the {ok} that ran; {n - ok} did not run."
    else:
        text += "; schema and data survived every step."
    if result.rewrites:
        text += f" {len(result.rewrites)} table rewrite(s)."
    return text


def _next_steps(result: TestRoundtripResult) -> list[str]:
    if result.verdict == "escalate":
        steps = [f"Show a human: {e.reason}" for e in result.escalations[:5]]
        steps.append("Do not apply these revisions anywhere until a human decided.")
        return steps
    if result.verdict == "fix":
        steps = [f"{f.rule}: {f.fix}" for f in result.findings if f.severity == "error"][:6]
        steps.append("Call test_roundtrip again.")
        return steps
    return [
        "backup_db before the revisions run on a real database.",
        "Commit the models and migration files together.",
    ]
