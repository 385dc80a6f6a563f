"""``generate_migration``: autogenerate a revision that knows autogenerate's blind spots, review it, and
say which files belong in the commit.

The revision is written by Alembic itself in a worker (fresh interpreter: the agent just edited the
models), compared by default with a scratch database upgraded to the current heads so the result
does not depend on the developer's database. The new file is then reviewed by review_migration itself
(``review_migration(path=...)``, or ``review_source`` for a dry run's file that exists only in memory),
with the offline SQL the generate worker already rendered, so the review starts no second interpreter.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import Field
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.access import refuse_if_read_only
from alembic_mcp.tools.core.client_text import validate_message as validate_client_message
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument, ProjectError
from alembic_mcp.tools.core.isolation import dialect_only_url, read_only_url
from alembic_mcp.tools.core.locking import project_lock
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.urls import backend_of, parse_url
from alembic_mcp.tools.core.verdict import Escalation, Finding, VerdictKind, VerdictResult, decide
from alembic_mcp.tools.generate.autogen_findings import (
    DetectedOperation,
    blind_spot_findings,
    import_fix,
    metadata_none_finding,
    missing_findings,
    rename_findings,
    unimported_tables,
)
from alembic_mcp.tools.generate.drift import autogenerate_on_scratch
from alembic_mcp.tools.generate.git_files import files_to_commit
from alembic_mcp.tools.generate.model_scan import scan_models_and_skips
from alembic_mcp.tools.history.graph import load_history
from alembic_mcp.tools.review.tool import (
    AutofixReport,
    Rehearse,
    ReviewMigrationResult,
    review_migration,
    review_source,
)
from alembic_mcp.tools.worker.protocol import GenerateArgs
from alembic_mcp.tools.worker.runner import run_worker

REV_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
RESERVED_IDS = {"head", "heads", "base", "current"}
Against = Literal["scratch", "target"]


class GenerateMigrationResult(VerdictResult):
    revision: str | None = Field(default=None, description="Id of the new revision (none when nothing written).")
    down_revision: list[str] = Field(default_factory=list)
    file: str | None = Field(default=None, description="The migration file, relative to the project.")
    written: bool = Field(default=False, description="Whether the file now exists in the project.")
    dry_run: bool = False
    autogenerate: bool = True
    against: Against = "scratch"
    compared_with: str | None = Field(default=None, description="What the models were compared with.")
    operations: list[DetectedOperation] = Field(default_factory=list)
    upgrade_source: str | None = Field(default=None, description="upgrade() as rendered in the file.")
    downgrade_source: str | None = Field(default=None, description="downgrade() as rendered in the file.")
    content: str | None = Field(default=None, description="Full file text (dry run only).")
    review_verdict: VerdictKind | None = Field(
        default=None, description="Verdict of review_migration on the new file alone."
    )
    review_layers: list[str] = Field(
        default_factory=list,
        description="review_migration layers that ran on the new file: ast, sql (squawk, PostgreSQL), "
        "database (row counts and column facts from the target).",
    )
    files_to_commit: list[str] = Field(
        default_factory=list,
        description="The migration plus the model files changed per git (a dry run: the same list the real run "
        "gives when called with rev_id=revision).",
    )
    autofix: AutofixReport | None = Field(default=None, description="apply_fixes=true: the fixes applied.")


def sqlite_file_exists(project: Project) -> bool:
    database = project.database_url.database if project.database_url is not None else None
    return bool(database) and database != ":memory:" and Path(str(database)).exists()


# --- validation -------------------------------------------------------------------------------------


def validate_message(message: Any) -> str:
    return validate_client_message(message, "add middle_name to persons")


def validate_rev_id(rev_id: Any) -> str | None:
    if rev_id is None:
        return None
    if not isinstance(rev_id, str) or not REV_ID.match(rev_id):
        raise InvalidArgument(
            f"rev_id {rev_id!r} is not a valid revision id: use 1-64 letters, digits or "
            "underscores (no '-', '@', '+', ':', '/', spaces), or omit it to let Alembic "
            "pick one."
        )
    if rev_id.lower() in RESERVED_IDS:
        raise InvalidArgument(f"rev_id {rev_id!r} is a reserved Alembic word; pick another id or omit it.")
    if rev_id.startswith("__") or not rev_id.strip("_"):
        raise InvalidArgument(
            f"rev_id {rev_id!r} is reserved: Alembic skips files named __init__*, and ids that start with "
            "'__' or are only underscores make file names Python treats as its own. Pick another id or omit it."
        )
    return rev_id


def _validate_against(against: Any) -> Against:
    if against not in ("scratch", "target"):
        raise InvalidArgument(
            f"against must be 'scratch' (compare with a scratch database upgraded to the "
            f"heads) or 'target' (the configured database, which must be at head), not "
            f"{against!r}."
        )
    return against


# --- the tool ---------------------------------------------------------------------------------------


async def generate_migration(
    project: Project,
    message: str,
    autogenerate: bool = True,
    rev_id: str | None = None,
    dry_run: bool = False,
    against: Against = "scratch",
    progress: Progress = no_progress,
    apply_fixes: bool = False,
    rehearse: Rehearse | None = None,
) -> GenerateMigrationResult:
    """Autogenerate (or write an empty) revision in one worker, then judge and review what it wrote.
    ``apply_fixes``: apply the review's mechanical fixes to the new file, verified by ``rehearse``."""
    message = validate_message(message)
    if apply_fixes and (dry_run or rehearse is None):
        raise InvalidArgument(
            "apply_fixes rewrites the new file and rehearses it: call without dry_run (a dry run writes nothing)."
        )
    rev_id = validate_rev_id(rev_id)
    against = _validate_against(against)
    if autogenerate and against == "target":
        _read_only_target(project)
    if not dry_run:
        refuse_if_read_only(project, "write migrations", "Call generate_migration with dry_run=true to see the file.")
    base = {"dry_run": bool(dry_run), "autogenerate": bool(autogenerate), "against": against}
    args = _worker_args(project, message, bool(autogenerate), rev_id, bool(dry_run))
    async with project_lock(project.state_dir):
        (project.state_dir / ".gitignore").write_text("*\n")
        await progress(0, 4, "preparing the database to compare with")
        if autogenerate and against == "scratch":
            raw, compared_with = await autogenerate_on_scratch(project, args, progress)
        elif autogenerate:
            if backend_of(_target_url(project)) == "sqlite" and not sqlite_file_exists(project):
                return GenerateMigrationResult(**base, **_target_refusal(project, None, None))
            raw, compared_with = await _generate_against_target(project, args, progress)
        else:
            await progress(1, 4, "writing the revision")
            raw, compared_with = await run_worker(project, "generate", args), None
        refusal = await _history_refusal(project, raw, base, rev_id)
        if refusal is not None:
            return refusal
        await progress(3, 4, "reviewing the new migration")
        result = await _build_result(
            project, raw, base, compared_with, list(raw.get("heads") or []), rehearse if apply_fixes else None
        )
        result.findings.extend(raw.get("scratch_notes") or [])
        await progress(4, 4, "done")
        return result


def _worker_args(project: Project, message: str, autogenerate: bool, rev_id: str | None, dry_run: bool) -> GenerateArgs:
    args = GenerateArgs(
        message=message,
        autogenerate=autogenerate,
        rev_id=rev_id,
        dry_run=dry_run,
        version_table=project.settings.version_table,
    )
    if project.database_url is not None and backend_of(project.database_url) == "postgresql":
        # the worker renders the new revision offline too: the review's squawk layer needs it
        args.render_url = dialect_only_url(project.database_url)
    return args


def _target_url(project: Project) -> URL:
    if project.database_url is None:
        raise InvalidArgument(
            "against='target' needs a target database and none is configured; use "
            "against='scratch' or pass --database-url / set database_url."
        )
    return project.database_url


def _read_only_target(project: Project) -> URL:
    """against='target' runs user code connected to the target: only a role that cannot write makes that safe."""
    _target_url(project)
    configured = project.settings.target_read_only_url
    if not configured:
        raise InvalidArgument(
            "against='target' runs the project's code (env.py, models) connected to the target, and a "
            "read-only session is only a default that code can undo. Set target_read_only_url in "
            "[tool.alembic-mcp] (or ALEMBIC_MCP_TARGET_READ_ONLY_URL) to the target reached through a role "
            "that can only read (README: 'A read-only role for against=target'), or use against='scratch' "
            "(the default)."
        )
    return parse_url(configured)


async def _generate_against_target(
    project: Project, args: GenerateArgs, progress: Progress
) -> tuple[dict[str, Any], str]:
    """The one operation whose purpose needs the target: its read-only role, the target at head."""
    worker_url = read_only_url(_read_only_target(project))
    await progress(1, 4, "writing the revision")
    raw = await run_worker(
        project,
        "generate",
        replace(args, read_only=True),
        database_url=worker_url,
        target_read_only=True,
    )
    return raw, f"target database {project.masked_database_url} (at head, read-only role and session)"


async def _history_refusal(
    project: Project, raw: dict[str, Any], base: dict[str, Any], rev_id: str | None
) -> GenerateMigrationResult | None:
    stage = raw.get("stage")
    if stage == "not_plain":
        raise InvalidArgument(
            "Refused: the rendered revision is not a plain migration module (docstring, imports, "
            f"assignments, functions): {raw['error'].get('message')}. Nothing was written. Check the message "
            "and the project's script.py.mako template."
        )
    if stage == "rev_id_exists":
        raise InvalidArgument(
            f"rev_id {rev_id!r} already exists ({project.relative(raw['path'])}). Pick a new id or omit rev_id."
        )
    if stage == "history":
        history, _ = await load_history(project, check_env=False)
        broken = [f for f in history.findings if f.severity == "error"]
        err = raw["error"]
        if not broken:
            broken = [
                Finding(
                    rule="history-unreadable",
                    severity="error",
                    message=f"Alembic could not read the revision files: {err.get('type')}: {err.get('message')}",
                    file=project.relative(err["file"]) if err.get("file") else None,
                    line=err.get("line"),
                    fix="Fix the revision file named in the error, then call check_heads.",
                )
            ]
        return GenerateMigrationResult(
            **base,
            findings=broken,
            summary="The migration history is broken; nothing written.",
            next_steps=[f"{f.rule}: {f.fix}" for f in broken] + ["Call check_heads for details."],
        )
    if stage == "heads":
        heads = raw["heads"]
        return GenerateMigrationResult(
            **base,
            findings=[
                Finding(
                    rule="multiple-heads",
                    severity="error",
                    message=f"The history has {len(heads)} heads: {', '.join(heads)}; a new revision would "
                    f"not "
                    "know which one to follow.",
                    why="Autogenerate compares with a database at all heads and the new file would create "
                    "yet "
                    "another branch; `alembic upgrade head` refuses to run with several heads.",
                    fix="Call merge_heads, then generate_migration again.",
                )
            ],
            summary=f"Refused: {len(heads)} heads. Merge them first (merge_heads); nothing written.",
            next_steps=["Call merge_heads.", "Call generate_migration again."],
        )
    if stage == "target_not_at_head":
        from alembic_mcp.tools.db.dbinfo import current_revisions

        assert project.database_url is not None  # the worker reports this stage only with a target
        current = await current_revisions(
            project.database_url, project.settings.version_table, project.settings.version_table_schema
        )
        return GenerateMigrationResult(**base, **_target_refusal(project, raw.get("heads"), current))
    return None


def _target_refusal(project: Project, heads: list[str] | None, current: list[str] | None) -> dict[str, Any]:
    state = f"at {', '.join(current)}" if current else "not migrated at all (no Alembic version)"
    at = f" ({', '.join(heads) or 'base'})" if heads is not None else ""
    return {
        "findings": [
            Finding(
                rule="target-not-at-head",
                severity="error",
                message=f"The target database {project.masked_database_url} is {state}, not at head{at}.",
                why="Autogenerate compares the models with this database: pending revisions would be "
                "generated a second time.",
                fix="Use against='scratch' (the default), or bring the target to head first.",
            )
        ],
        "summary": "Refused: the target database is not at head; nothing written.",
        "next_steps": ["Call generate_migration with against='scratch'."],
    }


async def _target_behind(project: Project, heads: list[str]) -> str | None:
    """Where the target stands when it is not at the heads; None when at head or unknown."""
    from alembic_mcp.tools.db.dbinfo import current_revisions

    if project.database_url is None:
        return None
    if backend_of(project.database_url) == "sqlite" and not sqlite_file_exists(project):
        return "no revision (the database file does not exist)"
    try:
        current = await current_revisions(
            project.database_url, project.settings.version_table, project.settings.version_table_schema
        )
    except AlembicMcpError:
        return None
    if sorted(current or []) == sorted(heads):
        return None
    return ", ".join(current) if current else "no revision"


# --- turning the worker's report into a verdict -----------------------------------------------------


async def _build_result(
    project: Project,
    raw: dict[str, Any],
    base: dict[str, Any],
    compared_with: str | None,
    heads: list[str],
    fixes: Rehearse | None = None,
) -> GenerateMigrationResult:
    """The worker's report as a verdict: a refusal when nothing usable was generated, else the reviewed file."""
    common = dict(base, compared_with=compared_with, operations=_operations(raw))
    if raw.get("stage") == "bootstrap":
        return _bootstrap_failed(project, raw["error"], common)
    if raw.get("stage") == "upgrade" and _in_versions(project, raw["error"].get("file")):
        return _scratch_upgrade_failed(project, raw["error"], common)
    model_tables, skipped = await anyio.to_thread.run_sync(
        scan_models_and_skips, project.root, [project.script_location, *project.version_locations]
    )
    findings = [problem.finding(project, severity="warning") for problem in skipped]
    if raw.get("target_metadata_none"):
        return GenerateMigrationResult(
            **common,
            findings=[metadata_none_finding(project, model_tables)],
            summary="env.py passes target_metadata=None: autogenerate has nothing to compare; nothing written.",
            next_steps=["Set target_metadata in env.py, then call again."],
        )
    if raw.get("error"):
        return _autogenerate_failed(project, raw["error"], common)
    facts = dict(raw.get("facts", {}), errors=raw.get("fact_errors") or [])
    missing = unimported_tables(model_tables, facts.get("metadata_tables"))
    if raw.get("refused") == "drop-all-tables":
        return _drops_every_table(project, facts, missing, model_tables, findings, common)
    if raw.get("empty") or (base["autogenerate"] and not raw.get("revision")):
        return await _nothing_detected(project, facts, missing, heads, findings, common)
    return await _reviewed_revision(project, raw, facts, missing, findings, common, fixes)


def _operations(raw: dict[str, Any]) -> list[DetectedOperation]:
    return [
        DetectedOperation(
            op=o["op"],
            table=o.get("table"),
            column=o.get("column"),
            detail={k: v for k, v in o.items() if k not in ("op", "table", "column") and v is not None},
        )
        for o in raw.get("operations", [])
    ]


def _scratch_upgrade_failed(project: Project, err: dict[str, Any], common: dict[str, Any]) -> GenerateMigrationResult:
    return GenerateMigrationResult(
        **common,
        findings=[
            Finding(
                rule="scratch-upgrade-failed",
                severity="error",
                message=f"`upgrade heads` failed on an empty scratch database: {err.get('type')}: {err.get('message')}",
                file=project.relative(err["file"]) if err.get("file") else None,
                line=err.get("line"),
                why="The existing migrations do not build the schema from scratch, so there is nothing "
                "reliable to compare the models with.",
                fix="Fix the failing migration (test_roundtrip shows where); if the history starts from an "
                "existing schema, set the bootstrap setting (module:function or a .sql file); or use "
                "against='target' with a target database at head.",
            )
        ],
        summary="The existing migrations fail on a fresh database; nothing written.",
        next_steps=["Fix the failing migration, then call generate_migration again."],
    )


def _bootstrap_failed(project: Project, err: dict[str, Any], common: dict[str, Any]) -> GenerateMigrationResult:
    return GenerateMigrationResult(
        **common,
        findings=[
            Finding(
                rule="bootstrap-failed",
                severity="error",
                message=f"The bootstrap {project.settings.bootstrap!r} raised {err.get('type')}: {err.get('message')}",
                file=project.relative(err["file"]) if err.get("file") else None,
                line=err.get("line"),
                why="The scratch database could not be given its starting schema; nothing was compared.",
                fix="Fix the bootstrap setting's function or SQL file, then call generate_migration again.",
            )
        ],
        summary="The bootstrap failed on the scratch database; nothing written.",
        next_steps=["Fix the bootstrap, then call generate_migration again."],
    )


def _autogenerate_failed(project: Project, err: dict[str, Any], common: dict[str, Any]) -> GenerateMigrationResult:
    where = project.relative(err["file"]) if err.get("file") else None
    return GenerateMigrationResult(
        **common,
        findings=[
            Finding(
                rule="autogenerate-failed",
                severity="error",
                message=f"Autogenerate failed: {err.get('type')}: {err.get('message')}",
                file=where,
                line=err.get("line"),
                why="env.py or a model module raised while Alembic loaded it (often the edit just made).",
                fix=f"Fix the error{' at ' + where + ':' + str(err.get('line')) if where else ''}, then call again.",
            )
        ],
        summary="Autogenerate failed before writing anything; see the finding.",
        next_steps=["Fix the error, then call generate_migration again."],
    )


def _drops_every_table(
    project: Project,
    facts: dict[str, Any],
    missing: list,
    model_tables: Any,
    findings: list[Finding],
    common: dict[str, Any],
) -> GenerateMigrationResult:
    findings.append(
        Finding(
            rule="drops-every-table",
            severity="error",
            message=f"The migration would drop every table ({', '.join(facts.get('database_tables', []))}); "
            "refused, nothing written.",
            why="This is what autogenerate does when the models are not imported by env.py (or "
            "target_metadata is the wrong MetaData): it sees an empty model and drops everything.",
            fix=import_fix(project, missing, model_tables),
        )
    )
    findings.extend(missing_findings(project, missing, severity="error"))
    return GenerateMigrationResult(
        **common,
        findings=findings,
        summary="Refused: the migration would drop every table (models not imported by env.py?); nothing written.",
        next_steps=["Import every model module in env.py, then call again."],
    )


async def _nothing_detected(
    project: Project,
    facts: dict[str, Any],
    missing: list,
    heads: list[str],
    findings: list[Finding],
    common: dict[str, Any],
) -> GenerateMigrationResult:
    findings.extend(missing_findings(project, missing, severity="error"))
    if not missing:
        findings.append(await _nothing_detected_finding(project, heads, common["compared_with"]))
    findings.extend(blind_spot_findings(facts, common["operations"], project))
    reason = (
        f"Tables {', '.join(t.qualified for t in missing)} are defined in model modules env.py does not import."
        if missing
        else "The models match the schema of the current heads."
    )
    return GenerateMigrationResult(
        **common,
        findings=findings,
        summary="Nothing detected; no file written. " + reason,
        next_steps=[f.fix for f in findings if f.severity != "info" and f.fix],
    )


async def _nothing_detected_finding(project: Project, heads: list[str], compared_with: str | None) -> Finding:
    behind = await _target_behind(project, heads)
    where = (
        f" The target database is at {behind}, behind the heads ({', '.join(heads)}): if the change "
        "is in a revision it has not applied yet, it reaches the target when that runs "
        "(test_roundtrip first)."
        if behind
        else ""
    )
    return Finding(
        rule="nothing-detected",
        severity="warning",
        message=f"Autogenerate found no difference between the models and the {compared_with}." + where,
        why="Either the change is already in a migration (the database built from the current "
        "heads already has it), or the model edit was not saved in a module env.py imports.",
        fix="Check the model file is saved; if the change is in an earlier revision nothing is "
        "needed. For changes autogenerate cannot see (enum values, CHECK, server defaults, "
        "views, functions, triggers) call generate_migration with autogenerate=false and "
        "write them.",
    )


async def _reviewed_revision(
    project: Project,
    raw: dict[str, Any],
    facts: dict[str, Any],
    missing: list,
    findings: list[Finding],
    common: dict[str, Any],
    fixes: Rehearse | None = None,
) -> GenerateMigrationResult:
    """The new file with the blind spots, probable renames and its full review (run beside the git query);
    with ``fixes`` (apply_fixes), the review applies its mechanical fixes to the file and rehearses it."""
    if not raw.get("path"):  # Alembic wrote a file it then did not load as a revision
        raise ProjectError(
            "Alembic did not load the revision it generated, so nothing can be reviewed; check the rev_id "
            "and the file_template in alembic.ini, or omit rev_id."
        )
    path = Path(raw["path"])
    content = raw.get("content", "")
    rel = project.relative(path)
    dry_run = common["dry_run"]
    if missing:
        findings.extend(missing_findings(project, missing, severity="warning"))
    findings.extend(blind_spot_findings(facts, common["operations"], project))
    findings.extend(rename_findings(common["operations"], facts.get("dialect"), rel))
    files: list[str] = []
    review: list[ReviewMigrationResult | Finding] = []

    async def commit_files() -> None:  # a dry run lists what the real run (same rev_id) would
        files.extend(await files_to_commit(project, path))

    async def run_review() -> None:
        if fixes is not None:
            review.append(await review_migration(project, path=str(path), apply_fixes=True, rehearse=fixes))
            return
        review.append(await _review(project, path, content, dry_run, raw.get("render")))

    async with anyio.create_task_group() as group:
        group.start_soon(commit_files)
        group.start_soon(run_review)
    escalations, review_verdict, layers = _embed_review(review[0], findings)
    autofix = review[0].autofix if isinstance(review[0], ReviewMigrationResult) else None
    if autofix is not None and autofix.written:
        content = path.read_text(encoding="utf-8")
        files = sorted({*files, *autofix.files_to_commit})  # a revision autofix added (a VALIDATE) too
    upgrade_src, downgrade_src = _function_sources(content)
    result = GenerateMigrationResult(
        **common,
        revision=raw.get("revision"),
        down_revision=raw.get("down_revision", []),
        file=rel,
        written=not dry_run,
        upgrade_source=upgrade_src,
        downgrade_source=downgrade_src,
        content=content if dry_run else None,
        review_verdict=review_verdict,
        review_layers=layers,
        files_to_commit=files,
        findings=findings,
        escalations=escalations,
        autofix=autofix,
        summary="",
    )
    result.summary, result.next_steps = _summary(result, rel)
    return result


def _embed_review(
    reviewed: ReviewMigrationResult | Finding, findings: list[Finding]
) -> tuple[list[Escalation], VerdictKind, list[str]]:
    """Add the review's new findings to ``findings``; its escalations, verdict and layers."""
    if isinstance(reviewed, Finding):  # the review itself could not run
        findings.append(reviewed)
        return [], decide([reviewed], []), []
    findings.extend(_not_yet_reported(reviewed.findings, findings))
    return list(reviewed.escalations), reviewed.verdict, [lay for r in reviewed.revisions for lay in r.layers]


async def _review(
    project: Project, path: Path, content: str, dry_run: bool, render: dict[str, Any] | None
) -> ReviewMigrationResult | Finding:
    """review_migration on the new file: the file written, or (dry run) its source at the path it would have.

    ``render`` is the offline SQL the generate worker rendered (PostgreSQL targets), reused for layer 2.
    """
    try:
        if dry_run:
            return await review_source(project, content, path, prerendered=render)
        return await review_migration(project, path=str(path), prerendered=render)
    except AlembicMcpError as exc:
        return Finding(
            rule="review-failed",
            severity="error",
            message=f"review_migration could not review the new file: {exc}",
            file=project.relative(path),
            why="The file was not reviewed, so nothing is known about its safety.",
            fix="Fix the cause, then call review_migration on the file.",
        )


def _not_yet_reported(reviewed: list[Finding], own: list[Finding]) -> list[Finding]:
    """The review's findings minus those generate_migration already reported (same rule, table, column
    and line): the blind-spot checks and the review both know, e.g., a metadata without naming_convention."""

    def key(f: Finding) -> tuple:
        return (f.rule, f.table, f.column, f.line)

    seen = {key(f) for f in own}
    out = []
    for finding in reviewed:
        if key(finding) not in seen:
            seen.add(key(finding))
            out.append(finding)
    return out


def _in_versions(project: Project, file: str | None) -> bool:
    if not file:
        return False
    path = Path(file).resolve()
    return any(path.is_relative_to(v.resolve()) for v in project.version_locations)


def _summary(result: GenerateMigrationResult, rel: str) -> tuple[str, list[str]]:
    count = len(result.operations)
    what = f"{count} operation{'s' if count != 1 else ''}" if result.autogenerate else "an empty revision"
    action = f"Dry run: would write {rel}" if result.dry_run else f"Wrote {rel}"
    text = f"{action} ({what}, revision {result.revision}, after {', '.join(result.down_revision) or 'base'})"
    steps: list[str] = []
    if result.verdict == "escalate":
        text += "; a human must decide: " + "; ".join(e.reason.rstrip(".") for e in result.escalations)
        if any(f.severity == "error" for f in result.findings):
            steps.append(
                (
                    "The mechanical fixes are applied (autofix): apply the other error findings' fixes by hand "
                    "(autofix.not_applied says why each needs you) first"
                    if result.autofix is not None and result.autofix.written
                    else "Apply the error findings' fixes first (generate_migration(rev_id=..., apply_fixes=true) "
                    "writes the file with the mechanical ones applied)"
                    if result.dry_run
                    else "Apply the error findings' fixes first (review_migration(apply_fixes=true) does the "
                    "mechanical ones)"
                )
                + ": any edit of the file voids an approval."
            )
        steps.append("Show the escalations to a human and wait for their decision before going on.")
    elif result.verdict == "fix":
        rules = sorted({f.rule for f in result.findings if f.severity == "error"})
        text += f"; fix before committing: {', '.join(rules)}"
        steps.extend(f"{f.rule}: {f.fix}" for f in result.findings if f.severity == "error" and f.fix)
    else:
        text += "; ready to commit after the rehearsal" if result.written else "; looks safe"
    if result.dry_run:
        steps.append(
            f"Call generate_migration again without dry_run and with rev_id={result.revision!r} to write this "
            "revision (the same id and file)."
        )
    elif not result.autogenerate:
        steps.append(f"Write the upgrade() and downgrade() bodies in {rel}, then call review_migration.")
    elif result.verdict == "fix":
        steps.append(f"Edit {rel} as the findings say, then call review_migration and test_roundtrip.")
    elif result.verdict == "proceed":
        steps.extend(
            [
                "Call test_roundtrip to rehearse upgrade/downgrade on a scratch database.",
                f"Commit together: {' '.join(result.files_to_commit)}",
            ]
        )
    return text + ".", steps


def _function_sources(content: str) -> tuple[str | None, str | None]:
    """upgrade() and downgrade() as written, trailing comments included."""
    try:
        tree = ast.parse(content)
    except SyntaxError:
        return None, None
    lines = content.splitlines()
    body = tree.body
    out: dict[str, str] = {}
    for index, node in enumerate(body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in ("upgrade", "downgrade"):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            end = body[index + 1].lineno - 1 if index + 1 < len(body) else len(lines)
            out[node.name] = "\n".join(lines[start:end]).rstrip()
    return out.get("upgrade"), out.get("downgrade")
