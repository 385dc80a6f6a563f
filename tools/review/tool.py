"""``review_migration``: every dangerous operation in the selected revisions, why, the safe rewrite, and
whether a human must decide.

Layers (pipeline.py): 1. the AST rules (rules/), 2. squawk over the offline-rendered SQL on PostgreSQL
targets (squawk.py, rendered in the worker), 3. facts from the target database (context.py), 4. the
escalation policy (protected/audit tables, production, the rules' own escalations).

``review_migration`` is the MCP tool; ``review_source`` reviews migration source that is not on disk
yet (generate_migration's dry run) with the same layers, as if it were at the path it would have.
"""

from __future__ import annotations

import ast
import functools
import re
import tempfile
from pathlib import Path

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.urls import backend_of
from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.db.dbinfo import current_revisions
from alembic_mcp.tools.history.cache import parsed as cached_parse
from alembic_mcp.tools.history.files import assigned_literal, history_from_files
from alembic_mcp.tools.history.graph import History, load_history
from alembic_mcp.tools.history.migration_ast import MigrationSource, parse_source
from alembic_mcp.tools.review.autofix.apply import Rehearse, fix_and_review
from alembic_mcp.tools.review.autofix.apply import no_rehearsal as _no_rehearsal
from alembic_mcp.tools.review.autofix.result import AutofixReport
from alembic_mcp.tools.review.changed import changed_files, commit_rule_findings, validate_ref
from alembic_mcp.tools.review.pipeline import Review, Target, review_layers
from alembic_mcp.tools.review.result import (
    DatabaseContext,
    Detail,
    ReviewedRevision,
    ReviewMigrationResult,
    StatementCoverage,
    validate_detail,
    with_detail,
)
from alembic_mcp.tools.worker.prestart import prestart
from alembic_mcp.tools.worker.runner import worker_python

__all__ = [
    "AutofixReport",
    "DatabaseContext",
    "Rehearse",
    "ReviewMigrationResult",
    "ReviewedRevision",
    "StatementCoverage",
    "review_migration",
    "review_source",
]


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


# ------------------------------------------------------------------------------------------ selection


def _check_path(project: Project, path: str) -> Path:
    if not isinstance(path, str) or not path.strip():
        raise InvalidArgument(
            "path is empty. Pass a migration file inside the versions directory, "
            "e.g. migrations/versions/abc123_add_column.py."
        )
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = project.root / candidate
    resolved = candidate.resolve()
    roots = [Path(v).resolve() for v in project.version_locations]
    if not any(resolved.is_relative_to(root) for root in roots):
        raise InvalidArgument(
            f"path {path!r} is outside the versions directories "
            f"({', '.join(project.relative(r) for r in roots)}); only migration files there can be reviewed."
        )
    if not resolved.is_file():
        raise InvalidArgument(f"path {project.relative(resolved)} does not exist or is not a file.")
    if resolved.suffix != ".py":
        raise InvalidArgument(f"path {project.relative(resolved)} is not a Python migration file (.py).")
    return resolved


def _parse(project: Project, path: Path) -> MigrationSource:
    rel = project.relative(path)
    try:
        migration = cached_parse(path)
    except SyntaxError as exc:
        raise InvalidArgument(
            f"{rel} has a syntax error at line {exc.lineno}: {exc.msg}. Fix it, then review again."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{rel} cannot be read: {exc}.") from None
    return _check_migration(rel, migration)


def _check_migration(rel: str, migration: MigrationSource) -> MigrationSource:
    if assigned_literal(migration.tree, "revision") is None or "upgrade" not in migration.functions:
        raise InvalidArgument(
            f"{rel} is not an Alembic migration: it needs a module-level `revision = '...'` and an upgrade() function."
        )
    return migration


def _resolve_one(history: History, ident: str, revision: str) -> list[str]:
    """One side of a revision argument: an id, a unique prefix, a branch label, head/heads, base."""
    heads = ", ".join(history.heads) or "none"
    hint = f"Heads: {heads}. Use a revision id, a unique prefix, head/heads, a branch label or a range like base:head."
    if ident == "base":
        return []
    if ident == "head" and len(history.heads) > 1:
        raise InvalidArgument(
            f"revision {revision!r}: 'head' is ambiguous, the history has several heads "
            f"({heads}); use 'heads' or one head's id."
        )
    if "@" in ident or re.search(r"[+-]\d+$", ident):
        raise InvalidArgument(f"revision {revision!r}: relative revisions ({ident}) are not supported. {hint}")
    matches = history.resolve(ident)
    if not matches:
        raise InvalidArgument(f"revision {revision!r} cannot be resolved: no revision {ident!r}. {hint}")
    exact_or_label = (
        ident in history.nodes
        or ident in ("head", "heads")
        or any(ident in history.nodes[m].branch_labels for m in matches)
    )
    if len(matches) > 1 and not exact_or_label:
        raise InvalidArgument(
            f"revision {revision!r} cannot be resolved: prefix {ident!r} matches several "
            f"revisions ({', '.join(sorted(matches))}); give more characters."
        )
    return matches


def _select(history: History, revision: str) -> list[str]:
    """Revision ids selected by Alembic-style syntax; ranges ``lower:upper`` include both ends."""
    if not history.usable:
        raise InvalidArgument("The revision history has a cycle; run check_heads to find it.")
    if ":" in revision:
        lower, _, upper = revision.partition(":")
        uppers = _resolve_one(history, upper.strip() or "heads", revision)
        lowers = _resolve_one(history, lower.strip() or "base", revision)
        reachable = set().union(*(history.ancestors(u) for u in uppers)) if uppers else set()
        for low in lowers:
            if low not in reachable:
                raise InvalidArgument(
                    f"revision {revision!r} cannot be resolved: {low} is not an ancestor of "
                    f"{', '.join(uppers)}; the lower end of a range must come first."
                )
        below = set().union(*(history.ancestors(low) for low in lowers)) if lowers else set()
        ids = (reachable - below) | set(lowers)
    else:
        ids = set(_resolve_one(history, revision, revision))
    if not ids:
        raise InvalidArgument(f"revision {revision!r} selects no revision. Heads: {', '.join(history.heads)}.")
    return history.ordered(ids)


# ------------------------------------------------------------------------------------------ the tool


async def review_migration(
    project: Project,
    revision: str | None = None,
    path: str | None = None,
    include_sql: bool = False,
    progress: Progress = no_progress,
    *,
    prerendered: dict | None = None,
    changed_since: str | None = None,
    detail: Detail = "summary",
    apply_fixes: bool = False,
    diff_only: bool = False,
    rehearse: Rehearse | None = None,
    split: bool = False,
) -> ReviewMigrationResult:
    """The MCP tool. ``prerendered`` (internal, not an MCP argument): the selected revisions' offline SQL
    already rendered by the caller's own worker (generate_migration), so layer 2 starts no interpreter.
    ``changed_since``: review what changed since a git ref instead (changed.py). ``detail``: "summary"
    trims per-statement coverage to what needs attention (result.py), "full" keeps everything.
    ``apply_fixes``: apply the mechanical fixes (autofix/apply.py), verified by ``rehearse``; ``diff_only``
    shows them without writing; ``split``: the three-phase fix as three revisions."""
    detail = validate_detail(detail)
    if apply_fixes or diff_only:
        if rehearse is None and not diff_only:
            raise InvalidArgument("apply_fixes needs a rehearsal function (the roundtrip tool's).")
        again = functools.partial(
            review_migration, project, revision, path, include_sql, progress, changed_since=changed_since, detail=detail
        )
        return await fix_and_review(project, again, rehearse or _no_rehearsal, diff_only, split)
    if changed_since is not None:
        if revision is not None or path is not None:
            raise InvalidArgument("Pass changed_since alone: it selects the revisions itself (not with revision/path).")
        return with_detail(await _review_changed_since(project, changed_since, include_sql, progress), detail)
    return with_detail(await _review_selected(project, revision, path, include_sql, progress, prerendered), detail)


async def _review_selected(
    project: Project,
    revision: str | None,
    path: str | None,
    include_sql: bool,
    progress: Progress,
    prerendered: dict | None,
) -> ReviewMigrationResult:
    """The revisions chosen by ``revision``, ``path`` or (neither) those not applied to the target yet."""
    if revision is not None and path is not None:
        raise InvalidArgument("Pass either revision or path, not both.")
    if revision is not None and (not isinstance(revision, str) or not revision.strip()):
        raise InvalidArgument("revision is empty. Pass a revision id, a unique prefix, head or a range.")
    db = _database_context(project, include_sql, prerendered)
    findings_general: list[Finding] = []
    await progress(0, 4, "selecting revisions")

    # -- which revisions
    targets: list[Target] = []
    if path is not None:
        file = _check_path(project, path)
        migration = _parse(project, file)
        history, parsed = await _history(project)  # for the definitions inverse fixes restore; cheap
        rev_id, downs = migration.revision, _downs(migration)
        node = next((n for n in history.nodes.values() if Path(n.path).resolve() == file), None)
        if node is not None:  # ids computed at import time: take what alembic saw
            rev_id, downs = node.revision, list(node.down_revisions)
        if not isinstance(rev_id, str):
            raise InvalidArgument(f"{project.relative(file)} does not load as a migration; run check_heads.")
        targets.append(Target(rev_id, file, downs, _first_line(ast.get_docstring(migration.tree))))
        selection = f"path {project.relative(file)}"
        parsed[rev_id] = migration
    else:
        history, parsed = await _history(project)
        findings_general.extend(f for f in history.findings if f.severity == "error")
        if revision is not None:
            ids = _select(history, revision.strip())
            selection = f"revision {revision.strip()}"
        else:
            ids, selection = await _pending(project, history, db)
        for rev in ids:
            node = history.nodes[rev]
            targets.append(Target(rev, Path(node.path), list(node.down_revisions), _first_line(node.doc)))
        for rev, file, _, _ in targets:
            if rev not in parsed:
                parsed[rev] = _parse(project, file)
    return await _review(
        project, targets, history, parsed, selection, db, findings_general, include_sql, progress, prerendered
    )


async def _review_changed_since(
    project: Project, ref: str, include_sql: bool, progress: Progress
) -> ReviewMigrationResult:
    """The revisions whose files changed since the git ref ``ref``, plus the skill's commit rules."""
    ref = validate_ref(ref)
    await progress(0, 4, f"listing the files changed since {ref}")
    changed = await changed_files(project, ref)
    db = _database_context(project, include_sql, None)
    history, parsed = await _history(project)
    findings_general = [f for f in history.findings if f.severity == "error"]
    changed_paths = {path.resolve() for path in changed.migrations}
    ids = [rev for rev, node in history.nodes.items() if Path(node.path).resolve() in changed_paths]
    targets = [
        Target(rev, Path(node.path), list(node.down_revisions), _first_line(node.doc))
        for rev in history.ordered(set(ids))
        for node in [history.nodes[rev]]
    ]
    for rev, file, _, _ in targets:
        if rev not in parsed:
            parsed[rev] = _parse(project, file)
    findings_general.extend(await commit_rule_findings(project, changed))
    selection = f"revisions changed since {ref} ({len(targets)})"
    return await _review(
        project, targets, history, parsed, selection, db, findings_general, include_sql, progress, prerendered=None
    )


async def review_source(
    project: Project,
    source: str,
    virtual_path: Path | str,
    *,
    include_sql: bool = False,
    prerendered: dict | None = None,
    progress: Progress = no_progress,
) -> ReviewMigrationResult:
    """Review migration source that is not in the versions directory (yet), e.g. generate_migration's
    dry run: the same layers as ``review_migration(path=...)``, reported as if the file were at
    ``virtual_path``. Nothing is written into the project; layer 2 renders a copy in a temporary folder.
    """
    virtual_path = Path(virtual_path)
    if not virtual_path.is_absolute():
        virtual_path = project.root / virtual_path
    virtual_path = virtual_path.resolve()
    rel = project.relative(virtual_path)
    if not any(virtual_path.is_relative_to(Path(v).resolve()) for v in project.version_locations):
        raise InvalidArgument(f"{rel} is outside the versions directories; a migration belongs there.")
    try:
        migration = parse_source(source, virtual_path)
    except SyntaxError as exc:
        raise InvalidArgument(
            f"{rel} has a syntax error at line {exc.lineno}: {exc.msg}. Fix it, then review again."
        ) from None
    _check_migration(rel, migration)
    rev_id, downs = migration.revision, _downs(migration)
    if not isinstance(rev_id, str):
        raise InvalidArgument(f"{rel} declares its revision id with an expression; it must be a literal string.")
    db = _database_context(project, include_sql, prerendered)
    await progress(0, 4, "reading the history")
    history, parsed = await _history(project)
    parsed[rev_id] = migration
    targets: list[Target] = [Target(rev_id, virtual_path, downs, _first_line(ast.get_docstring(migration.tree)))]
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-review-") as folder:
        copy = Path(folder) / virtual_path.name  # what the render worker imports for layer 2
        copy.write_text(source, encoding="utf-8")
        return await _review(
            project,
            targets,
            history,
            parsed,
            f"source of {rel} (not written)",
            db,
            [],
            include_sql,
            progress,
            prerendered,
            disk_paths={rev_id: copy},
        )


def _database_context(project: Project, include_sql: bool, prerendered: dict | None) -> DatabaseContext:
    url = project.database_url
    backend = backend_of(url) if url is not None else None
    if prerendered is None and (include_sql or backend == "postgresql"):
        _prestart_worker(project)  # its interpreter starts while the files are parsed
    return DatabaseContext(
        status="not_configured",
        url=project.masked_database_url,
        backend=backend,
        detail="No target database configured: rules assume tables hold data.",
    )


async def _history(project: Project) -> tuple[History, dict[str, MigrationSource]]:
    """The revision graph and the parsed files: read without importing when the ids are literals."""
    fast = await anyio.to_thread.run_sync(history_from_files, project)
    if fast is not None:
        return fast
    history, _ = await load_history(project, check_env=False)
    return history, {}


def _downs(migration: MigrationSource) -> list[str]:
    downs = migration.down_revision
    return (
        [downs]
        if isinstance(downs, str)
        else [d for d in downs if isinstance(d, str)]
        if isinstance(downs, (list, tuple))
        else []
    )


async def _review(
    project: Project,
    targets: list[Target],
    history: History | None,
    parsed: dict[str, MigrationSource],
    selection: str,
    db: DatabaseContext,
    findings_general: list[Finding],
    include_sql: bool,
    progress: Progress,
    prerendered: dict | None,
    disk_paths: dict[str, Path] | None = None,
) -> ReviewMigrationResult:
    """Layers 1 to 4 over the selected revisions (pipeline.py). ``disk_paths``: where the worker finds
    revisions whose reported file is not on disk (review_source)."""
    review = Review(
        project,
        [Target(*target) for target in targets],
        history,
        parsed,
        db,
        findings_general,
        include_sql,
        progress,
        prerendered,
        disk_paths or {},
    )
    return await review_layers(review, selection)


def _prestart_worker(project: Project) -> None:
    """Start the render worker's interpreter (the project's) early, while the files are parsed."""
    try:
        python = worker_python(project).path
    except AlembicMcpError:  # a bad worker_python setting: the render reports it
        return
    prestart(python)


async def _pending(project: Project, history: History, db: DatabaseContext) -> tuple[list[str], str]:
    everything = set(history.nodes)
    if project.database_url is None:
        return history.ordered(set(history.heads)), "the heads (no target database configured)"
    try:
        current = await current_revisions(
            project.database_url, project.settings.version_table, project.settings.version_table_schema
        )
    except AlembicMcpError as exc:
        db.status = "unreachable"
        db.detail = f"{exc} Rules assume every table holds data."
        return history.ordered(set(history.heads)), "the heads (target database unreachable)"
    db.current = list(current or [])
    unknown = [r for r in db.current if r not in history.nodes]
    if unknown:
        return history.ordered(set(history.heads)), (
            f"the heads (the database is at {', '.join(unknown)}, which no file declares)"
        )
    applied = set().union(*(history.ancestors(r) for r in db.current)) if db.current else set()
    return history.ordered(everything - applied), "revisions not yet applied to the target database"
