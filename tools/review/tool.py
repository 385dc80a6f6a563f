"""``review_migration``: every dangerous operation in the selected revisions, why, the safe rewrite, and
whether a human must decide.

Layers: 1. the AST rules (review_rules), 2. squawk over the offline-rendered SQL on PostgreSQL targets
(review_squawk, rendered in the worker), 3. facts from the target database (review_context), 4. the
escalation policy (protected/audit tables, production, the rules' own escalations).

``review_migration`` is the MCP tool; ``review_source`` reviews migration source that is not on disk
yet (generate_migration's dry run) with the same layers, as if it were at the path it would have.
"""

from __future__ import annotations

import ast
import re
import tempfile
from pathlib import Path
from typing import Literal

import anyio
from pydantic import BaseModel, Field

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument
from alembic_mcp.tools.core.policy import is_production, matches_any
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.urls import backend_of
from alembic_mcp.tools.core.verdict import Escalation, Finding, VerdictKind, VerdictResult, decide
from alembic_mcp.tools.db.dbinfo import current_revisions
from alembic_mcp.tools.history.files import assigned_literal, history_from_files
from alembic_mcp.tools.history.graph import History, load_history
from alembic_mcp.tools.history.migration_ast import MigrationSource, parse_file, parse_source
from alembic_mcp.tools.review.context import Facts, apply, gather
from alembic_mcp.tools.review.rules.catalogue import Definitions
from alembic_mcp.tools.review.rules.catalogue import review_source as lint_file
from alembic_mcp.tools.review.squawk import merge, run_squawk
from alembic_mcp.tools.review.suppressions import Suppression
from alembic_mcp.tools.worker.prestart import prestart
from alembic_mcp.tools.worker.protocol import RenderSqlArgs
from alembic_mcp.tools.worker.runner import WorkerFailed, run_worker, worker_python


class ReviewedRevision(BaseModel):
    revision: str
    message: str = Field(description="First line of the revision's docstring.")
    file: str = Field(description="Migration file, relative to the project.")
    down_revisions: list[str] = Field(default_factory=list)
    verdict: VerdictKind = Field(description="This revision's own verdict.")
    findings: list[Finding] = Field(default_factory=list)
    escalations: list[Escalation] = Field(default_factory=list)
    suppressions: list[Suppression] = Field(default_factory=list, description="Suppression comments honoured.")
    layers: list[str] = Field(default_factory=list, description="Review layers that ran: ast, sql, database.")
    sql: str | None = Field(default=None, description="Offline-rendered SQL (include_sql=true).")


class DatabaseContext(BaseModel):
    status: Literal["checked", "unreachable", "not_configured"]
    url: str | None = Field(default=None, description="Target database, password masked.")
    backend: str | None = None
    current: list[str] = Field(default_factory=list, description="Revision(s) in the version table.")
    detail: str = ""


class ReviewMigrationResult(VerdictResult):
    selection: str = Field(description="How the revisions were chosen.")
    revisions: list[ReviewedRevision] = Field(default_factory=list, description="Reviewed, in upgrade order.")
    suppressions: list[Suppression] = Field(default_factory=list)
    database: DatabaseContext


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
        migration = parse_file(path)
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


Target = tuple[str, Path, list[str], str]  # (revision, file, down revisions, message)


async def review_migration(
    project: Project,
    revision: str | None = None,
    path: str | None = None,
    include_sql: bool = False,
    progress: Progress = no_progress,
    *,
    prerendered: dict | None = None,
) -> ReviewMigrationResult:
    """The MCP tool. ``prerendered`` (internal, not an MCP argument): the selected revisions' offline SQL
    already rendered by the caller's own worker (generate_migration), so layer 2 starts no interpreter."""
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
        targets.append((rev_id, file, downs, _first_line(ast.get_docstring(migration.tree))))
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
            targets.append((rev, Path(node.path), list(node.down_revisions), _first_line(node.doc)))
        for rev, file, _, _ in targets:
            if rev not in parsed:
                parsed[rev] = _parse(project, file)
    return await _review(
        project, targets, history, parsed, selection, db, findings_general, include_sql, progress, prerendered
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
    targets: list[Target] = [(rev_id, virtual_path, downs, _first_line(ast.get_docstring(migration.tree)))]
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
    fast = history_from_files(project)
    if fast is not None:
        return fast
    history, _ = await load_history(project, check_env=False)
    return history, {}


def _downs(migration: MigrationSource) -> list[str]:
    downs = migration.down_revision
    return [downs] if isinstance(downs, str) else [d for d in (downs or []) if isinstance(d, str)]


async def _review(
    project: Project,
    targets: list[Target],
    history: History,
    parsed: dict[str, MigrationSource],
    selection: str,
    db: DatabaseContext,
    findings_general: list[Finding],
    include_sql: bool,
    progress: Progress,
    prerendered: dict | None,
    disk_paths: dict[str, Path] | None = None,
) -> ReviewMigrationResult:
    """Layers 1 to 4 over the selected revisions. ``disk_paths``: where the worker finds revisions whose
    reported file is not on disk (review_source)."""
    disk_paths = disk_paths or {}
    url = project.database_url
    backend = backend_of(url) if url is not None else None

    # -- layer 1 (in a thread, while the worker renders SQL for layer 2)
    reviews: dict = {}
    created_before: dict[str, set[str]] = {}

    env_lock_timeout = _env_sets_lock_timeout(project)

    def layer1() -> None:
        created: set[str] = set()
        for rev, file, downs, _ in targets:
            definitions = Definitions(lambda rev=rev, downs=downs: _earlier(history, parsed, rev, downs))
            reviews[rev] = lint_file(parsed[rev], project.relative(file), backend, definitions, env_lock_timeout)
            created_before[rev] = set(created)
            created |= {op.table for op in parsed[rev].ops_in("upgrade") if op.name == "create_table" and op.table}

    # -- layers 1 then 3 (database facts), and 2 (offline render in the worker), run concurrently
    await progress(1, 4, f"reviewing {len(targets)} revision(s): AST rules, database facts, rendered SQL")
    facts_by_rev: dict[str, Facts] = {}
    rendered: dict[str, dict] = {}
    squawked: dict[str, list] = {}
    pg_version: dict[str, str] = {}

    async def layer1_then_3() -> None:
        await anyio.to_thread.run_sync(layer1)
        await progress(2, 4, "reading facts from the target database")
        if url is None:
            return
        all_hits = [h for r in reviews.values() for h in r.hits]
        tables = set().union(*(r.lint.existing_tables for r in reviews.values())) if reviews else set()
        try:
            base_facts = await gather(url, all_hits, tables, project.settings.exact_count_limit, set())
        except AlembicMcpError as exc:
            db.status = "unreachable"
            db.detail = f"{exc} Rules assume every table holds data."
            return
        if base_facts.server_version:
            pg_version["version"] = base_facts.server_version
        db.status = "checked"
        db.detail = "Row counts and column facts read from the target database."
        for rev in reviews:
            facts_by_rev[rev] = Facts(
                reachable=True,
                rows=base_facts.rows,
                tables=base_facts.tables,
                values=base_facts.values,
                created_earlier=created_before[rev],
            )

    # Renames are judged against the models (env.py's target_metadata), which the worker reads.
    renames = any(
        op.name == "rename_table" or (op.name == "alter_column" and "new_column_name" in op.kwargs)
        for rev, _, _, _ in targets
        for op in parsed[rev].ops_in("upgrade")
    )
    model_tables: dict[str, list[str]] = {}

    async def layer2() -> None:
        nonlocal rendered
        render_revs = [(rev, downs[0] if downs else None) for rev, _, downs, _ in targets if len(downs) <= 1]
        if not (include_sql or backend == "postgresql" or renames) or not render_revs:
            return
        try:
            if prerendered is not None:
                raw = prerendered
            else:
                chain = all(render_revs[i][1] == render_revs[i - 1][0] for i in range(1, len(render_revs)))
                needed = {rev for rev, _ in render_revs} | {down for _, down in render_revs if down}
                paths = _paths_of(history, targets, needed, disk_paths)
                raw = await run_worker(
                    project,
                    "render_sql",
                    RenderSqlArgs(
                        revisions=[list(pair) for pair in render_revs],
                        chain=chain,
                        paths=paths,
                        extra_paths=sorted(str(p) for p in disk_paths.values()),
                    ),
                    database_url=url.render_as_string(hide_password=False) if url else None,
                )
            rendered = raw["rendered"]
            metadata = raw.get("metadata") or {}
            if metadata.get("found"):
                model_tables.update(metadata.get("tables") or {})
            if metadata.get("found") and metadata.get("missing"):
                findings_general.append(
                    _naming_finding(metadata["missing"], project.relative(project.script_location / "env.py"))
                )
        except WorkerFailed as exc:
            findings_general.append(
                Finding(
                    rule="render-failed",
                    severity="warning",
                    message=f"The revisions could not be rendered offline: {exc}",
                    why="Without rendered SQL the squawk layer did not run; layer-1 findings still apply.",
                    fix="Run `alembic upgrade <rev> --sql` to see the error (env.py must support offline mode).",
                )
            )
            return

    async with anyio.create_task_group() as group:
        group.start_soon(layer2)
        group.start_soon(layer1_then_3)
    if backend == "postgresql" and rendered:
        try:
            squawked = await run_squawk(
                {r: v["sql"] for r, v in rendered.items() if not v.get("error")}, pg_version.get("version")
            )
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            findings_general.append(
                Finding(
                    rule="squawk-unavailable",
                    severity="info",
                    message=f"squawk did not run: {exc}",
                    why="The rendered-SQL layer was skipped; layer-1 findings still apply.",
                    fix="pip install squawk-cli",
                )
            )
    if model_tables:
        for review in reviews.values():
            for hit in review.hits:
                if hit.data.get("rename"):
                    _judge_rename(hit, model_tables)
    for rev in reviews:
        facts = facts_by_rev.get(rev, Facts(reachable=False))
        reviews[rev].hits = apply(facts, reviews[rev].hits, project.settings.large_migration_rows)

    # -- layer 4 and assembly
    await progress(3, 4, "merging the layers and applying the escalation policy")
    settings = project.settings
    production = is_production(url, settings.environment, settings.production_hosts)
    out_revisions: list[ReviewedRevision] = []
    all_suppressions: list[Suppression] = []
    for rev, file, downs, message in targets:
        review = reviews[rev]
        rel = project.relative(file)
        layers = ["ast"]
        findings = [h.finding for h in review.hits] + review.extra
        escalations = [h.escalation for h in review.hits if h.escalation is not None]
        if rev in squawked:
            layers.append("sql")
            op_lines = {op.table: op.line for op in parsed[rev].ops_in("upgrade") if op.table}
            # suppressed layer-1 findings count as reported: squawk must not bring them back
            findings += merge(squawked[rev], findings + review.silenced, review.lint.cleared, rel, op_lines)
        render = rendered.get(rev, {})
        if render.get("error") and not any(f.rule == "offline-unsafe" for f in findings):
            err = render["error"]
            findings.append(
                Finding(
                    rule="offline-unsafe",
                    severity="info",
                    message=f"The revision cannot be rendered offline (--sql): {err.get('type')}: {err.get('message')}",
                    file=rel,
                    line=err.get("line")
                    if err.get("file") and Path(err["file"]).resolve() in (file, disk_paths.get(rev))
                    else None,
                    why="`alembic upgrade --sql` cannot produce a script for a DBA; online upgrades are unaffected.",
                    fix="Guard reads with `if not context.is_offline_mode():` or use literal SQL.",
                )
            )
        if facts_by_rev.get(rev) is not None:
            layers.append("database")
        escalations += _policy(review.lint.existing_tables, review.lint.changes, production, settings, rev, url)
        escalations = _dedupe(escalations)
        out_revisions.append(
            ReviewedRevision(
                revision=rev,
                message=message,
                file=rel,
                down_revisions=downs,
                verdict=decide(findings, escalations),
                findings=findings,
                escalations=escalations,
                suppressions=review.suppressions,
                layers=layers,
                sql=render.get("sql") if include_sql else None,
            )
        )
        all_suppressions += review.suppressions

    if db.status != "checked" and out_revisions:
        findings_general.append(
            Finding(
                rule="database-not-checked",
                severity="info",
                message="The target database was not checked: every rule assumed the tables hold data.",
                why=db.detail,
                fix="Configure or start the target database (--database-url) for row counts and "
                "orphan/duplicate/NULL checks.",
            )
        )
    findings = findings_general + [f for r in out_revisions for f in r.findings]
    escalations = [e for r in out_revisions for e in r.escalations]
    result = ReviewMigrationResult(
        selection=selection,
        revisions=out_revisions,
        suppressions=all_suppressions,
        database=db,
        findings=findings,
        escalations=escalations,
        summary="",
        next_steps=[],
    )
    result.summary = _summary(result)
    result.next_steps = _next_steps(result)
    await progress(4, 4, "done")
    return result


def _env_sets_lock_timeout(project: Project) -> bool:
    """env.py sets lock_timeout for every migration (a common, good practice): read, not imported."""
    try:
        text = (project.script_location / "env.py").read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"^[^#\n]*lock_timeout", text, re.M) is not None


def _prestart_worker(project: Project) -> None:
    """Start the render worker's interpreter (the project's) early, while the files are parsed."""
    try:
        python = worker_python(project).path
    except AlembicMcpError:  # a bad worker_python setting: the render reports it
        return
    prestart(python)


def _judge_rename(hit, model_tables: dict[str, list[str]]) -> None:
    """A rename the models already follow needs no human: only the rehearsal (test_roundtrip)."""
    kind, table, old, new = hit.data["rename"]
    if kind == "column":
        columns = model_tables.get(table or "")
        agree = columns is not None and new in columns and old not in columns
        still_old = columns is not None and old in columns
    else:
        agree = new in model_tables and table not in model_tables
        still_old = table in model_tables
    if agree:
        hit.escalation = None
        hit.finding.message += " The models already use the new name: proceed once test_roundtrip verifies it."
    elif still_old and hit.escalation is not None:
        what = f"{table}.{old}" if kind == "column" else table
        hit.escalation.reason = f"The models still use {what}: renaming it breaks the application."
        hit.escalation.evidence["models_use_old_name"] = True


def _paths_of(
    history: History | None, targets: list, needed: set[str], disk_paths: dict[str, Path]
) -> list[str] | None:
    """Files of the revisions a render needs, or None (load everything) when one is not known."""
    known = {rev: str(path) for rev, path, _, _ in targets}
    if history is not None:
        known.update({rev: node.path for rev, node in history.nodes.items()})
    known.update({rev: str(path) for rev, path in disk_paths.items()})
    if not needed <= set(known):
        return None
    return sorted(known[rev] for rev in needed)


def _naming_finding(missing: list[str], env_file: str) -> Finding:
    return Finding(
        rule="unnamed-constraint",
        severity="warning",
        message="env.py's target_metadata has no naming_convention for "
        f"{', '.join(missing)}: autogenerate writes those constraints without names.",
        file=env_file,
        why="Unnamed constraints get database-generated names that differ between backends, so later "
        "migrations cannot drop or alter them reliably (drop_constraint(None, ...)).",
        fix="metadata = MetaData(naming_convention={'ix': 'ix_%(column_0_label)s', 'uq': "
        "'uq_%(table_name)s_%(column_0_name)s', 'ck': 'ck_%(table_name)s_%(constraint_name)s', 'fk': "
        "'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s', 'pk': 'pk_%(table_name)s'})",
    )


def _earlier(
    history: History | None, parsed: dict[str, MigrationSource], rev: str, downs: list[str]
) -> list[MigrationSource]:
    """The parsed migrations below ``rev`` (a revision of the history, or one not on disk yet whose
    down revisions are ``downs``), in upgrade order."""
    if history is None:
        return []
    if rev in history.nodes:
        below = history.ancestors(rev) - {rev}
    else:
        below = set().union(*(history.ancestors(d) for d in downs if d in history.nodes))
    return [parsed[r] for r in history.ordered(below) if r in parsed]


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


def _policy(tables: set[str], changes: bool, production: bool, settings, rev: str, url) -> list[Escalation]:
    out: list[Escalation] = []
    if production and changes:
        out.append(
            Escalation(
                rule="production-database",
                reason=f"The target is classified production: revision {rev} changes it.",
                evidence={"revision": rev, "environment": settings.environment},
            )
        )
    for table in sorted(t for t in tables if t):
        if matches_any(table, settings.protected_tables):
            out.append(
                Escalation(
                    rule="protected-table",
                    reason=f"Revision {rev} changes protected table {table}.",
                    evidence={"table": table, "patterns": settings.protected_tables},
                )
            )
        if matches_any(table, settings.audit_tables):
            out.append(
                Escalation(
                    rule="audit-trail",
                    reason=f"Revision {rev} changes audit table {table}.",
                    evidence={"table": table, "patterns": settings.audit_tables},
                )
            )
    return out


def _dedupe(escalations: list[Escalation]) -> list[Escalation]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in escalations:
        key = (e.rule, e.reason)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _summary(result: ReviewMigrationResult) -> str:
    n = len(result.revisions)
    if n == 0:
        return (
            f"Nothing to review: {result.selection} selects no revision (the database is up to date); pass "
            "revision=... to review an applied one."
        )
    errors = sorted({f.rule for f in result.findings if f.severity == "error"})
    rendered = sum("sql" in r.layers for r in result.revisions)
    checked = sum("database" in r.layers for r in result.revisions)
    text = (
        f"Reviewed {n} of {n} selected revision(s) ({result.selection}); rendered SQL checked for {rendered} of {n}, "
        f"database facts for {checked} of {n}"
    )
    if result.escalations:
        rules = sorted({e.rule for e in result.escalations})
        return text + f": a human must decide ({', '.join(rules)})."
    if errors:
        return text + f": fix {', '.join(errors)}, then review again."
    warnings = sum(f.severity == "warning" for f in result.findings)
    return text + (f": safe to proceed ({warnings} warning(s))." if warnings else ": safe to proceed.")


def _next_steps(result: ReviewMigrationResult) -> list[str]:
    steps: list[str] = []
    if result.escalations:
        steps.append("Stop: show the escalations (rule, reason, evidence) to a human and wait for their decision.")
    for f in result.findings:
        if f.severity == "error" and f.fix:
            where = f"{f.file}:{f.line}" if f.file and f.line else f.file or ""
            steps.append(f"[{f.rule}] {where}: apply the fix, then call review_migration again.")
    if not steps:
        steps.append("Call test_roundtrip to rehearse upgrade/downgrade on a scratch database.")
    return steps[:20]
