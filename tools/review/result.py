"""review_migration's result: the revisions reviewed, what each layer read, and the sentence for a human."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, SerializerFunctionWrapHandler, model_serializer

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
    _lean: bool = PrivateAttr(default=False)  # detail='summary': findings and revisions without empty fields

    @model_serializer(mode="wrap")  # no return annotation: the JSON schema stays the fields' own
    def _serialize(self, handler: SerializerFunctionWrapHandler):
        data = handler(self)
        if self._lean and isinstance(data, dict):
            data["findings"] = [_without_empty(item) for item in data.get("findings") or []]
            data["revisions"] = [_without_empty(_nonzero_counts(item)) for item in data.get("revisions") or []]
        return data


def _nonzero_counts(revision: Any) -> Any:
    if isinstance(revision, dict) and isinstance(revision.get("counts"), dict):
        revision["counts"] = {key: count for key, count in revision["counts"].items() if count}
    return revision


def _without_empty(item: Any) -> Any:
    """A finding or revision as a summary sends it: fields that hold nothing (null, [], {}) left out."""
    if not isinstance(item, dict):
        return item
    return {key: value for key, value in item.items() if value is not None and value != [] and value != {}}


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
    """detail='summary' keeps a multi-revision result small, and loses nothing an agent acts on:

    - a revision's coverage lists only the statements the AST rules could not read whole, and its counts
      (as sent) only what it has;
    - a rule's ``why`` is given at its first finding only, and a warning's long fix too (later ones point
      at it); an error always keeps its own fix;
    - across several revisions, the later warnings of a rule are one finding listing where they are
      (table, column, revision and line), after the first one, which keeps its fix;
    - fields holding nothing are left out of the output.
    'full' keeps everything, one finding per place."""
    if detail == "full":
        return result
    for revision in result.revisions:
        revision.coverage = [c for c in revision.coverage if "ast" not in c.layers]
    revision_of = {r.file: r.revision for r in result.revisions}
    result.findings = _lean_findings(result.findings, revision_of, several=len(result.revisions) > 1)
    result._lean = True
    return result


def _lean_findings(findings: list[Finding], revision_of: dict[str, str], several: bool) -> list[Finding]:
    """The summary's findings: new objects where they differ (the revisions' own lists keep the originals)."""
    first: dict[str, Finding] = {}
    later: dict[str, list[Finding]] = {}
    out: list[Finding | str] = []  # a rule id marks where its grouped later warnings go
    for finding in findings:
        earlier = first.setdefault(finding.rule, finding)
        if earlier is finding:
            out.append(finding)
            continue
        if several and finding.severity == "warning" and earlier.severity == "warning":
            if finding.rule not in later:
                out.append(finding.rule)
            later.setdefault(finding.rule, []).append(finding)
            continue
        out.append(_repeated(finding, earlier))
    return [item if isinstance(item, Finding) else _grouped(first[item], later[item], revision_of) for item in out]


def _repeated(finding: Finding, earlier: Finding) -> Finding:
    """A later finding of a rule: no ``why``; a warning's long fix points at the first one's."""
    fix = finding.fix
    if finding.severity != "error" and fix and len(fix) > LONG_ADVICE_CHARS:
        fix = f"As the {finding.rule} fix at {_where(earlier)}, for this table and column (detail='full' shows it)."
    return finding.model_copy(update={"why": None, "fix": fix})


def _grouped(first: Finding, repeats: list[Finding], revision_of: dict[str, str]) -> Finding:
    """The later warnings of one rule as one finding: where each is, and the first one's fix for them all."""
    if len(repeats) == 1:
        return _repeated(repeats[0], first)
    places = "; ".join(_place(f, revision_of) for f in repeats)
    return Finding(
        rule=first.rule,
        severity="warning",
        message=f"{len(repeats)} more like the first: {places}.",
        fix=f"The fix at {_where(first)}, for each place listed (detail='full' gives each finding whole).",
    )


def _place(finding: Finding, revision_of: dict[str, str]) -> str:
    what = ".".join(part for part in (finding.table, finding.column) if part) or finding.message[:80]
    where = revision_of.get(finding.file or "", finding.file or "?")
    return f"{what} ({where}:{finding.line})" if finding.line else f"{what} ({where})"


def _where(finding: Finding) -> str:
    return f"{finding.file}:{finding.line}" if finding.file and finding.line else finding.file or "above"


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
