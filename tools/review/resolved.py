"""Pending revisions reviewed together: a finding that a later revision of the same review resolves is
marked resolved there instead of being repeated as a problem.

The choice (skill.md, "Reviewing several revisions"): the finding stays in the result, once, as
severity ``info`` with its message starting ``resolved_by <rev>:`` and no fix (applying it would do the
later revision's work twice). Resolved today: ``fk-missing-index`` when a later revision in the call
creates an index starting with the key's columns. ``add-column-required`` is never resolved by a later
revision: the ALTER in the first one already fails on a table with rows, whatever comes after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.history.migration_ast import OpCall
from alembic_mcp.tools.review.rules.constraints import indexed_here

if TYPE_CHECKING:
    from alembic_mcp.tools.review.pipeline import Review


def mark_resolved(review: Review) -> None:
    """Mark, in each reviewed revision, the findings a later reviewed revision (a descendant) resolves."""
    order = [target.revision for target in review.targets]
    for index, rev in enumerate(order):
        file_review = review.files.get(rev)
        hits = [hit for hit in file_review.hits if _resolvable(hit.finding)] if file_review is not None else []
        if not hits:
            continue  # most revisions: nothing a later one could resolve, so no walk of the graph either
        later = _later_descendants(review, rev, order[index + 1 :])
        if not later:
            continue
        for hit in hits:
            resolver = _resolver(review, hit.finding, later)
            if resolver is not None:
                _mark(hit.finding, resolver)


def _later_descendants(review: Review, rev: str, candidates: list[str]) -> list[str]:
    """The ``candidates`` that run after ``rev``: its descendants in the graph (one walk up from it, not
    one walk down from each candidate), and any candidate not in the graph (reviewed in upgrade order)."""
    history = review.history
    if history is None:
        return candidates
    above: set[str] = set()
    stack = list(history.nodes[rev].children) if rev in history.nodes else []
    while stack:
        current = stack.pop()
        if current in above or current not in history.nodes:
            continue
        above.add(current)
        stack.extend(history.nodes[current].children)
    return [other for other in candidates if other not in history.nodes or other in above]


def _resolvable(finding: Finding) -> bool:
    return finding.rule == "fk-missing-index" and bool(finding.column) and finding.severity != "info"


def _upgrade_ops(review: Review, rev: str) -> list[OpCall]:
    migration = review.parsed[rev]
    return [op for op in migration.ops_in("upgrade") if migration.runs_on(op.line, review.backend)]


def _resolver(review: Review, finding: Finding, later: list[str]) -> str | None:
    """The first later revision that resolves ``finding``, if any."""
    if not _resolvable(finding):
        return None
    columns = [name.strip() for name in (finding.column or "").split(",")]
    return next((rev for rev in later if indexed_here(_upgrade_ops(review, rev), finding.table, columns)), None)


def _mark(finding: Finding, resolver: str) -> None:
    finding.severity = "info"
    finding.message = f"resolved_by {resolver}: {finding.message} A later revision in this review creates the index."
    finding.fix = None
