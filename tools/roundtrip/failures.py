"""test_roundtrip's reports of failed steps: one ``FailureReport`` per failure the worker saw, with the
findings and escalations it warrants; seed limitations (a step that failed on seed rows only); and
where a rehearsal stopped early.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.verdict import Escalation, Finding
from alembic_mcp.tools.roundtrip.diagnosis import explain


class FailureReport(BaseModel):
    revision: str | None
    phase: str | None = Field(description="prepare, upgrade, downgrade or re-upgrade.")
    direction: str | None = Field(default=None, description="upgrade, downgrade or re-upgrade (= phase).")
    mode: str = Field(
        description="not-null-violation, foreign-key-violation, unique-violation, check-violation, "
        "type-mismatch, object-already-exists, object-does-not-exist, object-still-referenced, "
        "drop-of-missing-object, defined-twice, unnamed-constraint, deliberate-raise, migration-code-error, "
        "swallowed-error or unknown."
    )
    error: str
    operation: dict[str, Any] | None = Field(
        default=None, description="The operation that raised (op name, table, columns ...), if an op.* call did."
    )
    file: str | None = Field(default=None, description="The migration file, at the innermost frame inside it.")
    line: int | None = None
    reproduced_without_seed_rows: bool = Field(
        default=False, description="It failed on seed rows and again on the history's own rows alone."
    )
    on_seed_rows: bool = Field(
        default=False,
        description="It failed on generated seed rows and passed without them; the values are ones the schema "
        "allows, so real rows can hold them (data_from='target' tells whether they do).",
    )
    applied: list[str] = Field(
        default_factory=list,
        description="Schema changes the failed step left behind (non-transactional DDL).",
    )
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="Evidence; for NOT NULL, unique, foreign-key and CHECK failures violating_rows, key_columns "
        "and violating_keys (up to 10) as the failing statement met them; for a unique failure sample_duplicates "
        "(each value, its row count and its rows' keys); index_left: the index a failed concurrent build left.",
    )
    recovery: list[str] = Field(default_factory=list)


class SeedLimitation(BaseModel):
    revision: str
    phase: str
    mode: str
    error: str
    operation: dict[str, Any] | None = None
    file: str | None = None
    line: int | None = None


class StopReport(BaseModel):
    revision: str | None = Field(default=None, description="The first revision not (fully) rehearsed.")
    reason: str


def _recovery(raw: dict[str, Any], backend: str, fix: str) -> list[str]:
    applied, operation = raw.get("applied") or [], raw.get("operation") or {}
    if operation.get("autocommit"):
        steps = [_not_rolled_back((raw.get("facts") or {}).get("index_left"), applied)]
    elif applied:
        steps = [
            f"The failed step left {len(applied)} change(s) behind (DDL on {backend} is not "
            f"transactional): {'; '.join(applied[:10])}. On a real database, revert these by hand; "
            "alembic_version still names the previous revision.",
            "Split the revision so each one holds a single DDL statement, so a failure leaves a "
            "state some revision describes.",
        ]
    else:
        steps = [
            "Nothing of the failed step remained (it was rolled back); alembic_version names the previous revision."
        ]
    return [*steps, fix, "Call test_roundtrip again after the fix."]


def _not_rolled_back(index: dict[str, Any] | None, applied: list[str]) -> str:
    """What a statement that failed in an autocommit block left: no transaction rolls it back."""
    if index:
        name, table = index["name"], index["table"]
        state = "INVALID (pg_index.indisvalid = false)" if not index["valid"] else "valid"
        return (
            f"The failed statement ran in an autocommit block (CREATE INDEX CONCURRENTLY), so it was not rolled "
            f"back: index {name} on {table} remains, {state}, on the scratch database, and would on a real one; "
            "alembic_version names the previous revision. Check a real database with SELECT indisvalid FROM "
            f"pg_index WHERE indexrelid = to_regclass('{name}'); clean up with DROP INDEX CONCURRENTLY IF EXISTS "
            f"{name} before the next run (a build with if_not_exists=True would keep the leftover and never use it)."
        )
    left = f": {'; '.join(applied[:10])}" if applied else ""
    return (
        "The failed statement ran in an autocommit block, so it was not rolled back: what the block did before it "
        f"stays committed{left}; alembic_version names the previous revision. Revert it by hand on a real "
        "database (the INVALID index a failed CREATE INDEX CONCURRENTLY leaves goes with DROP INDEX CONCURRENTLY "
        "IF EXISTS and its name)."
    )


def failure_report(
    project: Project,
    raw: dict[str, Any],
    backend: str,
    findings: list[Finding],
    escalations: list[Escalation],
    file_of: dict[str, str],
) -> FailureReport:
    """The report of one failed step; appends its findings and escalations."""
    rev, phase, mode = raw.get("revision"), raw.get("phase"), raw.get("mode", "unknown")
    facts = raw.get("facts") or {}
    words = explain(mode, facts, phase or "", rev or "", backend, raw.get("error", ""))
    applied = raw.get("applied") or []
    report = FailureReport(
        revision=rev,
        phase=phase,
        direction=phase if phase != "prepare" else None,
        mode=mode,
        error=raw.get("error", ""),
        operation=raw.get("operation"),
        file=project.relative(raw["file"]) if raw.get("file") else file_of.get(rev or ""),
        line=raw.get("line"),
        reproduced_without_seed_rows=bool(raw.get("reproduced_without_seed_rows")),
        on_seed_rows=bool(raw.get("passed_without_seed_rows")),
        applied=applied,
        facts=facts,
        recovery=_recovery(raw, backend, words["fix"]),
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
                why=(
                    "It ran in an autocommit block: nothing rolled it back"
                    if (report.operation or {}).get("autocommit")
                    else "Non-transactional DDL"
                )
                + ": the database is now in a state no revision describes.",
                fix=report.recovery[0],
            )
        )
    _judge(report, where, words, findings, escalations)
    return report


def _judge(
    report: FailureReport, where: str, words: dict[str, str], findings: list[Finding], escalations: list[Escalation]
) -> None:
    rev, phase, mode = report.revision, report.phase, report.mode
    if mode == "unknown":
        escalations.append(
            Escalation(
                rule="migration-failure-unclear",
                reason=f"{where} failed and the cause matches no known failure mode.",
                evidence={"revision": rev, "phase": phase, "error": report.error[:1000]},
            )
        )
    elif mode == "deliberate-raise" and phase == "downgrade":
        escalations.append(
            Escalation(
                rule="unclear-rollback",
                reason=f"{rev}: downgrade() refuses on purpose (a one-way revision by design): {report.error[:300]}",
                evidence={"revision": rev, "file": report.file, "line": report.line, "error": report.error[:1000]},
            )
        )
        return
    else:
        findings.append(
            Finding(
                rule=mode,
                severity="error",
                file=report.file,
                line=report.line,
                table=report.facts.get("table"),
                column=report.facts.get("column"),
                message=f"{where} failed: {words['title']}." + (_seeded(report) if report.on_seed_rows else ""),
                why=words["why"],
                fix=(_SEEDED_FIX + words["fix"]) if report.on_seed_rows else words["fix"],
            )
        )
    if phase in ("downgrade", "re-upgrade"):
        what = "downgrade() raises" if phase == "downgrade" else "upgrading again after the downgrade fails"
        escalations.append(
            Escalation(
                rule="unclear-rollback",
                reason=f"{rev}: {what} ({mode}).",
                evidence={"revision": rev, "error": report.error[:1000]},
            )
        )


_SEEDED = (
    " The rows were generated seed rows (it passed without them), but their values are ones the schema allows: "
    "real rows like them fail the same way (rehearse with data_from='target' to list the real ones)."
)


def _seeded(report: FailureReport) -> str:
    """What the seed rows say about the failure: their values, or (a NOT NULL column added to a table the
    history leaves empty there) only their presence."""
    facts = report.facts
    if not facts.get("rows_are_seed_rows"):
        return _SEEDED
    table, created = facts.get("table"), facts.get("table_created_by")
    text = (
        f" Every row it met was a seed row: without them {table} has no rows at this revision and the step "
        f"passes. It fails on any database whose {table} holds rows when {report.revision} runs"
    )
    if created:
        return text + (
            f"; {table} is created by {created}, so a database upgraded through {created} and {report.revision} "
            "in one deploy (the same release) has none there and passes."
        )
    return text + "."


# Generated values cannot tell whether real rows match (a lookup backfill's names match no generated parent):
# the rehearsal on the target's rows decides, so an agent does not loop on a failure no edit can clear.
_SEEDED_FIX = (
    "First rehearse with data_from='target' (a copy of the target's rows): if it passes, this failure came "
    "from generated values only and does not apply to this database. If it fails, it lists the real rows "
    "by key; then: "
)


def seed_limitation_finding(limit: SeedLimitation) -> Finding:
    return Finding(
        rule="seed-limitation",
        severity="info",
        file=limit.file,
        line=limit.line,
        message=f"{limit.revision} ({limit.phase}) failed on the generated seed rows ({limit.mode}: "
        f"{limit.error.splitlines()[0][:200]}) and passed when run again on a scratch schema rebuilt from base "
        "without seed rows (the history's own rows only): the seed data, not the migration, caused it.",
        why="Generated text does not have the form a conversion expects of the column's real content (JSON, "
        "digits, dates): this proves nothing either way about real data.",
        fix="Rehearse on real rows (data_from='target') to know whether real data passes this step.",
    )


def stopped_finding(stopped: StopReport, not_run: list[str]) -> Finding | None:
    """A warning when the time budget cut the rehearsal short (a failed upgrade is its own finding)."""
    if "time budget" not in stopped.reason:
        return None
    return Finding(
        rule="rehearsal-incomplete",
        severity="warning",
        message=f"The rehearsal stopped at {stopped.revision}: {stopped.reason}; {len(not_run)} revision(s) "
        f"were not rehearsed: {', '.join(not_run[:10])}{' ...' if len(not_run) > 10 else ''}.",
        why="Nothing can be said about revisions that did not run.",
        fix=f"Call test_roundtrip again with from_revision set to the parent of {stopped.revision}, "
        "or with a larger timeout_s.",
    )
