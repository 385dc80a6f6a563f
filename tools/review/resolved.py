"""Pending revisions reviewed together: a finding that another revision of the same review resolves is
marked resolved there instead of being repeated as a problem.

The choice (skill.md, "Reviewing several revisions"): the finding stays in the result, once, as
severity ``info`` with its message starting ``resolved_by <rev>:``, saying what that revision does, and
no fix (applying it would do that revision's work twice). Only where "resolved" is well defined once
the revisions of the review run in order:

- ``fk-missing-index``: a later revision creates an index starting with the key's columns, or drops
  the key's column or table (nothing left to index);
- ``json-column``: a later revision converts the column to jsonb, or drops it or its table;
- ``set-not-null``: earlier revisions of the review add a CHECK (col IS NOT NULL) to the table and
  validate it (the skill's CHECK-based SET NOT NULL split over revisions): PostgreSQL then sets NOT NULL
  without scanning the table. ``resolved_by`` names the revision that completes the pattern.

Never resolved by another revision: a failure or lock of the statement itself (``add-column-required``:
the ALTER in the first one already fails on a table with rows, whatever comes after;
``fk-not-valid-missing``, ``create-index-non-concurrent``: the lock is taken when it runs).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.history.migration_ast import OpCall
from alembic_mcp.tools.review.rules.astutil import name_value
from alembic_mcp.tools.review.rules.constraints import indexed_here
from alembic_mcp.tools.review.sql import analyse_execute_arg

if TYPE_CHECKING:
    from alembic_mcp.tools.review.pipeline import Review


@dataclass(frozen=True)
class Resolution:
    """How a rule's finding is resolved by other revisions of the review."""

    later: bool  # by a later revision (a descendant), else by an earlier one (an ancestor)
    resolves: Callable[[Finding, list[OpCall], str | None], bool]  # (finding, the other upgrades' ops, backend)
    note: str  # what that revision does, appended to the message


def mark_resolved(review: Review) -> None:
    """Mark, in each reviewed revision, the findings another reviewed revision resolves."""
    order = [target.revision for target in review.targets]
    ops_of: dict[str, list[OpCall]] = {}
    for index, rev in enumerate(order):
        file_review = review.files.get(rev)
        hits = [hit for hit in file_review.hits if _resolvable(hit.finding)] if file_review is not None else []
        if not hits:
            continue  # most revisions: nothing another one could resolve, so no walk of the graph either
        later = _related(review, rev, order[index + 1 :], descendants=True)
        earlier = _related(review, rev, order[:index], descendants=False)
        for hit in hits:
            resolution = RESOLUTIONS[hit.finding.rule]
            others = later if resolution.later else earlier
            resolver = _resolver(review, hit.finding, resolution, others, ops_of)
            if resolver is not None:
                _mark(hit.finding, resolver, resolution.note)


def _resolvable(finding: Finding) -> bool:
    return finding.rule in RESOLUTIONS and finding.severity != "info"


def _resolver(
    review: Review, finding: Finding, resolution: Resolution, others: list[str], ops_of: dict[str, list[OpCall]]
) -> str | None:
    """The first of ``others`` (in upgrade order) by which their upgrades, taken together, resolve
    ``finding``: a pattern may span them (a CHECK added NOT VALID in one, validated in the next)."""
    for other in others:
        if other not in ops_of:
            ops_of[other] = _upgrade_ops(review, other)
    everything = [op for other in others for op in ops_of[other]]
    if not resolution.resolves(finding, everything, review.backend):
        return None  # the common case, in one pass; a pattern no prefix completes stays open
    ops: list[OpCall] = []
    for other in others:
        ops += ops_of[other]
        if resolution.resolves(finding, ops, review.backend):
            return other
    return None


def _related(review: Review, rev: str, candidates: list[str], descendants: bool) -> list[str]:
    """The ``candidates`` that run after ``rev`` (its descendants) or before it (its ancestors): one walk
    of the graph from ``rev``, not one per candidate; a candidate not in the graph counts (reviewed in
    upgrade order)."""
    history = review.history
    if history is None or rev not in history.nodes:
        return candidates
    reached: set[str] = set()
    stack = [rev]
    while stack:
        node = history.nodes.get(stack.pop())
        if node is None:
            continue
        for step in node.children if descendants else node.down_revisions:
            if step not in reached:
                reached.add(step)
                stack.append(step)
    return [other for other in candidates if other not in history.nodes or other in reached]


def _upgrade_ops(review: Review, rev: str) -> list[OpCall]:
    migration = review.parsed[rev]
    return [op for op in migration.ops_in("upgrade") if migration.runs_on(op.line, review.backend)]


def _mark(finding: Finding, resolver: str, note: str) -> None:
    finding.severity = "info"
    finding.message = f"resolved_by {resolver}: {finding.message} {note}"
    finding.fix = None


# ------------------------------------------------------------------ what a revision does to a table


def _columns(finding: Finding) -> list[str]:
    return [name.strip() for name in (finding.column or "").split(",") if name.strip()]


def _sql_statements(op: OpCall, backend: str | None) -> list:
    return analyse_execute_arg(op.arg(0, "sqltext"), backend).statements if op.name == "execute" else []


def _drops(ops: list[OpCall], table: str | None, columns: list[str], backend: str | None) -> bool:
    """The table, or one of ``columns`` of it, is dropped."""
    for op in ops:
        if op.table != table and op.name != "execute":
            continue
        if op.name == "drop_table":
            return True
        if op.name == "drop_column" and name_value(op.arg(1, "column_name")) in columns:
            return True
        for statement in _sql_statements(op, backend):
            if statement.table != table:
                continue
            if statement.kind == "drop_table" or (statement.kind == "drop_column" and statement.column in columns):
                return True
    return False


def _index_or_drop(finding: Finding, ops: list[OpCall], backend: str | None) -> bool:
    columns = _columns(finding)
    if not columns or not finding.table:
        return False
    return indexed_here(ops, finding.table, columns) or _drops(ops, finding.table, columns, backend)


def _to_jsonb_sql(column: str) -> re.Pattern[str]:
    return re.compile(rf'(?is)\bALTER\s+(?:COLUMN\s+)?"?{re.escape(column)}"?\s+(?:SET\s+DATA\s+)?TYPE\s+jsonb\b')


def _jsonb_or_drop(finding: Finding, ops: list[OpCall], backend: str | None) -> bool:
    columns = _columns(finding)
    if len(columns) != 1 or not finding.table:
        return False
    for op in ops:
        if op.name == "alter_column" and op.table == finding.table:
            new_type = op.arg(2, "type_")
            converted = new_type is not None and re.search(r"\bJSONB\b", ast.unparse(new_type))
            if converted and name_value(op.arg(1, "column_name")) == columns[0]:
                return True
        for statement in _sql_statements(op, backend):
            if statement.table == finding.table and _to_jsonb_sql(columns[0]).search(statement.text):
                return True
    return _drops(ops, finding.table, columns, backend)


_VALIDATE = re.compile(r"(?i)\bVALIDATE\s+CONSTRAINT\b")


def _not_null_check(column: str) -> re.Pattern[str]:
    return re.compile(rf'(?i)(?<![\w"])"?{re.escape(column)}"?\s+IS\s+NOT\s+NULL\b')


def _validated_not_null_check(finding: Finding, ops: list[OpCall], backend: str | None) -> bool:
    """The (earlier) revisions add a CHECK (col IS NOT NULL) to the table and validate it: created without
    NOT VALID, or NOT VALID then VALIDATE CONSTRAINT on the table."""
    columns = _columns(finding)
    if len(columns) != 1 or not finding.table:
        return False
    check = _not_null_check(columns[0])
    added = validated = False
    for op in ops:
        if op.name == "create_check_constraint" and op.table == finding.table:
            condition = op.arg(2, "condition")
            if condition is not None and check.search(ast.unparse(condition)):
                added = True
                not_valid = op.kwargs.get("postgresql_not_valid")
                validated |= not (isinstance(not_valid, ast.Constant) and not_valid.value is True)
        for statement in _sql_statements(op, backend):
            if statement.table != finding.table:
                continue
            if statement.constraint == "check" and check.search(statement.text):
                added = True
                validated |= not statement.not_valid
            if _VALIDATE.search(statement.text):
                validated = True
    return added and validated


RESOLUTIONS: dict[str, Resolution] = {
    "fk-missing-index": Resolution(
        later=True,
        resolves=_index_or_drop,
        note="A later revision in this review creates the index (or drops the key's column or table).",
    ),
    "json-column": Resolution(
        later=True,
        resolves=_jsonb_or_drop,
        note="A later revision in this review converts the column to jsonb (or drops it).",
    ),
    "set-not-null": Resolution(
        later=False,
        resolves=_validated_not_null_check,
        note="An earlier revision in this review adds and validates a CHECK (column IS NOT NULL): "
        "SET NOT NULL uses it instead of scanning the table.",
    ),
}
