"""``merge_heads``: join several heads with Alembic's own merge, check the result, rehearse it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.access import refuse_if_read_only
from alembic_mcp.tools.core.client_text import validate_message as validate_client_message
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.core.locking import project_lock
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.verdict import Escalation, Finding, VerdictResult
from alembic_mcp.tools.db.dbinfo import current_revisions
from alembic_mcp.tools.db.scratch import scratch_database, scratch_notes
from alembic_mcp.tools.heads.check import analyse_branches
from alembic_mcp.tools.history.graph import History, load_history
from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.worker.protocol import MergeArgs
from alembic_mcp.tools.worker.runner import WorkerError, run_worker


class Rehearsal(BaseModel):
    ran: bool
    ok: bool | None = None
    scratch_database: str | None = Field(default=None, description="Masked URL of the scratch database.")
    dropped: bool | None = None
    current_after: list[str] = Field(default_factory=list)
    error: str | None = None
    detail: str = ""
    notes: list[Finding] = Field(default_factory=list, exclude=True)  # about the rehearsal's environment


class MergeHeadsResult(VerdictResult):
    merged_heads: list[str] = Field(default_factory=list)
    revision: str | None = None
    file: str | None = Field(default=None, description="The merge file, relative to the project.")
    content: str | None = Field(default=None, description="Full text of the merge file.")
    written: bool = False
    dry_run: bool = False
    heads_after: list[str] = Field(default_factory=list)
    conflicts_acknowledged: list[str] = Field(
        default_factory=list, description="Tables changed by several heads that a human accepted merging."
    )
    rehearsal: Rehearsal = Field(default_factory=lambda: Rehearsal(ran=False))
    files_to_commit: list[str] = Field(
        default_factory=list,
        description="The merge file to commit (a dry run: the file a real run writes); empty when nothing is written.",
    )


def validate_message(message: str) -> str:
    return validate_client_message(message, "merge heads")


def _select_heads(history: History, heads: list[str] | None) -> list[str]:
    if heads is None:
        return list(history.heads)
    if not isinstance(heads, list) or not all(isinstance(h, str) and h.strip() for h in heads):
        raise InvalidArgument('heads must be a list of revision ids, e.g. ["ab12", "cd34"], or omitted.')
    chosen: list[str] = []
    for ident in heads:
        matches = [r for r in history.resolve(ident.strip()) if r in history.nodes]
        if not matches:
            raise InvalidArgument(f"Unknown revision {ident!r}. Current heads: {', '.join(history.heads)}.")
        if len(matches) > 1:
            raise InvalidArgument(f"{ident!r} matches several revisions ({', '.join(matches)}); give more characters.")
        if matches[0] not in history.heads:
            raise InvalidArgument(f"{matches[0]} is not a head. Current heads: {', '.join(history.heads)}.")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    if len(chosen) < 2:
        raise InvalidArgument("Name at least two different heads to merge (or omit heads to merge all).")
    return chosen


def _merge_file_ops(content: str) -> list[str]:
    try:
        parsed = parse_source(content)
    except SyntaxError:
        return ["<unparseable>"]
    return [f"{op.function}: op.{op.name} (line {op.line})" for op in parsed.ops]


async def conflicting_tables(project: Project, heads: list[str] | None = None) -> list[str]:
    """Tables changed by more than one of the heads to merge (empty when none or nothing to merge)."""
    history, _ = await load_history(project, check_env=False)
    if not history.usable or len(history.heads) < 2:
        return []
    sub = History(nodes=history.nodes, findings=[], heads=_select_heads(history, heads), bases=history.bases)
    _, conflicts = analyse_branches(sub)
    return sorted({t for _, _, ts in conflicts for t in ts})


async def merge_heads(
    project: Project,
    heads: list[str] | None = None,
    message: str = "merge heads",
    dry_run: bool = False,
    acknowledge_conflicts: bool = False,
    progress: Progress = no_progress,
) -> MergeHeadsResult:
    """Join the heads with Alembic's own merge, after the conflict check, and rehearse upgrade heads."""
    message = validate_message(message)
    if not dry_run:
        refuse_if_read_only(project, "write merge revisions", "Call merge_heads with dry_run=true to see the merge.")
    project.state_dir.mkdir(parents=True, exist_ok=True)
    (project.state_dir / ".gitignore").write_text("*\n")
    async with project_lock(project.state_dir):
        await progress(0, 4, "loading the revision history")
        history, _ = await load_history(project, check_env=False)
        refusal = _nothing_to_merge(history, heads, dry_run)
        if refusal is not None:
            return refusal
        chosen = _select_heads(history, heads)
        _, conflicts = analyse_branches(History(nodes=history.nodes, findings=[], heads=chosen, bases=history.bases))
        tables = sorted({t for _, _, ts in conflicts for t in ts})
        if conflicts and not acknowledge_conflicts:
            return _conflicting_heads(chosen, conflicts, tables, dry_run)
        await progress(1, 4, "writing the merge revision" if not dry_run else "rendering the merge (dry run)")
        result = await _merge_and_rehearse(project, chosen, message, dry_run, progress)
        if conflicts:
            result.conflicts_acknowledged = tables
            result.findings.append(
                Finding(
                    rule="conflicts-acknowledged",
                    severity="info",
                    message=f"Merged although several heads change {', '.join(tables)}: acknowledged by a human.",
                    fix="Run test_roundtrip on the merged history.",
                )
            )
        return result


def _nothing_to_merge(history: History, heads: list[str] | None, dry_run: bool) -> MergeHeadsResult | None:
    """A broken history, or a single head: nothing is written."""
    broken = [f for f in history.findings if f.severity == "error"]
    if broken or not history.usable:
        return MergeHeadsResult(
            findings=broken,
            summary="The history is broken; fix it before merging (nothing written).",
            next_steps=[f"{f.rule}: {f.fix}" for f in broken],
            dry_run=dry_run,
        )
    if len(history.heads) < 2:
        if heads:
            _select_heads(history, heads)  # still refuses heads that do not exist
        return MergeHeadsResult(
            summary=f"Nothing to merge: the history has a single head ({', '.join(history.heads) or 'none'}).",
            heads_after=list(history.heads),
            dry_run=dry_run,
            next_steps=["Go on with generate_migration or review_migration."],
        )
    return None


def _conflicting_heads(
    chosen: list[str], conflicts: list[tuple[str, str, list[str]]], tables: list[str], dry_run: bool
) -> MergeHeadsResult:
    return MergeHeadsResult(
        merged_heads=chosen,
        dry_run=dry_run,
        escalations=[
            Escalation(
                rule="conflicting-heads",
                reason=f"Heads {a} and {b} both change {', '.join(ts)}.",
                evidence={"heads": [a, b], "tables": ts},
            )
            for a, b, ts in conflicts
        ],
        summary=f"Heads change the same table(s) {', '.join(tables)}: a human must decide; nothing written.",
        next_steps=[
            "Show the heads and tables to a human.",
            "If they confirm the changes are independent, call merge_heads again with "
            "acknowledge_conflicts=true; otherwise rebase one branch onto the other.",
        ],
    )


async def _run_merge(project: Project, args: MergeArgs, database_url: str | None) -> dict:
    try:
        return await run_worker(project, "merge", args, database_url=database_url)
    except WorkerError as exc:
        if exc.info.get("type") != "NotPlainModule":
            raise
        raise InvalidArgument(
            "Refused: the rendered merge revision is not a plain migration module (docstring, imports, "
            f"assignments, functions): {exc.info.get('message')}. Nothing was written. Check the message "
            "and the project's script.py.mako template."
        ) from None


async def _merge_and_rehearse(
    project: Project, chosen: list[str], message: str, dry_run: bool, progress: Progress
) -> MergeHeadsResult:
    args = MergeArgs(heads=chosen, message=message, dry_run=dry_run)
    raw, rehearsal = await _merge_in_worker(project, args, progress)
    path = Path(raw["path"])
    written = not dry_run
    escalations: list[Escalation] = []
    if rehearsal.ran and not rehearsal.ok:
        escalations.append(
            Escalation(
                rule="migration-failure-unclear",
                reason="upgrade heads through the merge failed on a scratch database: the branches do not "
                "apply together.",
                evidence={"error": rehearsal.error or ""},
            )
        )
        if written:
            path.unlink(missing_ok=True)
            written = False
            rehearsal.detail = "The merge file was removed again so no failing merge gets committed."
    await progress(4, 4, "done")
    rel = project.relative(path)
    summary, steps = _merge_summary(chosen, rel, dry_run, rehearsal, bool(escalations))
    return MergeHeadsResult(
        merged_heads=chosen,
        revision=raw["revision"],
        file=rel,
        content=raw["content"],
        written=written,
        dry_run=dry_run,
        heads_after=raw["heads_after"],
        rehearsal=rehearsal,
        files_to_commit=[rel] if written or (dry_run and not escalations) else [],
        findings=_merge_file_findings(project, path, raw) + rehearsal.notes,
        escalations=escalations,
        summary=summary,
        next_steps=steps,
    )


async def _merge_in_worker(project: Project, args: MergeArgs, progress: Progress) -> tuple[dict[str, Any], Rehearsal]:
    """The merge written (or rendered) by the worker, rehearsed there on a scratch database when one exists."""
    if project.database_url is None:
        no_server = "No target database configured, so no scratch server to rehearse on."
        return await _run_merge(project, args, None), Rehearsal(ran=False, detail=no_server)
    settings = project.settings
    async with scratch_database(project.database_url, settings.scratch_url, settings.scratch_credentials) as scratch:
        args.scratch_url, args.bootstrap = scratch.url_string, project.settings.bootstrap
        raw = await _run_merge(project, args, scratch.url_string)
        await progress(3, 4, "rehearsed upgrade heads on a scratch database")
        outcome = raw.get("rehearsal") or {}
        current: list[str] = []
        if outcome.get("ok"):
            current = await current_revisions(scratch.url, settings.version_table, settings.version_table_schema) or []
        error = outcome.get("error")
        rehearsal = Rehearsal(
            ran=True,
            ok=bool(outcome.get("ok")),
            scratch_database=scratch.masked_url,
            current_after=current,
            error=f"{error.get('type')}: {error.get('message')}" if error else None,
            notes=scratch_notes(scratch, str(error.get("message")) if error else ""),
        )
    rehearsal.dropped = scratch.dropped
    return raw, rehearsal


def _merge_file_findings(project: Project, path: Path, raw: dict[str, Any]) -> list[Finding]:
    """A merge file must only join heads, and leave exactly one."""
    findings: list[Finding] = []
    ops = _merge_file_ops(raw["content"])
    if ops:
        findings.append(
            Finding(
                rule="merge-has-operations",
                severity="error",
                message=f"The merge file contains operations: {', '.join(ops)}.",
                file=project.relative(path),
                why="A merge revision should only join heads; schema changes belong in their "
                "own revision where they are reviewed.",
                fix="Move the operations into a new revision after the merge.",
            )
        )
    if len(raw["heads_after"]) != 1:
        findings.append(
            Finding(
                rule="multiple-heads",
                severity="error",
                message=f"After the merge there are still {len(raw['heads_after'])} heads: "
                f"{', '.join(raw['heads_after'])}.",
                fix="Call merge_heads again without naming heads to merge all of them.",
            )
        )
    return findings


def _merge_summary(
    chosen: list[str], rel: str, dry_run: bool, rehearsal: Rehearsal, failed: bool
) -> tuple[str, list[str]]:
    if failed:
        return (
            f"Merging {', '.join(chosen)} fails on a scratch database; a human must look at it.",
            ["Show the rehearsal error to a human; the two branches must be reconciled by hand."],
        )
    if dry_run:
        return (
            f"Dry run: would write {rel} merging {', '.join(chosen)}; nothing written.",
            ["Call merge_heads without dry_run to write it."],
        )
    rehearsed = " and upgrade heads passed on a scratch database." if rehearsal.ok else "."
    return (
        f"Wrote {rel} merging {', '.join(chosen)}; one head remains" + rehearsed,
        ["Call check_heads to confirm one head.", f"Commit {rel}."],
    )
