"""Suppression comments: ``# alembic-mcp: ignore[rule-id, ...] reason: <why>``.

On a line (or the line above an operation, or any line of the operation's call) it silences those
rules there; standalone at the top of the file (before the first import or statement after the
docstring) it silences them in the whole file. A reason is required and rule ids must exist: a
malformed suppression is an error finding, and one that silenced nothing is reported.

A comment silences a finding, never an escalation: anyone (an agent included) can write one, and only
a human may clear an escalation. The escalation of a silenced finding stays, with the suppressed
finding and the comment's reason in its evidence (``escalation_evidence``).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.verdict import Finding

PATTERN = re.compile(r"alembic-mcp\s*:\s*ignore\s*\[([^\]]*)\]\s*(.*)$", re.I)
REASON = re.compile(r"^reason\s*:\s*(.+)$", re.I)
# The start of PATTERN: a comment matching PATTERN is a piece of the source, so a source without it holds none.
MARKER = re.compile(r"alembic-mcp\s*:\s*ignore\s*\[", re.I)


class Suppression(BaseModel):
    """A suppression comment that silenced at least one finding."""

    rule: str
    reason: str
    file: str | None = None
    line: int = Field(description="Line of the comment.")
    scope: str = Field(description="line or file")
    silenced: int = Field(description="How many findings it silenced.")


@dataclass
class Directive:
    rules: list[str]
    reason: str
    line: int
    file_level: bool
    used: dict[str, int] = field(default_factory=dict)


@dataclass
class SuppressionSet:
    directives: list[Directive]
    errors: list[Finding]


def _first_code_line(source: str) -> int:
    """Line of the first statement after the module docstring (imports count)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return 1
    body = tree.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    return body[0].lineno if body else 10**9


def parse_suppressions(source: str, known_rules: set[str], file: str | None) -> SuppressionSet:
    directives: list[Directive] = []
    errors: list[Finding] = []
    if not MARKER.search(source):
        return SuppressionSet(directives=directives, errors=errors)  # most files: nothing to tokenize
    first_code = _first_code_line(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    lines = source.splitlines()
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        match = PATTERN.search(token.string)
        if not match:
            continue
        line = token.start[0]
        rules = [r.strip() for r in match.group(1).split(",") if r.strip()]
        reason_match = REASON.match(match.group(2).strip())
        reason = reason_match.group(1).strip() if reason_match else ""
        standalone = lines[line - 1].strip().startswith("#")
        problems = []
        if not rules:
            problems.append("names no rule id")
        unknown = [r for r in rules if r not in known_rules]
        if unknown:
            problems.append(f"unknown rule id{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
        if not reason:
            problems.append("has no reason (write `reason: <why this is safe>` after the brackets)")
        if problems:
            errors.append(
                Finding(
                    rule="invalid-suppression",
                    severity="error",
                    message=f"Suppression comment {'; '.join(problems)}: `{token.string.strip()}`.",
                    file=file,
                    line=line,
                    why="A suppression must say which catalogue rule it silences and why, so a reviewer can "
                    "judge it; a malformed one silences nothing.",
                    fix="# alembic-mcp: ignore[<rule-id>] reason: <why this is safe here>   "
                    f"(known ids: {', '.join(sorted(known_rules))})",
                )
            )
            rules = [r for r in rules if r in known_rules]
            if not reason or not rules:
                continue
        directives.append(Directive(rules=rules, reason=reason, line=line, file_level=standalone and line < first_code))
    return SuppressionSet(directives=directives, errors=errors)


def silence(hits: list, sset: SuppressionSet) -> tuple[list, list]:
    """Split layer-1 hits into (kept, silenced); a silenced hit remembers its directive in
    ``suppressed_by`` and keeps its escalation."""
    spans = {h.finding.line: h.span for h in hits if h.finding.line is not None}
    kept, silenced = [], []
    for hit in hits:
        directive = _matching(hit.finding, spans, sset.directives)
        if directive is None:
            kept.append(hit)
            continue
        directive.used[hit.finding.rule] = directive.used.get(hit.finding.rule, 0) + 1
        hit.suppressed_by = directive
        silenced.append(hit)
    return kept, silenced


def escalation_evidence(hit) -> dict:
    """What a silenced finding adds to the escalation it still raises."""
    directive = hit.suppressed_by
    return {
        "rule": hit.finding.rule,
        "line": hit.finding.line,
        "message": hit.finding.message,
        "suppression": {"line": directive.line, "reason": directive.reason},
    }


def _matching(finding: Finding, spans: dict[int, tuple[int, int]], directives: list[Directive]) -> Directive | None:
    for directive in directives:
        if finding.rule not in directive.rules:
            continue
        if directive.file_level:
            return directive
        if finding.line is None:
            continue
        start, end = spans.get(finding.line, (finding.line, finding.line))
        if start - 1 <= directive.line <= end:
            return directive
    return None


def report(sset: SuppressionSet, file: str | None) -> tuple[list[Suppression], list[Finding]]:
    """Honoured suppressions, and findings for rule ids in a suppression that silenced nothing."""
    honoured: list[Suppression] = []
    unused: list[Finding] = []
    for directive in sset.directives:
        for rule in directive.rules:
            count = directive.used.get(rule, 0)
            if count:
                honoured.append(
                    Suppression(
                        rule=rule,
                        reason=directive.reason,
                        file=file,
                        line=directive.line,
                        scope="file" if directive.file_level else "line",
                        silenced=count,
                    )
                )
            else:
                unused.append(
                    Finding(
                        rule="unused-suppression",
                        severity="warning",
                        message=f"`ignore[{rule}]` silences nothing: no {rule} finding "
                        f"{'in this file' if directive.file_level else 'on this line'}.",
                        file=file,
                        line=directive.line,
                        why="A stale suppression hides the next real problem of that kind.",
                        fix=f"Remove `{rule}` from the suppression comment on line {directive.line}.",
                    )
                )
    return honoured, unused
