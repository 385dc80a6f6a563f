"""review_migration's result: the revisions reviewed, what each layer read, and the sentence for a human."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.errors import InvalidArgument
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
        description="Statements of upgrade()/downgrade() with the layers that read them (detail=summary: only "
        "those the AST rules could not read); one no layer read escalates (uninspectable-sql).",
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


Detail = Literal["summary", "full"]


def validate_detail(detail: object) -> Detail:
    if detail not in ("summary", "full"):
        raise InvalidArgument(
            f"detail must be 'summary' (default: findings, escalations and statements needing attention) or "
            f"'full' (also every statement's coverage), not {str(detail)[:40]!r}."
        )
    return detail


LONG_ADVICE_CHARS = 300  # a warning's fix longer than this is given once per rule in a summary


def with_detail(result: ReviewMigrationResult, detail: Detail) -> ReviewMigrationResult:
    """detail='summary' keeps a multi-revision result small: a revision's coverage lists only the statements
    the AST rules could not read whole (what a reader must look at), a rule's ``why`` is given at its first
    finding only, and a warning's long fix too (later ones point at it); an error always keeps its own fix.
    'full' keeps everything."""
    if detail == "full":
        return result
    for revision in result.revisions:
        revision.coverage = [c for c in revision.coverage if "ast" not in c.layers]
    first: dict[str, Finding] = {}
    for finding in result.findings:
        earlier = first.setdefault(finding.rule, finding)
        if earlier is finding:
            continue
        finding.why = None
        if finding.severity != "error" and finding.fix and len(finding.fix) > LONG_ADVICE_CHARS:
            where = f"{earlier.file}:{earlier.line}" if earlier.file and earlier.line else earlier.file or "above"
            finding.fix = f"As the {finding.rule} fix at {where}, for this table and column (detail='full' shows it)."
    return result


def _sentence(text: str) -> str:
    """One sentence ending in exactly one full stop, whatever the parts ended with."""
    return text.rstrip().rstrip(".") + "."


def summary(result: ReviewMigrationResult) -> str:
    return _sentence(_summary_text(result))


def _summary_text(result: ReviewMigrationResult) -> str:
    n = len(result.revisions)
    if n == 0:
        return _nothing_selected(result)
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


def _nothing_selected(result: ReviewMigrationResult) -> str:
    errors = sorted({f.rule for f in result.findings if f.severity == "error"})
    if errors:
        return f"No revision to review ({result.selection}), but fix {', '.join(errors)}, then review again."
    if "changed since" in result.selection:
        warnings = sum(f.severity == "warning" for f in result.findings)
        return f"No migration changed ({result.selection}); {warnings} warning(s)."
    return (
        f"Nothing to review: {result.selection} selects no revision (the database is up to date); pass "
        "revision=... to review an applied one."
    )


MECHANICAL_HINT = (
    "Some fixes are mechanical: review_migration(apply_fixes=true) applies them, reviews again and rehearses "
    "(diff_only=true to preview)."
)


def next_steps(result: ReviewMigrationResult) -> list[str]:
    steps: list[str] = []
    errors = [f for f in result.findings if f.severity == "error" and f.fix]
    if result.escalations:
        steps.append(
            "Stop: show the escalations (rule, reason, evidence) to a human"
            + (" once the error findings are fixed (any edit of a file voids an approval)" if errors else "")
            + ". Only they can approve one: `alembic-mcp approve REVISION --rule RULE --reason ...` in their own "
            "terminal."
        )
    for f in errors:
        where = f"{f.file}:{f.line}" if f.file and f.line else f.file or ""
        steps.append(f"[{f.rule}] {where}: apply the fix, then call review_migration again.")
    if any(f.rule in _auto_fixable() and not (f.fix or "").startswith(_FK_BACKFILL) for f in errors):
        steps.insert(0, MECHANICAL_HINT)
    if not steps:
        steps.append("Call test_roundtrip to rehearse upgrade/downgrade on a scratch database.")
    return steps[:20]


# autofix leaves a foreign key's lookup backfill to the agent (rules/columns.py FK_BACKFILL)
_FK_BACKFILL = "# foreign key: "


def _auto_fixable() -> tuple[str, ...]:
    from alembic_mcp.tools.review.autofix.plan import AUTO_FIXABLE  # the rules import this module's neighbours

    return AUTO_FIXABLE
