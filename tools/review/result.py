"""review_migration's result: the revisions reviewed, what each layer read, and the sentence for a human."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.verdict import Approval, Escalation, Finding, VerdictKind, VerdictResult
from alembic_mcp.tools.review.autofix.result import AutofixReport
from alembic_mcp.tools.review.suppressions import Suppression


class StatementCoverage(BaseModel):
    """Which review layers read one top-level statement of upgrade() or downgrade()."""

    function: str
    line: int
    end_line: int
    statement: str = Field(description="The statement's first line.")
    layers: list[str] = Field(description="ast: the rules read it whole; sql: the rendered SQL squawk linted had it.")


class ReviewedRevision(BaseModel):
    revision: str
    message: str = Field(description="First line of the revision's docstring.")
    file: str = Field(description="Migration file, relative to the project.")
    down_revisions: list[str] = Field(default_factory=list)
    verdict: VerdictKind = Field(description="This revision's own verdict.")
    # Each finding and escalation is reported once, in the result's top-level lists (their ``file`` is this
    # revision's); these per-revision lists serve the Python callers and are left out of the tool's output.
    findings: list[Finding] = Field(default_factory=list, exclude=True)
    escalations: list[Escalation] = Field(default_factory=list, exclude=True)
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="This revision's findings by severity and its escalations (the items are in the result's "
        "top-level findings and escalations, with this revision's file).",
    )
    # approvals are listed once too, in the result's top-level approvals
    approvals: list[Approval] = Field(default_factory=list, exclude=True)
    # honoured suppression comments are listed once, in the result's top-level suppressions
    suppressions: list[Suppression] = Field(default_factory=list, exclude=True)
    layers: list[str] = Field(default_factory=list, description="Review layers that ran: ast, sql, database.")
    coverage: list[StatementCoverage] = Field(
        default_factory=list,
        description="Each statement of upgrade() and downgrade() with the layers that read it; a statement no "
        "layer read escalates (uninspectable-sql).",
    )
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
    autofix: AutofixReport | None = Field(default=None, description="apply_fixes=true: the fixes applied, and checks.")


def summary(result: ReviewMigrationResult) -> str:
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
    approved = sorted({a.rule for a in result.approvals})
    if approved:
        text += f" with {', '.join(approved)} approved by a human"
    return text + (f": safe to proceed ({warnings} warning(s))." if warnings else ": safe to proceed.")


def next_steps(result: ReviewMigrationResult) -> list[str]:
    steps: list[str] = []
    if result.escalations:
        steps.append(
            "Stop: show the escalations (rule, reason, evidence) to a human. Only they can approve one: "
            "`alembic-mcp approve REVISION --rule RULE --reason ...` in their own terminal."
        )
    for f in result.findings:
        if f.severity == "error" and f.fix:
            where = f"{f.file}:{f.line}" if f.file and f.line else f.file or ""
            steps.append(f"[{f.rule}] {where}: apply the fix, then call review_migration again.")
    if not result.escalations and any(f.severity == "error" and f.rule in _auto_fixable() for f in result.findings):
        steps.insert(
            0,
            "Some fixes are mechanical: review_migration(apply_fixes=true) applies them, reviews again and "
            "rehearses (diff_only=true to preview).",
        )
    if not steps:
        steps.append("Call test_roundtrip to rehearse upgrade/downgrade on a scratch database.")
    return steps[:20]


def _auto_fixable() -> tuple[str, ...]:
    from alembic_mcp.tools.review.autofix.plan import AUTO_FIXABLE  # the rules import this module's neighbours

    return AUTO_FIXABLE
