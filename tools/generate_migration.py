"""``generate_migration``: autogenerate a revision that knows autogenerate's blind spots, review it, and
say which files belong in the commit.

The revision is written by Alembic itself in a worker (fresh interpreter: the agent just edited the
models), compared by default with a scratch database upgraded to the current heads so the result
does not depend on the developer's database. The embedded review lives in ``embedded_review`` so
it can be swapped for review_migration's.
"""

from __future__ import annotations

import ast
import difflib
import re
import tempfile
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, Field

from .config import Project
from .dbinfo import row_counts, with_pg, with_sync
from .errors import AlembicMcpError, InvalidArgument, ProjectError
from .history import load_history
from .locking import project_lock
from .migration_ast import OpCall, parse_file
from .model_scan import ModelTable, defines_tables, scan_models
from .policy import matches_any
from .progress import Progress, no_progress
from .scratch import scratch_database
from .urls import backend_of, mask_url
from .verdict import Escalation, Finding, VerdictKind, VerdictResult, decide
from .worker import run_worker

MAX_MESSAGE = 200
REV_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
RESERVED_IDS = {"head", "heads", "base", "current"}
# Operations SQLite cannot run without batch mode (ALTER TABLE there only adds/renames columns).
SQLITE_NEEDS_BATCH = {
    "drop_column",
    "alter_column",
    "create_foreign_key",
    "drop_constraint",
    "create_unique_constraint",
    "create_check_constraint",
    "create_primary_key",
}
Against = Literal["scratch", "target"]


class DetectedOperation(BaseModel):
    op: str = Field(description="Alembic operation, e.g. add_column, drop_table, alter_column.")
    table: str | None = None
    column: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="Type, nullability, changes, columns.")


class GenerateMigrationResult(VerdictResult):
    revision: str | None = Field(
        default=None, description="Id of the new revision (none when nothing written)."
    )
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
        default=None, description="Verdict of the review of the file alone."
    )
    files_to_commit: list[str] = Field(
        default_factory=list, description="The migration plus the model files changed per git."
    )


# --- validation -------------------------------------------------------------------------------------


def validate_message(message: Any) -> str:
    if not isinstance(message, str) or not message.strip():
        raise InvalidArgument(
            "message is empty. Pass a short description of the change, e.g. 'add middle_name to persons'."
        )
    if any(ch in message for ch in "/\\\n\r\0"):
        raise InvalidArgument(
            "message contains a path separator or a newline; Alembic puts it in the file "
            "name. Use plain words, e.g. 'add middle_name to persons'."
        )
    if len(message) > MAX_MESSAGE:
        raise InvalidArgument(f"message is {len(message)} characters long; keep it under {MAX_MESSAGE}.")
    return message.strip()


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
) -> GenerateMigrationResult:
    message = validate_message(message)
    rev_id = validate_rev_id(rev_id)
    against = _validate_against(against)
    base = {"dry_run": bool(dry_run), "autogenerate": bool(autogenerate), "against": against}
    async with project_lock(project.state_dir):
        (project.state_dir / ".gitignore").write_text("*\n")
        await progress(0, 4, "preparing the database to compare with")
        args = {
            "message": message,
            "autogenerate": bool(autogenerate),
            "rev_id": rev_id,
            "dry_run": bool(dry_run),
            "version_table": project.settings.version_table,
        }
        compared_with = None
        # One worker does it all: the history checks (heads, rev_id), upgrade of the scratch database,
        # autogenerate and the blind-spot facts. The full history diagnosis runs only when it is broken.
        if autogenerate and against == "scratch":
            server = project.database_url or project.settings.scratch_url
            if server is None:
                raise ProjectError(
                    "No database configured to compare the models with: generate_migration "
                    "creates a scratch database on the target's server. Set database_url "
                    "(or scratch_url) in [tool.alembic-mcp], $DATABASE_URL or --database-url."
                )
            async with scratch_database(server, project.settings.scratch_url) as scratch:
                await progress(1, 4, "autogenerating against a scratch database upgraded to the heads")
                raw = await run_worker(
                    project, "generate", {**args, "upgrade_first": True}, database_url=scratch.url_string
                )
                compared_with = (
                    f"scratch database {scratch.masked_url} upgraded to "
                    f"{', '.join(raw.get('heads') or []) or 'base'} (dropped afterwards)"
                )
        else:
            worker_url = None
            if autogenerate:  # against the target, which must be at head
                if project.database_url is None:
                    raise InvalidArgument(
                        "against='target' needs a target database and none is configured; use "
                        "against='scratch' or pass --database-url / set database_url."
                    )
                if backend_of(project.database_url) == "sqlite" and not _sqlite_exists(project):
                    return GenerateMigrationResult(**base, **_target_refusal(project, None, None))
                worker_url = project.database_url.render_as_string(hide_password=False)
                compared_with = f"target database {project.masked_database_url} (at head)"
            await progress(1, 4, "writing the revision")
            raw = await run_worker(
                project, "generate", {**args, "upgrade_first": False}, database_url=worker_url
            )
        refusal = await _history_refusal(project, raw, base, rev_id)
        if refusal is not None:
            return refusal
        await progress(3, 4, "reviewing the new migration")
        result = await _build_result(project, raw, base, compared_with, list(raw.get("heads") or []))
        await progress(4, 4, "done")
        return result


async def _history_refusal(
    project: Project, raw: dict[str, Any], base: dict[str, Any], rev_id: str | None
) -> GenerateMigrationResult | None:
    stage = raw.get("stage")
    if stage == "rev_id_exists":
        raise InvalidArgument(
            f"rev_id {rev_id!r} already exists ({project.relative(raw['path'])}). Pick a new id or omit "
            f"rev_id."
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
                    message=f"Alembic could not read the revision files: {err.get('type')}: "
                    f"{err.get('message')}",
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
        from .dbinfo import current_revisions

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
    from .dbinfo import current_revisions

    if project.database_url is None:
        return None
    if backend_of(project.database_url) == "sqlite" and not _sqlite_exists(project):
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


def _sqlite_exists(project: Project) -> bool:
    database = project.database_url.database if project.database_url is not None else None
    return bool(database) and database != ":memory:" and Path(database).exists()


# --- turning the worker's report into a verdict -----------------------------------------------------


async def _build_result(
    project: Project, raw: dict[str, Any], base: dict[str, Any], compared_with: str | None, heads: list[str]
) -> GenerateMigrationResult:
    operations = [
        DetectedOperation(
            op=o["op"],
            table=o.get("table"),
            column=o.get("column"),
            detail={k: v for k, v in o.items() if k not in ("op", "table", "column") and v is not None},
        )
        for o in raw.get("operations", [])
    ]
    findings: list[Finding] = []
    escalations: list[Escalation] = []
    common = dict(base, compared_with=compared_with, operations=operations)
    if raw.get("stage") == "upgrade" and _in_versions(project, raw["error"].get("file")):
        err = raw["error"]
        return GenerateMigrationResult(
            **common,
            findings=[
                Finding(
                    rule="scratch-upgrade-failed",
                    severity="error",
                    message=f"`upgrade heads` failed on an empty scratch database: {err.get('type')}: "
                    f"{err.get('message')}",
                    file=project.relative(err["file"]) if err.get("file") else None,
                    line=err.get("line"),
                    why="The existing migrations do not build the schema from scratch, so there is nothing "
                    "reliable to compare the models with.",
                    fix="Fix the failing migration (test_roundtrip shows where), or use against='target' "
                    "with a target database at head.",
                )
            ],
            summary="The existing migrations fail on a fresh database; nothing written.",
            next_steps=["Fix the failing migration, then call generate_migration again."],
        )
    model_tables = scan_models(project.root, [project.script_location, *project.version_locations])
    if raw.get("target_metadata_none"):
        return GenerateMigrationResult(
            **common,
            findings=[_metadata_none_finding(project, model_tables)],
            summary="env.py passes target_metadata=None: autogenerate has nothing "
            "to compare; nothing written.",
            next_steps=["Set target_metadata in env.py, then call again."],
        )
    if raw.get("error"):
        err = raw["error"]
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
                    fix=f"Fix the error{' at ' + where + ':' + str(err.get('line')) if where else ''}, then "
                    f"call again.",
                )
            ],
            summary="Autogenerate failed before writing anything; see the finding.",
            next_steps=["Fix the error, then call generate_migration again."],
        )
    facts = dict(raw.get("facts", {}), errors=raw.get("fact_errors") or [])
    missing = _unimported_tables(model_tables, facts.get("metadata_tables"))
    if raw.get("refused") == "drop-all-tables":
        findings.append(
            Finding(
                rule="drops-every-table",
                severity="error",
                message=f"The migration would drop every table "
                f"({', '.join(facts.get('database_tables', []))}); "
                "refused, nothing written.",
                why="This is what autogenerate does when the models are not imported by env.py (or "
                "target_metadata is the wrong MetaData): it sees an empty model and drops everything.",
                fix=_import_fix(project, missing, model_tables),
            )
        )
        findings.extend(_missing_findings(project, missing, severity="error"))
        return GenerateMigrationResult(
            **common,
            findings=findings,
            summary="Refused: the migration would drop every table (models not "
            "imported by env.py?); nothing written.",
            next_steps=["Import every model module in env.py, then call again."],
        )
    if raw.get("empty") or (base["autogenerate"] and not raw.get("revision")):
        findings.extend(_missing_findings(project, missing, severity="error"))
        if not missing:
            behind = await _target_behind(project, heads)
            where = (
                f" The target database is at {behind}, behind the heads ({', '.join(heads)}): if the change "
                "is in a revision it has not applied yet, it reaches the target when that runs "
                "(test_roundtrip first)."
                if behind
                else ""
            )
            findings.append(
                Finding(
                    rule="nothing-detected",
                    severity="warning",
                    message=f"Autogenerate found no difference between the models and the {compared_with}."
                    + where,
                    why="Either the change is already in a migration (the database built from the current "
                    "heads already has it), or the model edit was not saved in a module env.py imports.",
                    fix="Check the model file is saved; if the change is in an earlier revision nothing is "
                    "needed. For changes autogenerate cannot see (enum values, CHECK, server defaults, "
                    "views, functions, triggers) call generate_migration with autogenerate=false and "
                    "write them.",
                )
            )
        findings.extend(_blind_spot_findings(facts, operations, project))
        return GenerateMigrationResult(
            **common,
            findings=findings,
            summary="Nothing detected; no file written. "
            + (
                f"Tables {', '.join(t.qualified for t in missing)} are defined in "
                "model modules env.py does not import."
                if missing
                else "The models match the schema of the current heads."
            ),
            next_steps=[f.fix for f in findings if f.severity != "info" and f.fix],
        )
    path = Path(raw["path"])
    content = raw.get("content", "")
    upgrade_src, downgrade_src = _function_sources(content)
    if missing:
        findings.extend(_missing_findings(project, missing, severity="warning"))
    findings.extend(_blind_spot_findings(facts, operations, project))
    findings.extend(_rename_findings(operations, facts.get("dialect"), project.relative(path)))
    review_findings, review_escalations = await _review_content(project, path, content, base["dry_run"])
    findings.extend(review_findings)
    escalations.extend(review_escalations)
    written = not base["dry_run"]
    rel = project.relative(path)
    files = await files_to_commit(project, path) if written else []
    result = GenerateMigrationResult(
        **common,
        revision=raw.get("revision"),
        down_revision=raw.get("down_revision", []),
        file=rel,
        written=written,
        upgrade_source=upgrade_src,
        downgrade_source=downgrade_src,
        content=content if base["dry_run"] else None,
        review_verdict=decide(review_findings, review_escalations),
        files_to_commit=files,
        findings=findings,
        escalations=escalations,
        summary="",
    )
    result.summary, result.next_steps = _summary(result, rel)
    return result


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
        text += "; a human must decide: " + "; ".join(e.reason for e in result.escalations)
        steps.append("Show the escalations to a human and wait for their decision before going on.")
    elif result.verdict == "fix":
        rules = sorted({f.rule for f in result.findings if f.severity == "error"})
        text += f"; fix before committing: {', '.join(rules)}"
        steps.extend(f"{f.rule}: {f.fix}" for f in result.findings if f.severity == "error" and f.fix)
    else:
        text += "; ready to commit after the rehearsal" if result.written else "; looks safe"
    if result.dry_run:
        steps.append("Call generate_migration again without dry_run to write it.")
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


def _metadata_none_finding(project: Project, model_tables: list[ModelTable]) -> Finding:
    modules = sorted({t.module for t in model_tables})
    hint = (
        (
            f"`from {modules[0]} import Base` (the declarative base your models use) and "
            "`target_metadata = Base.metadata`"
        )
        if modules
        else "`target_metadata = Base.metadata`"
    )
    return Finding(
        rule="target-metadata-none",
        severity="error",
        message="env.py configures target_metadata=None, so autogenerate cannot compare anything.",
        file=project.relative(project.script_location / "env.py"),
        why="Without the models' MetaData Alembic refuses to autogenerate.",
        fix=f"In env.py: {hint}; import every model module before it.",
    )


def _unimported_tables(model_tables: list[ModelTable], metadata_tables: list[str] | None) -> list[ModelTable]:
    if metadata_tables is None:
        return []
    known = set(metadata_tables) | {t.rsplit(".", 1)[-1] for t in metadata_tables}
    seen: set[str] = set()
    out = []
    for table in model_tables:
        if table.qualified not in known and table.table not in known and table.qualified not in seen:
            seen.add(table.qualified)
            out.append(table)
    return out


def _import_fix(project: Project, missing: list[ModelTable], model_tables: list[ModelTable]) -> str:
    modules = sorted({t.module for t in (missing or model_tables)})
    env = project.relative(project.script_location / "env.py")
    if not modules:
        return f"Import the modules defining your models in {env} before target_metadata is set."
    imports = "; ".join(f"import {m}  # noqa: F401" for m in modules)
    return f"Add to {env} (or to the package that defines Base): {imports}"


def _missing_findings(project: Project, missing: list[ModelTable], severity: str) -> list[Finding]:
    findings = []
    for module in sorted({t.module for t in missing}):
        tables = [t for t in missing if t.module == module]
        first = tables[0]
        names = ", ".join(f"{t.qualified} ({t.defined_by})" for t in tables)
        findings.append(
            Finding(
                rule="model-not-imported",
                severity=severity,  # type: ignore[arg-type]
                message=f"Module {module} defines {names}, but target_metadata does not contain "
                f"{'it' if len(tables) == 1 else 'them'}: env.py never imports the module.",
                file=project.relative(first.file),
                line=first.line,
                table=first.qualified,
                why="Autogenerate only sees tables registered on target_metadata; a model module nobody "
                "imports is invisible, so its changes are silently left out of the migration.",
                fix=f"Import it where the models are collected (e.g. in "
                f"{project.relative(project.script_location / 'env.py')}): `import {module}  # noqa: F401`, "
                "then call generate_migration again.",
            )
        )
    return findings


def _blind_spot_findings(
    facts: dict[str, Any], operations: list[DetectedOperation], project: Project
) -> list[Finding]:
    findings: list[Finding] = []
    env = project.relative(project.script_location / "env.py")
    if facts.get("errors"):
        findings.append(
            Finding(
                rule="blind-spot-check-failed",
                severity="info",
                message="Some checks beyond autogenerate could not run: " + "; ".join(facts["errors"])[:500],
                why="Those blind spots (enums, CHECK, defaults, views/functions/triggers) were not verified.",
                fix="Check them by hand in the migration.",
            )
        )
    for change in facts.get("enum_changes") or []:
        added = change["added"]
        fix = (
            "\n".join(
                ["with op.get_context().autocommit_block():"]
                + [
                    f"    op.execute(\"ALTER TYPE {change['enum']} ADD VALUE IF NOT EXISTS '{v}'\")"
                    for v in added
                ]
            )
            if added
            else ""
        )
        if change["removed"]:
            fix += (
                "\n# Removing or renaming values: create the new type, ALTER COLUMN ... TYPE new USING "
                "col::text::new, drop the old type (or op.execute(\"ALTER TYPE ... RENAME VALUE 'a' TO "
                "'b'\"))."
            )
        findings.append(
            Finding(
                rule="enum-change",
                severity="warning",
                message=f"Enum {change['enum']} has values {change['model_values']} in the models but "
                f"{change['database_values']} in the database; autogenerate does not detect enum value "
                "changes.",
                why="The application will write values the database rejects.",
                fix=fix.strip(),
            )
        )
    for change in facts.get("check_changes") or []:
        if change["change"] == "added":
            fix = (
                f"op.create_check_constraint({change['name']!r}, {change['table']!r}, "
                f"{change['model_sql']!r})  # downgrade: op.drop_constraint({change['name']!r}, "
                f"{change['table']!r}, type_='check')"
            )
        elif change["change"] == "removed":
            fix = f"op.drop_constraint({change['name']!r}, {change['table']!r}, type_='check')"
        else:
            fix = (
                f"op.drop_constraint({change['name']!r}, {change['table']!r}, type_='check'); "
                f"op.create_check_constraint({change['name']!r}, {change['table']!r}, "
                f"{change['model_sql']!r})"
            )
        findings.append(
            Finding(
                rule="check-constraint-change",
                severity="warning",
                table=change["table"],
                message=f"CHECK constraint {change['name']} on {change['table']} was {change['change']} in "
                f"the models "
                "(database: " + repr(change.get("database_sql")) + "); autogenerate does not detect it.",
                why="The database keeps enforcing the old rule (or none).",
                fix=f"Add to the migration: {fix}  (on SQLite inside op.batch_alter_table).",
            )
        )
    for change in facts.get("server_default_changes") or []:
        new = change["model_default"]
        findings.append(
            Finding(
                rule="server-default-change",
                severity="warning",
                table=change["table"],
                column=change["column"],
                message=f"server_default of {change['table']}.{change['column']} is {new!r} in the models "
                f"and "
                f"{change['database_default']!r} in the database; not in the migration because env.py "
                "does not set compare_server_default=True.",
                why="Rows inserted without the column get the old default.",
                fix=f"op.alter_column({change['table']!r}, {change['column']!r}, server_default="
                f"{('sa.text(' + repr(new) + ')') if new is not None else 'None'})  "
                f"(or set compare_server_default=True in {env}'s context.configure).",
            )
        )
    objects = facts.get("database_objects") or {}
    present = {k: v for k, v in objects.items() if v}
    if present:
        listing = "; ".join(f"{k}: {', '.join(v[:10])}" for k, v in present.items())
        findings.append(
            Finding(
                rule="objects-not-compared",
                severity="info",
                message=f"The database built by the migrations has {listing}; autogenerate never compares "
                f"these.",
                why="If you changed their definition in code, the migration does not contain it.",
                fix='Write them by hand: op.execute("CREATE OR REPLACE VIEW|FUNCTION ...") in upgrade() and '
                "the "
                "previous definition in downgrade(); triggers: DROP TRIGGER IF EXISTS then CREATE TRIGGER.",
            )
        )
    findings.append(
        Finding(
            rule="autogenerate-blind-spots",
            severity="info",
            message="Autogenerate does not detect: PostgreSQL enum value changes, CHECK constraint changes "
            "on "
            "existing tables, server_default changes (unless compare_server_default=True), views, "
            "functions, triggers, and renames (seen as drop + add).",
            fix="Enum: ALTER TYPE name ADD VALUE 'v' inside op.get_context().autocommit_block(); CHECK: "
            "op.create_check_constraint / op.drop_constraint(type_='check'); default: op.alter_column(t, c, "
            "server_default=...); views/functions/triggers: op.execute('CREATE OR REPLACE ...') with the old "
            "definition in downgrade(); rename: op.alter_column(t, old, new_column_name=new) / "
            "op.rename_table.",
        )
    )
    if facts.get("naming_convention") is False:
        findings.append(
            Finding(
                rule="unnamed-constraint",
                severity="warning",
                message="target_metadata has no naming_convention: constraints without an explicit name get "
                "a "
                "name chosen by the database.",
                why="Unnamed constraints cannot be dropped or altered portably by a later migration "
                "(drop_constraint(None, ...) fails), and SQLite batch mode cannot recreate them.",
                fix="MetaData(naming_convention={'ix': 'ix_%(column_0_label)s', 'uq': "
                "'uq_%(table_name)s_%(column_0_name)s', 'ck': 'ck_%(table_name)s_%(constraint_name)s', 'fk': "
                "'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s', 'pk': 'pk_%(table_name)s'})",
            )
        )
    if facts.get("dialect") == "sqlite" and not facts.get("render_as_batch"):
        needs = sorted({o.op for o in operations if o.op in SQLITE_NEEDS_BATCH})
        findings.append(
            Finding(
                rule="sqlite-batch-mode",
                severity="error" if needs else "warning",
                file=env,
                message="env.py does not set render_as_batch=True for SQLite"
                + (
                    f", and this migration uses {', '.join(needs)}, which SQLite's ALTER TABLE cannot run."
                    if needs
                    else "; later column changes will fail on SQLite."
                ),
                why="SQLite only supports ADD/RENAME COLUMN; Alembic's batch mode recreates the table "
                "instead.",
                fix=f"In {env}: context.configure(..., render_as_batch=connection.dialect.name == 'sqlite'), "
                "then delete the generated file and call generate_migration again.",
            )
        )
    return findings


# --- probable renames ---------------------------------------------------------------------------------


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _rename_findings(
    operations: list[DetectedOperation], dialect: str | None, file: str | None
) -> list[Finding]:
    findings: list[Finding] = []
    by_table: dict[str, tuple[list[DetectedOperation], list[DetectedOperation]]] = {}
    for o in operations:
        if o.op in ("drop_column", "add_column") and o.table:
            pair = by_table.setdefault(o.table, ([], []))
            pair[0 if o.op == "drop_column" else 1].append(o)
    for table, (drops, adds) in by_table.items():
        used: set[int] = set()
        for drop in drops:
            best, best_score = None, 0.0
            for index, add in enumerate(adds):
                if index in used:
                    continue
                same_type = drop.detail.get("type") is not None and drop.detail.get("type") == add.detail.get(
                    "type"
                )
                score = _similar(drop.column or "", add.column or "")
                plausible = score >= 0.8 or (
                    same_type and (score >= 0.4 or (len(drops) == 1 and len(adds) == 1))
                )
                if plausible and score + same_type > best_score:
                    best, best_score = index, score + same_type
            if best is None:
                continue
            used.add(best)
            add = adds[best]
            batch = dialect == "sqlite"
            up = (
                f"with op.batch_alter_table({table!r}) as batch_op:\n    batch_op.alter_column("
                f"{drop.column!r}, new_column_name={add.column!r})"
                if batch
                else f"op.alter_column({table!r}, {drop.column!r}, new_column_name={add.column!r})"
            )
            findings.append(
                Finding(
                    rule="probable-rename",
                    severity="error",
                    file=file,
                    table=table,
                    column=drop.column,
                    message=f"{table}.{drop.column} is dropped and {table}.{add.column} added "
                    f"({drop.detail.get('type') or '?'} -> {add.detail.get('type') or '?'}): probably a "
                    "rename, which autogenerate cannot detect.",
                    why="As written the migration deletes every value of the old column and adds an empty "
                    "one.",
                    fix=f"If it is a rename, replace the drop_column/add_column pair in upgrade() "
                    f"with:\n{up}\n"
                    f"and in downgrade() the reverse (new_column_name={drop.column!r}). If the drop is "
                    "intended, keep it and confirm with a human.",
                )
            )
    dropped = [o for o in operations if o.op == "drop_table"]
    created = [o for o in operations if o.op == "create_table"]
    for drop in dropped:
        old_cols = set(drop.detail.get("columns") or [])
        for create in created:
            new_cols = set(create.detail.get("columns") or [])
            overlap = len(old_cols & new_cols) / len(old_cols | new_cols) if old_cols | new_cols else 0.0
            if overlap >= 0.6 or (overlap >= 0.4 and _similar(drop.table or "", create.table or "") >= 0.6):
                findings.append(
                    Finding(
                        rule="probable-rename",
                        severity="error",
                        file=file,
                        table=drop.table,
                        message=f"Table {drop.table} is dropped and {create.table} created with "
                        f"{len(old_cols & new_cols)} of the same columns: probably a rename.",
                        why="As written the migration deletes every row of the old table.",
                        fix=f"Replace the drop_table/create_table pair with op.rename_table({drop.table!r}, "
                        f"{create.table!r}) (downgrade: op.rename_table({create.table!r}, {drop.table!r})), "
                        "plus any column changes; if the drop is intended, confirm with a human.",
                    )
                )
                break
    return findings


# --- the embedded review ------------------------------------------------------------------------------


async def _review_content(
    project: Project, path: Path, content: str, dry_run: bool
) -> tuple[list[Finding], list[Escalation]]:
    if not dry_run:
        return await embedded_review(project, path)
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-review-") as folder:
        copy = Path(folder) / path.name
        copy.write_text(content, encoding="utf-8")
        findings, escalations = await embedded_review(project, copy)
    for finding in findings:
        if finding.file and finding.file.endswith(path.name):
            finding.file = project.relative(path)
    return findings, escalations


async def embedded_review(
    project: Project, migration_path: Path | str
) -> tuple[list[Finding], list[Escalation]]:
    """Review one migration file against the target database: drops with data, required columns on
    tables with rows, protected and audit tables. Swappable for review_migration's full review."""
    migration_path = Path(migration_path)
    try:
        parsed = parse_file(migration_path)
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return [
            Finding(
                rule="unparseable-migration",
                severity="error",
                message=f"Cannot parse the file: {exc}",
                file=project.relative(migration_path),
                fix="Fix the syntax error.",
            )
        ], []
    rel = project.relative(migration_path)
    ups = parsed.ops_in("upgrade")
    tables = sorted({op.table for op in ups if op.table})
    counts, count_error = await _target_counts(project, tables)
    findings: list[Finding] = []
    escalations: list[Escalation] = []
    settings = project.settings
    for table in sorted(
        {op.table for op in ups if op.table and op.name != "create_table" and not op.table_created_here}
    ):
        if matches_any(table, settings.protected_tables):
            escalations.append(
                Escalation(
                    rule="protected-table",
                    reason=f"{table} matches protected_tables {settings.protected_tables}.",
                    evidence={"table": table, "file": rel},
                )
            )
        if matches_any(table, settings.audit_tables):
            escalations.append(
                Escalation(
                    rule="audit-trail",
                    reason=f"{table} matches audit_tables {settings.audit_tables}.",
                    evidence={"table": table, "file": rel},
                )
            )
    for op in ups:
        if op.table_created_here or not op.table:
            continue
        rows = counts.get(op.table, {}).get("rows") if counts is not None else None
        known_empty = counts is not None and (op.table not in counts or rows == 0)
        if op.name == "add_column":
            finding = _required_column(op, rows, known_empty, count_error, rel)
            if finding:
                findings.append(finding)
        elif op.name == "drop_column":
            column = op.literal(1, "column_name")
            non_null = (
                0
                if known_empty
                else (await _non_null(project, op.table, column) if counts is not None and column else None)
            )
            if non_null == 0:
                findings.append(
                    Finding(
                        rule="drop-column",
                        severity="warning",
                        file=rel,
                        line=op.line,
                        table=op.table,
                        column=column,
                        message=f"Drops {op.table}.{column}, which holds no values in the target.",
                        fix="Stop using the column in code before the release that drops it.",
                    )
                )
                continue
            escalations.append(
                Escalation(
                    rule="drop-column-with-data",
                    reason=f"{op.table}.{column} is dropped and "
                    + (
                        f"holds {non_null} non-null value(s)"
                        if non_null
                        else f"the table has {rows} row(s)"
                        if rows
                        else f"its data cannot be checked ({count_error})"
                    )
                    + " in the target database.",
                    evidence={
                        "table": op.table,
                        "column": column,
                        "rows": rows,
                        "non_null": non_null,
                        "file": rel,
                        "line": op.line,
                    },
                )
            )
            findings.append(
                Finding(
                    rule="drop-column",
                    severity="warning",
                    file=rel,
                    line=op.line,
                    table=op.table,
                    column=column,
                    message=f"Drops {op.table}.{column} and its data.",
                    why="Data loss; application code still selecting the column breaks.",
                    fix=f"Back up first (backup_db); stop using the column in code, drop it in a later "
                    f"release; "
                    f"guard: SELECT NOT EXISTS (SELECT 1 FROM {op.table} WHERE {column} IS NOT NULL).",
                )
            )
        elif op.name == "drop_table":
            if known_empty:
                continue
            escalations.append(
                Escalation(
                    rule="drop-table-with-data",
                    reason=f"{op.table} is dropped and "
                    + (f"has {rows} row(s)" if rows else f"its row count cannot be read ({count_error})")
                    + " in the target database.",
                    evidence={"table": op.table, "rows": rows, "file": rel, "line": op.line},
                )
            )
    return findings, escalations


def _required_column(
    op: OpCall, rows: int | None, known_empty: bool, count_error: str | None, rel: str
) -> Finding | None:
    column = op.arg(1, "column")
    if not (isinstance(column, ast.Call) and column.args):
        return None
    kwargs = {kw.arg: kw.value for kw in column.keywords if kw.arg}
    nullable = kwargs.get("nullable")
    primary = kwargs.get("primary_key")
    required = (isinstance(nullable, ast.Constant) and nullable.value is False) or (
        nullable is None and isinstance(primary, ast.Constant) and primary.value is True
    )
    default = kwargs.get("server_default")
    if not required or (
        default is not None and not (isinstance(default, ast.Constant) and default.value is None)
    ):
        return None
    name = ast.literal_eval(column.args[0]) if isinstance(column.args[0], ast.Constant) else "?"
    type_src = ast.unparse(column.args[1]) if len(column.args) > 1 else "sa.String()"
    table = op.table
    in_batch = op.batch_table is not None
    prefix = f"with op.batch_alter_table({table!r}) as batch_op:\n    batch_op." if in_batch else "op."
    phase1 = (
        f"{prefix}add_column("
        + ("" if in_batch else f"{table!r}, ")
        + f"sa.Column({name!r}, {type_src}, nullable=True))"
    )
    phase3 = (
        f"{prefix}alter_column("
        + ("" if in_batch else f"{table!r}, ")
        + f"{name!r}, existing_type={type_src}, nullable=False)"
    )
    fix = (
        "Three phases (the skill's pattern), e.g. three revisions committed together:\n"
        f"# 1. this revision: add it nullable\n{phase1}\n"
        f'# 2. next revision: backfill existing rows\nop.execute(sa.text("UPDATE {table} SET {name} = :value '
        f'WHERE {name} IS NULL").bindparams(value=...))\n'
        f"# 3. last revision: enforce NOT NULL\n{phase3}\n"
        "Or, when one constant fits every existing row, add server_default=sa.text('...') to the column."
    )
    if known_empty:
        return Finding(
            rule="add-column-required",
            severity="warning",
            file=rel,
            line=op.line,
            table=table,
            column=name,
            message=f"Adds NOT NULL {table}.{name} without server_default; the target "
            "table is empty so it runs, but fails wherever the table has rows.",
            why="Other databases (staging, production) likely have rows.",
            fix=fix,
        )
    return Finding(
        rule="add-column-required",
        severity="error",
        file=rel,
        line=op.line,
        table=table,
        column=name,
        message=f"Adds NOT NULL {table}.{name} without server_default to a table with "
        + (f"{rows} row(s)" if rows else f"an unknown number of rows ({count_error})")
        + ".",
        why="The ALTER fails on existing rows (NOT NULL violation); old code inserting without the "
        "column breaks.",
        fix=fix,
    )


async def _target_counts(project: Project, tables: list[str]) -> tuple[dict[str, dict] | None, str | None]:
    """Row counts in the target database, or (None, why) when they cannot be read."""
    if project.database_url is None:
        return None, "no target database configured"
    if backend_of(project.database_url) == "sqlite" and not _sqlite_exists(project):
        return {}, None  # no file: no rows anywhere (and reading it would create it)
    try:
        return await row_counts(project.database_url, tables, project.settings.exact_count_limit), None
    except AlembicMcpError as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"{type(exc).__name__} reading {mask_url(project.database_url)}"


async def _non_null(project: Project, table: str, column: str) -> int | None:
    """How many rows hold a value in ``table.column`` in the target; None when it cannot be read."""
    url = project.database_url
    try:
        if backend_of(url) == "postgresql":

            def quote(name: str) -> str:
                return '"' + name.replace('"', '""') + '"'

            async def query(conn) -> int:
                return int(
                    await conn.fetchval(
                        f"SELECT count(*) FROM {quote(table)} WHERE {quote(column)} IS NOT NULL"
                    )
                )

            return await with_pg(url, query)
        from sqlalchemy import text

        def query_sync(conn) -> int:
            q = conn.dialect.identifier_preparer.quote
            return int(
                conn.execute(
                    text(f"SELECT count(*) FROM {q(table)} WHERE {q(column)} IS NOT NULL")
                ).scalar_one()
            )

        return await with_sync(url, query_sync)
    except Exception:
        return None


# --- files to commit ------------------------------------------------------------------------------------


async def files_to_commit(project: Project, migration: Path) -> list[str]:
    """The migration, plus model modules and env.py changed according to ``git status`` (if a git repo)."""
    files = [project.relative(migration)]
    try:
        top = await anyio.run_process(
            ["git", "-C", str(project.root), "rev-parse", "--show-toplevel"], check=False
        )
        if top.returncode != 0:
            return files
        status = await anyio.run_process(
            ["git", "-C", str(project.root), "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            check=False,
        )
    except OSError:
        return files
    if status.returncode != 0:
        return files
    root = Path(top.stdout.decode().strip())
    env_py = (project.script_location / "env.py").resolve()
    versions = [v.resolve() for v in project.version_locations]
    entries = status.stdout.decode(errors="replace").split("\0")
    skip_next = False
    for entry in entries:
        if skip_next:
            skip_next = False
            continue
        if len(entry) < 4:
            continue
        code, name = entry[:2], entry[3:]
        if code[0] in "RC":
            skip_next = True  # the original name of a rename follows
        if code.strip() == "D":
            continue
        path = (root / name).resolve()
        if not path.is_relative_to(project.root) or path.suffix != ".py" or path == migration.resolve():
            continue
        if any(path.is_relative_to(v) for v in versions):
            continue
        if path == env_py or defines_tables(path):
            rel = project.relative(path)
            if rel not in files:
                files.append(rel)
    return files
