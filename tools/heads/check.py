"""``check_heads``: the shape of the migration history and where the target database stands in it."""

from __future__ import annotations

from itertools import combinations
from typing import Literal

import anyio
from pydantic import BaseModel, Field

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.containment import UnsafeProjectFiles
from alembic_mcp.tools.core.errors import AlembicMcpError
from alembic_mcp.tools.core.policy import is_production
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.url_text import sqlite_file_missing
from alembic_mcp.tools.core.verdict import Escalation, Finding, VerdictResult
from alembic_mcp.tools.history.cache import parsed
from alembic_mcp.tools.history.graph import History, load_history
from alembic_mcp.tools.worker.runner import worker_python


class RevisionRef(BaseModel):
    revision: str
    message: str = Field(description="The revision's message (first docstring line).")
    file: str = Field(description="Migration file, relative to the project.")
    down_revisions: list[str] = Field(default_factory=list)
    branch_labels: list[str] = Field(default_factory=list)


class Branch(BaseModel):
    head: str
    branch_point: list[str] = Field(description="Revision(s) this branch grew from; empty if from base.")
    revisions: list[str] = Field(description="Revisions only on this branch, in upgrade order.")
    tables: list[str] = Field(description="Tables these revisions change in upgrade().")


class DatabaseState(BaseModel):
    status: Literal["at_head", "behind", "ahead", "empty", "unreachable", "not_configured"]
    url: str | None = Field(default=None, description="Target database, password masked.")
    current: list[str] = Field(default_factory=list, description="Revision(s) in the version table.")
    pending: list[str] = Field(default_factory=list, description="Revisions not yet applied, upgrade order.")
    unknown: list[str] = Field(default_factory=list, description="Revisions the database has but the code lacks.")
    production: bool | None = Field(
        default=None, description="Classified production (environment or production_hosts): escalations apply."
    )
    detail: str = ""


class WorkerInterpreter(BaseModel):
    python: str = Field(description="The interpreter that imported env.py and the revision files.")
    chosen_by: str = Field(
        description="How it was found: worker_python setting, $UV_PROJECT_ENVIRONMENT, a virtualenv "
        "(.venv/venv in the project or a parent), $VIRTUAL_ENV, a poetry environment, or the server's own."
    )
    python_version: str = ""
    alembic_version: str | None = Field(default=None, description="Alembic found in that interpreter.")
    sqlalchemy_version: str | None = Field(default=None, description="SQLAlchemy found in that interpreter.")


class CheckHeadsResult(VerdictResult):
    revision_count: int
    heads: list[RevisionRef]
    bases: list[RevisionRef]
    branch_points: list[RevisionRef]
    merge_points: list[RevisionRef]
    branches: list[Branch] = Field(default_factory=list, description="One per head when there are several.")
    database: DatabaseState
    worker: WorkerInterpreter | None = Field(default=None, description="Where the project's code was imported.")


def _ref(project: Project, history: History, rev: str) -> RevisionRef:
    node = history.nodes[rev]
    return RevisionRef(
        revision=rev,
        message=(node.doc or "").strip().splitlines()[0] if node.doc and node.doc.strip() else "",
        file=project.relative(node.path),
        down_revisions=list(node.down_revisions),
        branch_labels=list(node.branch_labels),
    )


def _tables_of(history: History, revisions: list[str], cache: dict[str, set[str]]) -> set[str]:
    tables: set[str] = set()
    for rev in revisions:
        if rev not in cache:
            try:
                cache[rev] = parsed(history.nodes[rev].path).tables_changed("upgrade")
            except (OSError, SyntaxError, UnicodeDecodeError):
                cache[rev] = set()
        tables |= cache[rev]
    return tables


def analyse_branches(history: History) -> tuple[list[Branch], list[tuple[str, str, list[str]]]]:
    """Per-head branches since the branch point, and the pairs of heads changing the same tables."""
    ancestry = {head: history.ancestors(head) for head in history.heads}
    cache: dict[str, set[str]] = {}
    branches: list[Branch] = []
    own: dict[str, set[str]] = {}
    for head in history.heads:
        others = set().union(*(ancestry[h] for h in history.heads if h != head))
        only_here = ancestry[head] - others
        own[head] = only_here
        points = sorted({p for r in only_here for p in history.nodes[r].down_revisions if p not in only_here})
        ordered = history.ordered(only_here)
        branches.append(
            Branch(
                head=head, branch_point=points, revisions=ordered, tables=sorted(_tables_of(history, ordered, cache))
            )
        )
    conflicts = []
    for a, b in combinations(history.heads, 2):
        shared = _tables_of(history, sorted(ancestry[a] - ancestry[b]), cache) & _tables_of(
            history, sorted(ancestry[b] - ancestry[a]), cache
        )
        if shared:
            conflicts.append((a, b, sorted(shared)))
    return branches, conflicts


async def _read_current(project: Project) -> list[str] | AlembicMcpError | None:
    """The target's current revisions; None when it has none; the error when it cannot be read."""
    parts = project.database_url_parts
    if parts is None or sqlite_file_missing(parts):  # no version table to read (and SQLAlchemy not needed)
        return None
    from alembic_mcp.tools.db.dbinfo import current_revisions  # SQLAlchemy: only for a database to read

    url = project.database_url
    assert url is not None  # the same text as the parts
    try:
        return await current_revisions(url, project.settings.version_table, project.settings.version_table_schema)
    except AlembicMcpError as exc:
        return exc


def database_state(project: Project, history: History, current: list[str] | AlembicMcpError | None) -> DatabaseState:
    state = _database_state(project, history, current)
    if project.database_url_parts is not None:
        settings = project.settings
        state.production = is_production(project.database_url_parts, settings.environment, settings.production_hosts)
    return state


def _database_state(project: Project, history: History, current: list[str] | AlembicMcpError | None) -> DatabaseState:
    if project.database_url_parts is None:
        return DatabaseState(
            status="not_configured",
            detail="No target database configured (alembic sqlalchemy.url, $DATABASE_URL, "
            "database_url setting or --database-url).",
        )
    masked = project.masked_database_url
    if isinstance(current, AlembicMcpError):
        return DatabaseState(status="unreachable", url=masked, detail=str(current))
    if not current:
        return DatabaseState(
            status="empty",
            url=masked,
            current=[],
            pending=history.ordered(set().union(*(history.ancestors(h) for h in history.heads)))
            if history.heads
            else [],
            detail="The database has no Alembic version yet (no version table or no row).",
        )
    unknown = [rev for rev in current if rev not in history.nodes]
    if unknown:
        return DatabaseState(
            status="ahead",
            url=masked,
            current=current,
            unknown=unknown,
            detail="The database is at a revision this code does not have. Usually the database was "
            "migrated from a newer branch (pull or check out that branch), or a migration file "
            "was deleted or renamed after it ran.",
        )
    applied = set().union(*(history.ancestors(rev) for rev in current))
    wanted = set().union(*(history.ancestors(h) for h in history.heads)) if history.heads else set()
    pending = history.ordered(wanted - applied)
    if not pending:
        return DatabaseState(status="at_head", url=masked, current=current, detail="The database is at head.")
    return DatabaseState(
        status="behind",
        url=masked,
        current=current,
        pending=pending,
        detail=f"{len(pending)} revision(s) not yet applied.",
    )


def _database_findings(state: DatabaseState) -> list[Finding]:
    if state.status == "ahead":
        return [
            Finding(
                rule="database-ahead",
                severity="error",
                message=f"The target database is at {', '.join(state.unknown)}, which no migration file declares.",
                why=state.detail,
                fix="git fetch && git log --all --oneline -- '*" + state.unknown[0] + "*' to find the branch "
                "holding it; check it out or merge it. Never stamp the database down without a human.",
            )
        ]
    if state.status == "unreachable":
        return [
            Finding(
                rule="database-unreachable",
                severity="warning",
                message="The target database could not be reached; only the files were checked.",
                why=state.detail,
                fix="Start the database or pass --database-url.",
            )
        ]
    if state.status == "behind":
        return [
            Finding(
                rule="database-behind",
                severity="info",
                message=f"The target database is {len(state.pending)} revision(s) behind head: "
                f"{', '.join(state.pending[:10])}{' ...' if len(state.pending) > 10 else ''}.",
                why="Normal while developing; the pending revisions run on the next upgrade.",
                fix="review_migration then test_roundtrip before anyone runs `alembic upgrade head`.",
            )
        ]
    return []


async def _load_with_database(project: Project, read_database) -> tuple[History, dict | None]:
    """Load the history in the worker while ``read_database`` runs; a worker failure is raised as itself."""
    failure: AlembicMcpError | None = None
    async with anyio.create_task_group() as tg:  # the database answers while the worker loads files
        tg.start_soon(read_database)
        try:
            loaded = await load_history(project)
        except UnsafeProjectFiles as exc:  # never imported: reported, and nothing else is loaded
            loaded = History(nodes={}, findings=list(exc.findings), heads=[], bases=[]), None
        except AlembicMcpError as exc:  # raised from inside the group it would arrive as an ExceptionGroup
            failure = exc
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return loaded


def _worker_interpreter(project: Project, history: History) -> WorkerInterpreter | None:
    runtime = history.runtime
    if runtime is None:
        return None
    return WorkerInterpreter(
        python=runtime.python,
        chosen_by=worker_python(project).source,
        python_version=runtime.python_version,
        alembic_version=runtime.alembic_version,
        sqlalchemy_version=runtime.sqlalchemy_version,
    )


async def check_heads(project: Project, progress: Progress = no_progress) -> CheckHeadsResult:
    """The revision graph (imported in a worker while the target's revision is read) and the heads."""
    await progress(0, 3, "loading the revision files in a worker")
    current: dict[str, list[str] | AlembicMcpError | None] = {}

    async def read_database() -> None:
        current["value"] = await _read_current(project)

    history, env_error = await _load_with_database(project, read_database)
    findings = list(history.findings) + _env_findings(project, env_error)
    await progress(1, 3, "reading the target database's revision")
    state = _state(project, history, current["value"])
    findings.extend(_database_findings(state))
    await progress(2, 3, "comparing branches")
    branches, escalations, head_steps = _heads(history, findings)
    await progress(3, 3, "done")
    refs = lambda revs: [_ref(project, history, r) for r in revs]  # noqa: E731
    result = CheckHeadsResult(
        revision_count=len(history.nodes),
        heads=refs(history.heads),
        bases=refs(history.bases),
        branch_points=refs(sorted(history.branch_points())),
        merge_points=refs(sorted(history.merge_points())),
        branches=branches,
        database=state,
        worker=_worker_interpreter(project, history),
        findings=findings,
        escalations=escalations,
        summary="",
        next_steps=_next_steps(head_steps, findings, state),
    )
    result.summary = _summary(result)
    return result


def _env_findings(project: Project, env_error: dict | None) -> list[Finding]:
    if not env_error:
        return []
    if env_error.get("offline_path"):
        return [_offline_only(project, env_error)]
    return [
        Finding(
            rule="env-py-error",
            severity="error",
            message=f"env.py raised {env_error.get('type')}: {env_error.get('message')}",
            file=project.relative(env_error["file"]) if env_error.get("file") else None,
            line=env_error.get("line"),
            why="Every Alembic command runs env.py: nothing can be generated, upgraded or rehearsed.",
            fix="Fix env.py at the given line (often a model import or a missing environment variable).",
        )
    ]


def _offline_only(project: Project, env_error: dict) -> Finding:
    """env.py works online but refuses offline mode (dagster's needs a connection): a fact, not a defect."""
    return Finding(
        rule="env-py-offline-only",
        severity="warning",
        message=f"env.py cannot run offline (alembic --sql): its offline path raised {env_error.get('type')}: "
        f"{env_error.get('message')}",
        file=project.relative(env_error["file"]) if env_error.get("file") else None,
        line=env_error.get("line"),
        why="Upgrades and rehearsals run env.py online and are not concerned; what needs offline mode is the "
        "SQL a review reads and `alembic upgrade --sql` scripts.",
        fix="Nothing before migrating. For reviews that read the SQL, let run_migrations_offline call "
        "context.configure(url=...) without needing a connection.",
    )


def _state(project: Project, history: History, current: list[str] | AlembicMcpError | None) -> DatabaseState:
    if history.usable:
        return database_state(project, history, current)
    masked = project.masked_database_url
    return DatabaseState(status="unreachable", url=masked, detail="Not checked: the history has a cycle.")


def _heads(history: History, findings: list[Finding]) -> tuple[list[Branch], list[Escalation], list[str]]:
    """Several heads: the branches, an escalation per pair changing the same tables, and what to do."""
    if not history.usable or len(history.heads) <= 1:
        return [], [], []
    if history.unplaced_files:
        findings.append(_uncertain_heads(history))
        return [], [], []
    branches, conflicts = analyse_branches(history)
    escalations = [
        Escalation(
            rule="conflicting-heads",
            reason=f"Heads {a} and {b} both change {', '.join(tables)}; a merge orders them silently.",
            evidence={"heads": [a, b], "tables": tables},
        )
        for a, b, tables in conflicts
    ]
    findings.append(
        Finding(
            rule="multiple-heads",
            severity="error",
            message=f"{len(history.heads)} heads: {', '.join(history.heads)}.",
            why="`alembic upgrade head` refuses to run with several heads.",
            fix="Call merge_heads (or `alembic merge -m 'merge heads' heads`).",
        )
    )
    step = (
        "Show the conflicting tables to a human; only they can say the branches are "
        "independent (then merge_heads with acknowledge_conflicts=true)."
        if conflicts
        else "Call merge_heads to join the heads, then check_heads again."
    )
    return branches, escalations, [step]


def _next_steps(head_steps: list[str], findings: list[Finding], state: DatabaseState) -> list[str]:
    steps = head_steps + [
        f"{f.rule}: {f.fix}" for f in findings if f.severity == "error" and f.rule != "multiple-heads"
    ]
    if steps:
        return steps
    if state.status in ("behind", "empty"):
        return ["Call review_migration on the pending revisions, then test_roundtrip."]
    return ["History is healthy: make the model change, then call generate_migration."]


def _uncertain_heads(history: History) -> Finding:
    """Several heads while some files could not be placed: the heads may be an artefact of the failures."""
    return Finding(
        rule="multiple-heads",
        severity="warning",
        message=f"{len(history.heads)} heads among the revisions that could be read ({', '.join(history.heads)}); "
        f"{len(history.unplaced_files)} file(s) failed to import and may join them.",
        why="A file whose revision cannot be read leaves a gap; its children look like separate heads.",
        fix="Fix the import errors first (revision-import-error), then call check_heads again.",
    )


def _summary(result: CheckHeadsResult) -> str:
    heads = ", ".join(h.revision for h in result.heads) or "none"
    db = {
        "at_head": "the database is at head",
        "behind": f"the database is {len(result.database.pending)} revision(s) behind",
        "ahead": "the database is at a revision the code lacks",
        "empty": "the database has no Alembic version yet",
        "unreachable": "the database could not be reached",
        "not_configured": "no database configured",
    }[result.database.status]
    errors = [f.rule for f in result.findings if f.severity == "error"]
    head_word = "head" if len(result.heads) == 1 else "heads"
    text = f"{result.revision_count} revisions, {len(result.heads)} {head_word} ({heads}); {db}."
    failed = sum(1 for f in result.findings if f.rule == "revision-import-error")
    if failed:
        text += f" {failed} revision file(s) failed to import (their ids were read from the source where possible)."
    if result.escalations:
        text += " Conflicting heads: a human must decide before merging."
    elif errors:
        text += f" To fix: {', '.join(sorted(set(errors)))}."
    return text
