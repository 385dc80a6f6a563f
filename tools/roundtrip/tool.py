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
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument, ProjectError, WorkerFailed
from alembic_mcp.tools.core.policy import is_production
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.urls import backend_of, parse_url
from alembic_mcp.tools.core.verdict import Approval, Escalation, Finding
from alembic_mcp.tools.db.datacopy import copy_database
from alembic_mcp.tools.db.dbinfo import current_revisions
from alembic_mcp.tools.db.scratch import ScratchDatabase, scratch_database, scratch_notes
from alembic_mcp.tools.db.scratch_later import drop_later
from alembic_mcp.tools.history.cache import parsed as parsed_file
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.history.graph import History, load_history
from alembic_mcp.tools.roundtrip.app_check import (
    AppCheckReport,
    app_check_finding,
    reached_head_cleanly,
    run_app_check,
)
from alembic_mcp.tools.roundtrip.deploy_mode import DeployMode, deploy_findings, deploy_mode
from alembic_mcp.tools.roundtrip.failures import (
    FailureReport,
    SeedLimitation,
    StopReport,
    failure_report,
    seed_limitation_finding,
    stopped_finding,
)
from alembic_mcp.tools.roundtrip.models import (
    DataFrom,
    ScratchReport,
    StepResult,
    TestRoundtripResult,
)
from alembic_mcp.tools.roundtrip.report import (
    data_loss_findings,
    drift_findings,
    env_error_findings,
    lock_findings,
    parsed,
    schema_findings,
    seed_report,
    steps_of,
)
from alembic_mcp.tools.worker.prestart import prestart
from alembic_mcp.tools.worker.protocol import RoundtripArgs
from alembic_mcp.tools.worker.runner import UnsupportedWorkerEnvironment, WorkerError, run_worker, worker_python

MAX_SEED_ROWS = 10_000
MAX_TIMEOUT_S = 3600
BUDGET_SHARE = 0.8  # of the time left: the worker starts no new revision after it, then reports

__test__ = False  # not a pytest test class, despite the name


@dataclass
class ReviewFacts:
    """What review_migration says of the revisions under test (passed in by the server, which composes
    the tools): its escalations stand (a rehearsal that ran cleanly does not clear what only a human may
    decide), its approvals are listed, and a column downgrade() carries into a kept column before dropping
    it is no data loss here either."""

    escalations: list[Escalation] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    carried: set[tuple[str, str, str]] = field(default_factory=set)  # (revision, table, column)


ReviewEscalations = Callable[[list[str]], Awaitable[ReviewFacts]]


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
        how = "from_revision as given"
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
    elif not settings.scratch_url and not _sqlite(project.database_url):  # SQLite: a temp file, no server
        reason = (
            "The target is classified production and no scratch_url is set: the rehearsal would "
            "create a scratch database on the production server."
        )
        steps = [
            "Ask a human for a non-production server for scratch databases and to set scratch_url "
            "(ALEMBIC_MCP_SCRATCH_URL or [tool.alembic-mcp]); then call test_roundtrip again. Approving "
            "production-database does not lift this."
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


def _sqlite(url: Any) -> bool:
    return url is not None and backend_of(url) == "sqlite"


def _missing_sqlite_file(url: Any) -> bool:
    """A SQLite target that does not exist yet: reading it would create the file, so don't."""
    return (
        backend_of(url) == "sqlite"
        and bool(url.database)
        and url.database != ":memory:"
        and not (Path(url.database).exists())
    )


@dataclass
class _Call:
    """The arguments of one test_roundtrip call."""

    revision: str
    from_revision: str | None
    seed_rows: int
    data_from: DataFrom
    trace_locks: bool
    timeout_s: float
    progress: Progress
    review: ReviewEscalations | None
    started: float = field(default_factory=time.perf_counter)


async def test_roundtrip(
    project: Project,
    revision: str = "heads",
    from_revision: str | None = None,
    seed_rows: int = 20,
    data_from: DataFrom = "seed",
    trace_locks: bool = True,
    timeout_s: float = 300,
    progress: Progress = no_progress,
    review: ReviewEscalations | None = None,
) -> TestRoundtripResult:
    validate_arguments(revision, from_revision, seed_rows, data_from, trace_locks, timeout_s)
    call = _Call(revision, from_revision, seed_rows, data_from, trace_locks, timeout_s, progress, review)
    target, scratch_base = _databases(project, data_from)
    refusal = _production_refusal(project, data_from)
    if refusal is not None:
        return refusal
    prestart(worker_python(project).path)  # warms up while we plan and copy
    await progress(0, None, "loading the revision history")
    findings: list[Finding] = []
    async with AsyncExitStack() as stack:  # the scratch database is dropped on every way out
        history, current, scratch = await _history_and_scratch(
            project, target, scratch_base, data_from, findings, stack
        )
        return await _rehearse(project, history, current, scratch, findings, call)


async def _history_and_scratch(
    project: Project,
    target: Any,
    scratch_base: Any,
    data_from: DataFrom,
    findings: list[Finding],
    stack: AsyncExitStack,
) -> tuple[History, list[str] | None, ScratchDatabase | Exception]:
    """The history and the target's revision, read while the scratch database is created (each takes a
    few hundred milliseconds); the scratch database is entered on ``stack``, or what creating it raised."""
    read: dict[str, Any] = {}
    scratch: ScratchDatabase | Exception

    async def read_history() -> None:  # an error is raised as itself below, not in the group's ExceptionGroup
        try:
            read["history"] = await _history(project)
            read["current"] = await _target_revision(project, target, data_from, findings)
        except Exception as error:
            read["error"] = error

    settings = project.settings
    async with anyio.create_task_group() as group:
        group.start_soon(read_history)
        with anyio.CancelScope(shield=True):  # created whole, then dropped by the stack, even if reading fails
            try:
                scratch = await stack.enter_async_context(
                    scratch_database(scratch_base, settings.scratch_url, settings.scratch_credentials)
                )
            except Exception as error:
                scratch = error
    if "error" in read:
        raise read["error"]
    return read["history"], read["current"], scratch


async def _rehearse(
    project: Project,
    history: History,
    current: list[str] | None,
    scratch: ScratchDatabase | Exception,
    findings: list[Finding],
    call: _Call,
) -> TestRoundtripResult:
    """Plan the range, run the worker on the scratch database (with the review alongside), build the result."""
    broken = [f for f in history.findings if f.severity == "error"]
    if broken or not history.usable:
        return TestRoundtripResult(
            findings=broken,
            summary="The history is broken; fix it before a rehearsal.",
            next_steps=[f"{f.rule}: {f.fix}" for f in broken],
        )
    if isinstance(scratch, Exception):  # raised once the history is known to be usable, as before
        raise scratch
    revision, from_revision, seed_rows, data_from = call.revision, call.from_revision, call.seed_rows, call.data_from
    trace_locks, timeout_s, progress, review = call.trace_locks, call.timeout_s, call.progress, call.review
    started = call.started
    under_test, start, how = plan_range(history, revision, from_revision, current)
    args = _worker_args(project, history, under_test, start, _prepare_mode(history, current, start, data_from))
    args.seed_rows = seed_rows if data_from == "seed" else 0
    args.trace_locks = trace_locks
    args.bootstrap = project.settings.bootstrap if data_from == "seed" else None
    reviewed = ReviewFacts()

    reviewed_now = anyio.Event()

    async def review_alongside() -> None:  # the review's own worker runs while the rehearsal does
        nonlocal reviewed
        if review is not None:
            reviewed = await review(under_test)
        reviewed_now.set()

    def build(run: _ScratchRun) -> TestRoundtripResult:
        if run.app_check is not None:  # before _build: the verdict and next steps count its finding
            findings.append(app_check_finding(run.app_check, project.settings.app_check_timeout_s))
        raw = _without_carried(run.raw, reviewed.carried)
        return _build(project, history, raw, under_test, start, how, seed_rows, data_from, findings)

    failed: Exception | None = None  # raised as itself, not wrapped in the task group's ExceptionGroup
    built: list[TestRoundtripResult] = []
    async with anyio.create_task_group() as group:
        group.start_soon(review_alongside)
        try:
            run = await _run_in_scratch(project, scratch, data_from, args, started + timeout_s, progress)
        except Exception as error:
            group.cancel_scope.cancel()
            failed = error
        else:  # the drop (on PostgreSQL it waits for a checkpoint) goes on after the result
            await drop_later(scratch)
            await reviewed_now.wait()
            built.append(await anyio.to_thread.run_sync(build, run))
    if failed is not None:
        raise failed
    result = built[0]
    run.scratch.dropped = "pending" if scratch.pending else scratch.dropped
    result.approvals = [a for a in reviewed.approvals if a.revision in under_test]
    result.app_check = run.app_check
    if run.app_check is not None:
        result.summary += f" The application check {'passed' if run.app_check.passed else 'FAILED'}."
    result.findings.extend(run.notes)
    result.scratch_database = run.scratch
    result.total_s = round(time.perf_counter() - started, 3)
    if run.problem is not None:
        _worker_failed(result, run.problem, run.timed_out, timeout_s, run.last_message)
    else:
        _carry_review(result, reviewed.escalations)
    await progress(args.total_steps, args.total_steps, result.summary)
    return result


def _databases(project: Project, data_from: DataFrom) -> tuple[Any, Any]:
    """(target URL or None, the URL whose server holds the scratch database)."""
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
    return target, scratch_base


async def _history(project: Project) -> History:
    fast = await anyio.to_thread.run_sync(history_from_files, project)
    return fast[0] if fast is not None else (await load_history(project, check_env=False))[0]


async def _target_revision(
    project: Project, target: Any, data_from: DataFrom, findings: list[Finding]
) -> list[str] | None:
    """The target database's revision(s); None when there is no target or it cannot be read."""
    if target is None or _missing_sqlite_file(target):
        return None
    try:
        return await current_revisions(target, project.settings.version_table, project.settings.version_table_schema)
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
        return None


def _prepare_mode(history: History, current: list[str] | None, start: list[str], data_from: DataFrom) -> str:
    """How the scratch database reaches ``start``: upgrade from base, or (a copy of the target) none/downgrade."""
    if data_from != "target":
        return "upgrade"
    have = _ancestors(history, current or [])
    want = _ancestors(history, start)
    if have == want:
        return "none"
    if want < have:
        return "downgrade"
    if not have <= want:
        raise InvalidArgument(
            "from_revision is on a different branch than the target database's revision "
            f"({', '.join(current or []) or 'base'}); with data_from='target' it must be "
            "an ancestor or descendant of it."
        )
    return "upgrade"


def _worker_args(
    project: Project, history: History, under_test: list[str], start: list[str], prepare: str
) -> RoundtripArgs:
    end_state = set(under_test) | _ancestors(history, start)
    return RoundtripArgs(
        revisions=under_test,
        from_revision=start,
        prepare=prepare,
        check_drift=all(h in end_state for h in history.heads),
        version_table=project.settings.version_table,
    )


@dataclass
class _ScratchRun:
    """What a worker run on a scratch database gave back."""

    scratch: ScratchReport
    raw: dict[str, Any] | None = None
    problem: str | None = None
    timed_out: bool = False
    last_message: str = ""
    notes: list[Finding] = field(default_factory=list)  # about the scratch database itself (its credentials)
    app_check: AppCheckReport | None = None


async def _run_in_scratch(
    project: Project,
    scratch: ScratchDatabase,
    data_from: DataFrom,
    args: RoundtripArgs,
    deadline: float,
    progress: Progress,
) -> _ScratchRun:
    """Fill the scratch database (a copy of the target) and run the worker op (the caller drops it)."""
    args.total_steps = 1 + int(bool(args.seed_rows)) + 3 * len(args.revisions) + int(args.check_drift)
    run = _ScratchRun(scratch=ScratchReport(backend=scratch.backend))
    last_progress: dict[str, Any] = {"message": "", "offset": 0}
    unsupported: UnsupportedWorkerEnvironment | None = None
    run.scratch.url = scratch.masked_url
    if data_from == "target":
        copying = f"copying the target's data into {scratch.masked_url} (read-only on the target)"
        await progress(0, args.total_steps, copying)
        await copy_database(project.database_url, scratch.url, scratch.role)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-rt-") as tmp:
        progress_path = Path(tmp) / "progress.jsonl"
        progress_path.touch()
        args.progress_path = str(progress_path)
        remaining = max(1.0, deadline - time.perf_counter())
        args.budget_s = round(remaining * BUDGET_SHARE, 1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_relay_progress, progress_path, progress, last_progress)
            try:
                run.raw = await run_worker(
                    project, "roundtrip", args, database_url=scratch.url_string, timeout_s=remaining
                )
            except WorkerError as exc:
                run.problem = f"{exc.info.get('type')}: {exc.info.get('message')}"
            except UnsupportedWorkerEnvironment as exc:  # raised below, outside the task group
                unsupported = exc
            except WorkerFailed as exc:
                run.timed_out, run.problem = exc.timed_out, str(exc)
            finally:
                tg.cancel_scope.cancel()
        await _relay_once(progress_path, progress, last_progress)
    if reached_head_cleanly(run.raw, run.problem, args.check_drift) and project.settings.app_check_command:
        await progress(args.total_steps, args.total_steps, "running the application check on the scratch database")
        run.app_check = await run_app_check(project, scratch.url_string)
    run.notes = scratch_notes(scratch, json.dumps([run.raw, run.problem], default=str))
    if unsupported is not None:
        raise unsupported
    run.last_message = last_progress["message"]
    return run


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


def _without_carried(raw: dict[str, Any] | None, carried: set[tuple[str, str, str]]) -> dict[str, Any] | None:
    """The worker's report without the drops of columns whose values downgrade() first carried into a
    column it keeps: the review does not count them as lost, nor does the rehearsal (a value the carry
    failed to restore still shows as not-restored)."""
    if not raw or not carried:
        return raw
    kept = [
        loss
        for loss in raw.get("data_loss", [])
        if loss.get("kind") != "dropped-by-downgrade"
        or (loss.get("revision"), loss.get("table"), loss.get("column")) not in carried
    ]
    return {**raw, "data_loss": kept}


def _carry_review(result: TestRoundtripResult, escalated: list[Escalation]) -> None:
    """The review's escalations of the same revisions stand: only a human clears them, not a rehearsal."""
    known = {(e.rule, e.reason) for e in result.escalations}
    carried = [e for e in escalated if (e.rule, e.reason) not in known]
    if not carried:
        return
    result.escalations.extend(carried)
    result.verdict, result.escalate_to_human = "escalate", True
    rules = ", ".join(sorted({e.rule for e in carried}))
    result.summary += (
        f" review_migration escalates these revisions ({rules}): the rehearsal does not clear that; a human decides."
    )
    result.next_steps = _next_steps(result)


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
    result.summary = reason + " The scratch database is dropped; the target was not touched."
    # the steps did not run because the worker stopped, not because env.py skipped them
    result.findings = [finding for finding in result.findings if finding.rule != "steps-not-run"]
    result.next_steps = _after_worker_failure(problem, timed_out)


def _after_worker_failure(problem: str, timed_out: bool) -> list[str]:
    if timed_out:
        return [
            "A step that hangs usually waits on a lock or loops over data: look at the revision "
            "after the last completed step.",
            "Raise timeout_s if the history is just large, and call test_roundtrip again.",
        ]
    missing = re.search(r"No module named '([^']+)'", problem)
    if missing:
        return [
            f"Install {missing.group(1).split('.')[0]} in the project's environment (the interpreter that runs its "
            "migrations): the database URL's driver or a module env.py imports is missing there.",
            "Call test_roundtrip again.",
        ]
    return [
        "The worker stopped on an error outside the migration steps (before it could report): read the "
        "detail in the escalation's evidence, fix the environment or env.py, and call test_roundtrip again."
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
    """The result from the worker's raw report: its parts, then the findings each part warrants."""
    escalations: list[Escalation] = []
    raw = raw or {}
    file_of = {rev: project.relative(history.nodes[rev].path) for rev in under_test}
    steps = steps_of(project, history, raw, under_test, file_of)
    differences, data_loss, locks, rewrites, drift = parsed(raw)
    drift_raw = raw.get("drift") or {}
    seed = seed_report(raw, seed_rows, data_from, findings)
    schema_findings(under_test, differences, raw, file_of, findings, escalations)
    data_loss_findings(under_test, data_loss, file_of, findings)
    lock_findings(project, rewrites, locks, file_of, findings)
    drift_findings(drift, drift_raw, findings)
    env_error_findings(project, raw, findings)
    failures, seed_limitations, stopped = _failure_parts(project, history, raw, steps, file_of, findings, escalations)
    deploy = _compare_with_deploy(project, history, raw, file_of, findings)
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
        failure=failures[0] if failures else None,
        failures=failures,
        seed_limitations=seed_limitations,
        stopped=stopped,
        deploy=deploy,
        rebuilds=[_rebuild_text(r) for r in raw.get("rebuilds", [])],
        findings=findings,
        escalations=escalations,
        summary="",
    )
    result.summary = _summary(result, how)
    result.next_steps = _next_steps(result)
    return result


def _rebuild_text(rebuild: dict[str, Any]) -> str:
    """One rebuild: where to and why, and what env.py made on top of the empty database that was dropped."""
    text = f"to {', '.join(rebuild['to']) or 'base'}: {rebuild['why']}"
    dropped = rebuild.get("env_objects_dropped")
    if dropped:
        names = ", ".join(dropped[:8]) + (f" and {len(dropped) - 8} more" if len(dropped) > 8 else "")
        text += (
            f" (dropped {len(dropped)} object(s) env.py created that a fresh run does not: {names}; "
            "its models grew with the revisions the rehearsal imported)"
        )
    return text


def _failure_parts(
    project: Project,
    history: History,
    raw: dict[str, Any],
    steps: list[StepResult],
    file_of: dict[str, str],
    findings: list[Finding],
    escalations: list[Escalation],
) -> tuple[list[FailureReport], list[SeedLimitation], StopReport | None]:
    """Every failed step, the seed limitations, and where the rehearsal stopped, with their findings."""
    raw_failures = raw.get("failures") or ([raw["failure"]] if raw.get("failure") else [])
    stopped = StopReport(**raw["stopped"]) if raw.get("stopped") else None
    if raw.get("bootstrap_error"):
        findings.append(_bootstrap_failed(project, raw["bootstrap_error"]))
    elif not raw_failures and not raw.get("env_error") and stopped is None:
        findings.extend(_steps_not_run(steps))
    backend = backend_of(project.database_url or project.settings.scratch_url or "sqlite://")
    failures = []
    for raw_failure in raw_failures:
        _mark_seed_rows_only(history, list(file_of), raw_failure)
        failures.append(failure_report(project, raw_failure, backend, findings, escalations, file_of))
        findings.extend(_needs_bootstrap(project, history, failures[-1]))
    seed_limitations = [
        SeedLimitation(**{**{k: d.get(k) for k in SeedLimitation.model_fields}, "file": file_of.get(d["revision"])})
        for d in raw.get("seed_limitations", [])
    ]
    findings.extend(seed_limitation_finding(limit) for limit in seed_limitations)
    stop_finding = stopped and stopped_finding(stopped, [s.revision for s in steps if s.status == "not-run"])
    if stop_finding:
        findings.append(stop_finding)
    return failures, seed_limitations, stopped


def _mark_seed_rows_only(history: History, under_test: list[str], failure: dict[str, Any]) -> None:
    """A NOT NULL column added without a default failed on seed rows and passed without them: the table has no
    rows of the history's own there, so every row it met was a seed row. Say so in the facts, with the
    rehearsed revision that created the table (deployed together with this one, it cannot hold rows yet)."""
    facts = failure.get("facts") or {}
    if not (
        failure.get("mode") == "not-null-violation"
        and failure.get("passed_without_seed_rows")
        and facts.get("operation") == "AddColumnOp"
        and facts.get("table")
    ):
        return
    facts["rows_are_seed_rows"] = True
    revision = failure.get("revision")
    earlier = under_test[: under_test.index(revision)] if revision in under_test else []
    for rev in earlier:
        try:
            migration = parsed_file(history.nodes[rev].path)
        except (OSError, UnicodeDecodeError, SyntaxError):
            continue
        if any(op.name == "create_table" and op.table == facts["table"] for op in migration.ops_in("upgrade")):
            facts["table_created_by"] = rev
    failure["facts"] = facts


def _compare_with_deploy(
    project: Project, history: History, raw: dict[str, Any], file_of: dict[str, str], findings: list[Finding]
) -> DeployMode:
    """How env.py deploys the revisions next to how they were rehearsed, and the findings that depend on it
    (``file_of``: the revisions under test and their files, relative to the project)."""
    rehearsal = "per-step" if raw.get("transaction_mode", "per-step") == "per-step" else "single"
    deploy = deploy_mode(project.script_location / "env.py", rehearsal, len(file_of))
    sources: dict[str, tuple[str, str]] = {}
    for rev, relative in file_of.items():
        path = Path(history.nodes[rev].path)
        try:
            sources[rev] = (relative, path.read_text(encoding="utf-8"))
        except OSError:
            continue
    findings.extend(deploy_findings(deploy, sources))
    return deploy


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


def _rows_used(result: TestRoundtripResult) -> str:
    """Whose rows the steps ran on: a failure on the target's rows is the target's data, not the seed's."""
    if result.seed is not None and result.seed.data_from == "target":
        return "on a copy of the target's rows"
    if result.seed is not None and result.seed.tables:
        return f"on seed rows ({result.seed.rows_per_table} per table)"
    return "on no rows but the migrations' own"


def _summary(result: TestRoundtripResult, how: str) -> str:
    n, ok = result.steps_planned, result.steps_run
    frm = ", ".join(result.from_revision) or "base"
    how = f"{how}; {_rows_used(result)}"
    stop = f" Stopped at {result.stopped.revision}: {result.stopped.reason}." if result.stopped else ""
    if result.failures:
        listed = "; ".join(f"{f.revision} ({f.phase}): {f.mode}" for f in result.failures[:8])
        more = f" (+{len(result.failures) - 8} more)" if len(result.failures) > 8 else ""
        return (
            f"Rehearsal from {frm} ({how}) found {len(result.failures)} failed step(s): {listed}{more}; "
            f"{ok} of {n} planned revision(s) ran through upgrade, downgrade and upgrade.{stop} "
            "The scratch database is dropped; the target was not touched."
        )
    if n == 0 or ok == 0:
        return (
            f"Rehearsal from {frm} ({how}): 0 of {n} planned revision(s) ran on the scratch database; nothing tested."
        )
    problems = _problems(result)
    text = f"Upgrade, downgrade and upgrade of {ok} of {n} planned revision(s) from {frm} ({how}) ran on a scratch "
    text += "database"
    survived = "schema and data survived" if _data_checked(result) else "the schema survived"
    if problems:
        text += f"; found {', '.join(problems)}."
    elif ok < n:
        text += f"; {survived} the {ok} that ran; {n - ok} did not run."
    else:
        text += f"; {survived} every step."
    if not _data_checked(result):
        text += (
            " No data was checked: no row was seeded or copied (seed_rows=0 or an empty target), "
            "only rows the migrations write themselves."
        )
    if result.rewrites:
        tables = sorted({rewrite.table for rewrite in result.rewrites})
        text += f" Rewritten (new storage under a lock): {', '.join(tables)}; see rewrites."
    if result.seed_limitations:
        text += f" {len(result.seed_limitations)} step(s) failed on seed rows only (seed-limitation)."
    if result.deploy is not None and result.deploy.differences:
        text += " The deploy differs from the rehearsal: see deploy.differences."
    return text + stop


def _problems(result: TestRoundtripResult) -> list[str]:
    """What the steps that ran did not survive, counted from the report's own parts."""
    problems = []
    if result.differences:
        problems.append(f"{len(result.differences)} schema difference(s)")
    not_restored = [d for d in result.data_loss if d.kind == "not-restored"]
    dropped = [d for d in result.data_loss if d.kind == "dropped-by-downgrade"]
    if not_restored:
        problems.append(f"{len(not_restored)} column(s)/table(s) whose data a downgrade does not restore")
    if dropped:
        problems.append(f"{len(dropped)} column(s)/table(s) of data written after the upgrade that the downgrade drops")
    if result.drift:
        problems.append(f"{len(result.drift)} model drift item(s)")
    return problems


def _data_checked(result: TestRoundtripResult) -> bool:
    """Rows were there to compare: seeded, copied from the target, or written by the history."""
    seed = result.seed
    return seed is None or seed.rows_at_start > 0 or sum(seed.tables.values()) > 0 or bool(result.data_loss)


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
        "Back up (backup_db) before risky revisions (drops, data migrations, production) run on a real database.",
        "Commit the migration files with the model changes they belong to (if any).",
    ]
