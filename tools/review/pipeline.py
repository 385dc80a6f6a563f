"""The layers of review_migration over the selected revisions, run as named stages.

1. the AST rules (rules/, in a thread), then 3. facts from the target database (context.py), while
2. the worker renders the revisions offline for squawk (squawk.py, PostgreSQL), and the rendered statements
go through the SQL rules (rendered.py); then the facts and the models' names are applied, statements the
rendered SQL covered are lifted, and 4. the escalation
policy (production, protected and audit tables) is added per revision. Suppression comments silence
findings; the escalations of silenced findings stay, with the findings as evidence.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import anyio

from alembic_mcp.tools.core.approvals import apply_approvals, read_approvals
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError
from alembic_mcp.tools.core.isolation import dialect_only_url
from alembic_mcp.tools.core.naming import naming_convention_finding
from alembic_mcp.tools.core.policy import is_production, matches_any
from alembic_mcp.tools.core.progress import Progress
from alembic_mcp.tools.core.urls import backend_of
from alembic_mcp.tools.core.verdict import Approval, Escalation, Finding, decide
from alembic_mcp.tools.db.dbinfo import current_revisions
from alembic_mcp.tools.history.graph import History
from alembic_mcp.tools.history.migration_ast import MigrationSource
from alembic_mcp.tools.review.context import Facts, apply, gather
from alembic_mcp.tools.review.model_types import judge_type_change
from alembic_mcp.tools.review.rendered import judge_rendered
from alembic_mcp.tools.review.resolved import mark_resolved
from alembic_mcp.tools.review.result import (
    DatabaseContext,
    ReviewedRevision,
    ReviewMigrationResult,
    StatementCoverage,
    next_steps,
    summary,
)
from alembic_mcp.tools.review.rules import Definitions, FileReview, Hit
from alembic_mcp.tools.review.rules import review_source as lint_file
from alembic_mcp.tools.review.rules.astutil import name_value
from alembic_mcp.tools.review.rules.effects import Sources, site_packages
from alembic_mcp.tools.review.squawk import merge, run_squawk
from alembic_mcp.tools.review.suppressions import escalation_evidence
from alembic_mcp.tools.worker.interpreter import WorkerPythonNotFound, find_worker_python
from alembic_mcp.tools.worker.protocol import RenderSqlArgs, WorkerReply
from alembic_mcp.tools.worker.reply_cache import cached_worker_reply
from alembic_mcp.tools.worker.runner import WorkerFailed

# squawk findings about data loss that layer 1 did not see (SQL from a helper, say): the escalation they need.
SQUAWK_ESCALATIONS = {
    "drop-table": "drop-table-with-data",
    "drop-column": "drop-column-with-data",
    "primary-key-change": "primary-key-change",
}


class Target(NamedTuple):
    revision: str
    file: Path
    downs: list[str]
    message: str


@dataclass
class Review:
    """One review_migration call: its inputs, and what each layer found, by revision."""

    project: Project
    targets: list[Target]
    history: History | None
    parsed: dict[str, MigrationSource]
    db: DatabaseContext
    general: list[Finding]  # findings about the selection as a whole
    include_sql: bool
    progress: Progress
    prerendered: dict | None = None
    disk_paths: dict[str, Path] = field(default_factory=dict)  # revisions whose reported file is not on disk
    files: dict[str, FileReview] = field(default_factory=dict)
    created_before: dict[str, set[str]] = field(default_factory=dict)
    facts: dict[str, Facts] = field(default_factory=dict)
    rendered: dict[str, dict] = field(default_factory=dict)
    squawked: dict[str, list] = field(default_factory=dict)
    pg_version: str | None = None
    model_tables: dict[str, list[str]] = field(default_factory=dict)
    model_types: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> declared type
    model_types_dialect: str | None = None  # the dialect that wrote model_types
    approvals: list[Approval] = field(default_factory=list)  # the project's approvals log, read once per call
    conventions: set[str] = field(default_factory=set)  # constraint kinds the models' naming_convention names
    _relative: dict[Path, str] = field(default_factory=dict, repr=False)

    def relative(self, file: Path) -> str:
        """``project.relative(file)``, resolved once per file in this call (each layer names the file)."""
        if file not in self._relative:
            self._relative[file] = self.project.relative(file)
        return self._relative[file]

    @property
    def backend(self) -> str | None:
        url = self.project.database_url
        return backend_of(url) if url is not None else None


async def review_layers(review: Review, selection: str) -> ReviewMigrationResult:
    """Layers 1 to 4 over the selected revisions, merged into the tool's result."""
    await review.progress(1, 4, f"reviewing {len(review.targets)} revision(s): AST rules, database facts, rendered SQL")
    async with anyio.create_task_group() as group:
        group.start_soon(_render, review)
        group.start_soon(_lint_then_facts, review)
    async with anyio.create_task_group() as group:  # squawk (another process) while the SQL rules run here
        group.start_soon(_squawk, review)
        group.start_soon(_judge_rendered, review)
    _judge_renames(review)
    _apply_naming_convention(review)
    _apply_facts(review)
    mark_resolved(review)
    _lift_statements_the_sql_covered(review)
    await review.progress(3, 4, "merging the layers and applying the escalation policy")
    review.approvals = read_approvals(review.project.root)
    revisions = [_revision(review, target) for target in review.targets]
    result = _result(review, selection, revisions)
    await review.progress(4, 4, "done")
    return result


# ------------------------------------------------------------------------------------------ layers 1 and 3


def _lint(review: Review) -> None:
    created: set[str] = set()
    env_lock_timeout = env_sets_lock_timeout(review.project)
    sources = helper_sources(review.project)
    below: dict[str, list[MigrationSource]] = {}  # _earlier's, by revision: a line extends its parent's
    for rev, file, downs, _ in review.targets:
        definitions = Definitions(
            lambda rev=rev, downs=downs: _earlier(review.history, review.parsed, rev, downs, below)
        )
        migration = review.parsed[rev]
        relative = review.relative(file)
        review.files[rev] = lint_file(migration, relative, review.backend, definitions, env_lock_timeout, sources)
        review.created_before[rev] = set(created)
        created |= {op.table for op in migration.ops_in("upgrade") if op.name == "create_table" and op.table}


def helper_sources(project: Project) -> Sources:
    """Where a migration's helpers are read from: the project (and its migrations folder), then the
    project's virtualenv, as its interpreter would import them. No code is imported."""
    try:
        python: str | None = find_worker_python(project.root, project.settings.worker_python).path
    except WorkerPythonNotFound:
        python = None  # the render reports a bad setting; the helpers are then read from the project alone
    roots = [project.root, project.script_location, *(site_packages(python) if python else [])]
    return Sources(tuple(dict.fromkeys(roots)))


async def _lint_then_facts(review: Review) -> None:
    await anyio.to_thread.run_sync(_lint, review)
    await review.progress(2, 4, "reading facts from the target database")
    url = review.project.database_url
    if url is None:
        return
    hits = [h for f in review.files.values() for h in f.hits + f.silenced]
    tables = set().union(*(f.lint.existing_tables for f in review.files.values())) if review.files else set()
    try:
        base = await gather(url, hits, tables, review.project.settings.exact_count_limit, set())
    except AlembicMcpError as exc:
        review.db.status = "unreachable"
        review.db.detail = f"{exc} Rules assume every table holds data."
        return
    review.pg_version = base.server_version
    review.db.status = "checked"
    review.db.detail = "Row counts and column facts read from the target database."
    await _read_current(review)
    for rev in review.files:
        created = review.created_before[rev]
        review.facts[rev] = Facts(
            True,
            rows=base.rows,
            tables=base.tables,
            values=base.values,
            unchecked=base.unchecked,
            created_earlier=created,
        )


async def _read_current(review: Review) -> None:
    """database.current is the target's revision whatever selected the revisions (a revision, a path)."""
    url = review.project.database_url
    if review.db.current or url is None:
        return
    settings = review.project.settings
    try:
        current = await current_revisions(url, settings.version_table, settings.version_table_schema)
        review.db.current = list(current or [])
    except AlembicMcpError:  # the facts were read a moment ago; a version table we cannot read stays unknown
        return


def _apply_facts(review: Review) -> None:
    large = review.project.settings.large_migration_rows
    for rev, file_review in review.files.items():
        facts = review.facts.get(rev, Facts(reachable=False))
        file_review.hits = apply(facts, file_review.hits, large)
        file_review.silenced = apply(facts, file_review.silenced, large)


# ------------------------------------------------------------------------------------------ layer 2


def _wants_render(review: Review) -> bool:
    # Renames and type changes are judged against the models (env.py's target_metadata), which the worker reads.
    against_models = any(
        op.name == "rename_table"
        or (op.name == "alter_column" and ("new_column_name" in op.kwargs or "type_" in op.kwargs))
        for target in review.targets
        for op in review.parsed[target.revision].ops_in("upgrade")
    )
    return review.include_sql or review.backend == "postgresql" or against_models


async def _render(review: Review) -> None:
    """Layer 2: the revisions' offline SQL (and the models' table names), rendered in the worker."""
    render_revs = [(rev, downs[0] if downs else None) for rev, _, downs, _ in review.targets if len(downs) <= 1]
    if not render_revs or not _wants_render(review):
        return
    try:
        raw = review.prerendered if review.prerendered is not None else await _render_in_worker(review, render_revs)
    except WorkerFailed as exc:
        review.general.append(
            Finding(
                rule="render-failed",
                severity="warning",
                message=f"The revisions could not be rendered offline: {exc}",
                why="Without rendered SQL the squawk layer did not run; layer-1 findings still apply.",
                fix="Run `alembic upgrade <rev> --sql` to see the error (env.py must support offline mode).",
            )
        )
        return
    review.rendered = raw["rendered"]
    review.general += _rendered_without_env(review)
    metadata = raw.get("metadata") or {}
    if metadata.get("found"):
        review.model_tables.update(metadata.get("tables") or {})
        review.model_types.update(metadata.get("types") or {})
        review.model_types_dialect = metadata.get("types_dialect")
    if metadata.get("found"):
        # a CHECK's convention usually needs %(constraint_name)s, so an unnamed CHECK stays unnamed
        review.conventions = {"fk", "uq"} - set(metadata.get("missing") or [])
    if metadata.get("found") and metadata.get("missing") and _creates_constraints(review):
        env_file = review.project.relative(review.project.script_location / "env.py")
        home = metadata.get("home")
        review.general.append(
            naming_convention_finding(
                metadata["missing"], review.project.relative(Path(home)) if home else None, env_file
            )
        )


def _rendered_without_env(review: Review) -> list[Finding]:
    """env.py refused offline mode: the SQL layer read what Alembic rendered without it; say so, once."""
    refused = next((r["without_env"] for r in review.rendered.values() if r.get("without_env")), None)
    if refused is None:
        return []
    env_file = review.project.relative(review.project.script_location / "env.py")
    return [
        Finding(
            rule="rendered-without-env",
            severity="info",
            message=f"env.py cannot run offline ({refused.get('type')}: {str(refused.get('message'))[:200]}): "
            f"the SQL was rendered by Alembic without env.py, for the {review.backend or 'postgresql'} dialect.",
            file=env_file,
            why="What env.py configures (version table, schema, target_metadata, render options) is absent from "
            "this SQL; the statements of the migrations themselves are the same.",
            fix="Nothing before migrating. To render with env.py, let run_migrations_offline call "
            "context.configure(url=...) without needing a connection.",
        )
    ]


async def _render_in_worker(review: Review, render_revs: list[tuple[str, str | None]]) -> dict:
    chain = all(render_revs[i][1] == render_revs[i - 1][0] for i in range(1, len(render_revs)))
    needed = {rev for rev, _ in render_revs} | {down for _, down in render_revs if down}
    url = review.project.database_url
    # Reused while nothing the render read changed (reply_cache): the revision files, env.py, the models.
    reply = await cached_worker_reply(
        review.project,
        "render_sql",
        RenderSqlArgs(
            revisions=[list(pair) for pair in render_revs],
            chain=chain,
            paths=_paths_of(review.history, review.targets, needed, review.disk_paths),
            extra_paths=sorted(str(p) for p in review.disk_paths.values()),
        ),
        database_url=dialect_only_url(url) if url else None,
        keep=_clean_render,
    )
    return reply.result or {}


def _clean_render(reply: WorkerReply) -> bool:
    rendered = (reply.result or {}).get("rendered") or {}
    return reply.ok and not any(r.get("error") or r.get("without_env") for r in rendered.values())


async def _squawk(review: Review) -> None:
    if review.backend != "postgresql" or not review.rendered:
        return
    sql = {rev: r["sql"] for rev, r in review.rendered.items() if not r.get("error")}
    try:
        review.squawked = await run_squawk(sql, review.pg_version)
    except (FileNotFoundError, RuntimeError, OSError) as exc:
        review.general.append(
            Finding(
                rule="squawk-unavailable",
                severity="info",
                message=f"squawk did not run: {exc}",
                why="The rendered-SQL layer was skipped; layer-1 findings still apply.",
                fix="pip install squawk-cli",
            )
        )


async def _judge_rendered(review: Review) -> None:
    """The rendered upgrade's statements through the SQL rules (rendered.py), with their facts from the target."""
    added = await anyio.to_thread.run_sync(_judge_rendered_files, review)
    await _facts_for(review, added)


def _judge_rendered_files(review: Review) -> list[Hit]:
    """``judge_rendered`` per revision (in a thread: parsing the SQL is CPU work); the hits it added."""
    added: list[Hit] = []
    for target in review.targets:
        sql = review.rendered.get(target.revision, {}).get("sql")
        file_review = review.files.get(target.revision)
        if not sql or file_review is None:
            continue
        reported = file_review.hits + file_review.silenced
        judgement = judge_rendered(
            review.parsed[target.revision],
            review.relative(target.file),
            review.backend,
            file_review.lint,
            sql,
            reported,
        )
        file_review.hits += judgement.hits
        created = review.created_before.get(target.revision, set())
        file_review.lint.existing_tables |= {h.finding.table for h in judgement.hits if h.finding.table} - created
        added += judgement.hits
    return added


async def _facts_for(review: Review, hits: list[Hit]) -> None:
    """Ask the target for the facts the rendered statements' hits need, beside those layer 1 asked for."""
    url = review.project.database_url
    if url is None or review.db.status != "checked" or not any(h.fact is not None for h in hits):
        return
    try:
        more = await gather(url, hits, set(), review.project.settings.exact_count_limit, set())
    except AlembicMcpError:  # read a moment ago; the hits then keep "assumed to hold data"
        return
    for facts in review.facts.values():
        facts.rows = {**more.rows, **facts.rows}
        facts.tables = {**more.tables, **facts.tables}
        facts.values = {**more.values, **facts.values}
        facts.unchecked = {**more.unchecked, **facts.unchecked}


def _sql_covered(review: Review, rev: str) -> bool:
    """squawk linted the revision's whole rendered upgrade (the render did not stop at an error)."""
    return rev in review.squawked and not review.rendered.get(rev, {}).get("error")


def _lift_statements_the_sql_covered(review: Review) -> None:
    """An upgrade() statement layer 1 could not read is read once squawk linted the whole rendered SQL."""
    for rev, file_review in review.files.items():
        if not _sql_covered(review, rev):
            continue

        def unread_upgrade(hit: Hit) -> bool:
            statement = hit.data.get("statement")
            return (
                hit.finding.rule == "unread-statement"
                and statement is not None
                and statement.function == "upgrade"
                and statement.render_shows_it
            )

        file_review.hits = [h for h in file_review.hits if not unread_upgrade(h)]
        file_review.silenced = [h for h in file_review.silenced if not unread_upgrade(h)]


def _apply_naming_convention(review: Review) -> None:
    """create_*(None, ...) is named by the models' naming convention (alembic applies target_metadata's):
    information, not an error, when the convention covers that kind of constraint."""
    for file_review in review.files.values():
        for hit in file_review.hits + file_review.silenced:
            kind = hit.data.get("convention_kind")
            if kind and kind in review.conventions and hit.finding.severity == "error":
                hit.finding.severity = "info"
                hit.finding.message += (
                    f" The models' MetaData has a naming_convention for {kind!r}: alembic names it from that."
                )


def _judge_renames(review: Review) -> None:
    """Renames and type changes against what the models declare (when the render found them)."""
    if not review.model_tables:
        return
    for file_review in review.files.values():
        for hit in file_review.hits + file_review.silenced:
            if hit.data.get("rename"):
                _judge_rename(hit, review.model_tables)
            elif hit.finding.rule == "change-column-type":
                judge_type_change(hit, review.model_types, review.model_types_dialect)


# ------------------------------------------------------------------------------------------ assembly and layer 4


def _revision(review: Review, target: Target) -> ReviewedRevision:
    """One revision's findings and escalations from every layer, its policy escalations and coverage."""
    rev, file, downs, message = target
    file_review = review.files[rev]
    rel = review.relative(file)
    findings = [h.finding for h in file_review.hits] + file_review.extra
    escalations = [h.escalation for h in file_review.hits if h.escalation is not None]
    escalations += _still_escalated(file_review.silenced)
    layers = ["ast"]
    if rev in review.squawked:
        layers.append("sql")
        added = _squawk_findings(review, target, findings, file_review)
        findings += added
        escalations += _squawk_escalations(added)
    findings += _render_error(review, target, findings)
    if rev in review.facts:
        layers.append("database")
    escalations += _policy(review, rev, file_review)
    escalations = _dedupe(escalations)
    escalations, approved, voided = apply_approvals(review.project.root, rev, Path(file), escalations, review.approvals)
    findings += voided
    render = review.rendered.get(rev, {})
    return ReviewedRevision(
        revision=rev,
        message=message,
        file=rel,
        down_revisions=downs,
        verdict=decide(findings, escalations),
        findings=findings,
        escalations=escalations,
        approvals=approved,
        counts=_counts(findings, escalations),
        suppressions=file_review.suppressions,
        layers=layers,
        coverage=_coverage(review, rev),
        sql=render.get("sql") if review.include_sql else None,
    )


def _counts(findings: list[Finding], escalations: list[Escalation]) -> dict[str, int]:
    counts = {severity: sum(f.severity == severity for f in findings) for severity in ("error", "warning", "info")}
    return {**counts, "escalations": len(escalations)}


def _still_escalated(silenced: list[Hit]) -> list[Escalation]:
    """A comment silences a finding, never its escalation: the escalation stays, with the finding as evidence."""
    out = []
    for hit in silenced:
        if hit.escalation is None:
            continue
        hit.escalation.evidence.setdefault("suppressed_findings", []).append(escalation_evidence(hit))
        hit.escalation.reason += " (A suppression comment silenced the finding; only a human can clear this.)"
        out.append(hit.escalation)
    return out


def _squawk_findings(review: Review, target: Target, findings: list[Finding], file_review: FileReview) -> list[Finding]:
    op_lines = {op.table: op.line for op in review.parsed[target.revision].ops_in("upgrade") if op.table}
    # suppressed layer-1 findings count as reported: squawk must not bring them back
    reported = findings + [h.finding for h in file_review.silenced]
    rel = review.relative(target.file)
    transient = _transient_constraints(review.parsed[target.revision])
    return merge(review.squawked[target.revision], reported, file_review.lint.cleared, rel, op_lines, transient)


def _transient_constraints(migration: MigrationSource) -> frozenset[str]:
    """Constraint names upgrade() both creates and drops."""
    up = migration.ops_in("upgrade")
    names = {name_value(op.arg(0, "constraint_name")) for op in up if op.name.startswith("create_")}
    dropped = {name_value(op.arg(0, "constraint_name")) for op in up if op.name == "drop_constraint"}
    return frozenset(n for n in names & dropped if n)


def _squawk_escalations(added: list[Finding]) -> list[Escalation]:
    """Data loss only the rendered SQL shows (layer 1 did not see the operation): a human must decide."""
    return [
        Escalation(
            rule=SQUAWK_ESCALATIONS[f.rule],
            reason=f"The rendered SQL does what no operation of the migration shows ({f.rule}"
            + (f" on {f.table}" if f.table else "")
            + "): the database was not checked for it, so it is assumed to hold data.",
            evidence={"table": f.table, "found_by": "squawk", "message": f.message[:300]},
        )
        for f in added
        if f.rule in SQUAWK_ESCALATIONS
    ]


def _render_error(review: Review, target: Target, findings: list[Finding]) -> list[Finding]:
    err = review.rendered.get(target.revision, {}).get("error")
    if not err or any(f.rule == "offline-unsafe" for f in findings):
        return []
    in_file = err.get("file") and Path(err["file"]).resolve() in (target.file, review.disk_paths.get(target.revision))
    return [
        Finding(
            rule="offline-unsafe",
            severity="info",
            message=f"The revision cannot be rendered offline (--sql): {err.get('type')}: {err.get('message')}",
            file=review.relative(target.file),
            line=err.get("line") if in_file else None,
            why="`alembic upgrade --sql` cannot produce a script for a DBA; online upgrades are unaffected.",
            fix="Guard reads with `if not context.is_offline_mode():` or use literal SQL.",
        )
    ]


def _coverage(review: Review, rev: str) -> list[StatementCoverage]:
    """Which layers read each statement: ast (the rules, whole) and sql (squawk over the rendered upgrade)."""
    sql = _sql_covered(review, rev)
    out = []
    for s in review.files[rev].lint.statements:
        rendered = sql and s.function == "upgrade" and s.render_shows_it
        layers = (["ast"] if s.read else []) + (["sql"] if rendered else [])
        out.append(
            StatementCoverage(function=s.function, line=s.line, end_line=s.end_line, statement=s.code, layers=layers)
        )
    return out


def _result(review: Review, selection: str, revisions: list[ReviewedRevision]) -> ReviewMigrationResult:
    if review.db.status != "checked" and revisions:
        review.general.append(
            Finding(
                rule="database-not-checked",
                severity="info",
                message="The target database was not checked: every rule assumed the tables hold data.",
                why=review.db.detail,
                fix="Configure or start the target database (--database-url) for row counts and "
                "orphan/duplicate/NULL checks.",
            )
        )
    result = ReviewMigrationResult(
        approvals=[a for r in revisions for a in r.approvals],
        selection=selection,
        revisions=revisions,
        suppressions=[s for r in revisions for s in r.suppressions],
        database=review.db,
        findings=review.general + [f for r in revisions for f in r.findings],
        escalations=[e for r in revisions for e in r.escalations],
        summary="",
        next_steps=[],
    )
    result.summary = summary(result)
    result.next_steps = next_steps(result)
    return result


# ------------------------------------------------------------------------------------------ helpers


def env_sets_lock_timeout(project: Project) -> bool:
    """env.py sets lock_timeout for every migration (a common, good practice): read, not imported."""
    try:
        text = (project.script_location / "env.py").read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"^[^#\n]*lock_timeout", text, re.M) is not None


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


CONSTRAINT_OPS = {"create_table", "create_foreign_key", "create_unique_constraint", "create_check_constraint"}


def _creates_constraints(review: Review) -> bool:
    """Advice about constraint names concerns only revisions that create constraints."""
    return any(
        op.name in CONSTRAINT_OPS
        or (op.name == "add_column" and re.search(r"ForeignKey|unique=True", ast.unparse(op.node)))
        for target in review.targets
        for op in review.parsed[target.revision].ops_in("upgrade")
    )


def _earlier(
    history: History | None,
    parsed: dict[str, MigrationSource],
    rev: str,
    downs: list[str],
    known: dict[str, list[MigrationSource]] | None = None,
) -> list[MigrationSource]:
    """The parsed migrations below ``rev`` (a revision of the history, or one not on disk yet whose
    down revisions are ``downs``), in upgrade order. ``known``: the lists already made in this call, by
    revision; a revision on a line takes its parent's and the parent (not a walk of every ancestor)."""
    if history is None:
        return []
    if rev in history.nodes:
        parent = history.line_parent(rev) if known is not None else None
        if known is not None and parent is not None and parent in known:
            earlier = known[parent] + ([parsed[parent]] if parent in parsed else [])
        else:
            earlier = [parsed[r] for r in history.ordered_below(rev) if r in parsed]
        if known is not None:
            known[rev] = earlier
        return earlier
    below = set().union(*(history.ancestors(d) for d in downs if d in history.nodes))
    return [parsed[r] for r in history.ordered(below) if r in parsed]


def _policy(review: Review, rev: str, file_review: FileReview) -> list[Escalation]:
    """Layer 4: the target's classification and the protected/audit tables the revision changes."""
    settings, url = review.project.settings, review.project.database_url
    out: list[Escalation] = []
    if file_review.lint.changes and is_production(url, settings.environment, settings.production_hosts):
        out.append(
            Escalation(
                rule="production-database",
                reason=f"The target is classified production: revision {rev} changes it.",
                evidence={"revision": rev, "environment": settings.environment},
            )
        )
    for table in sorted(t for t in file_review.lint.existing_tables if t):
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
