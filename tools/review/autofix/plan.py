"""Which findings are fixed by an edit, and the loop that applies them to one file's source.

Fixes are applied one at a time, each followed by a fresh lint of the new source, so every edit sees
the lines as they are (an unnamed foreign key is named first, then made NOT VALID). A finding whose
fix needs a human's choice keeps its text advice and the reason it was not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.autofix.backfill import backfill_edit
from alembic_mcp.tools.review.autofix.edits import Edit, apply_edit, strip_comments, unified_diff
from alembic_mcp.tools.review.autofix.literal import WHERE, later_step, literal_edit
from alembic_mcp.tools.review.autofix.model_defaults import ModelDefault
from alembic_mcp.tools.review.autofix.split import NewRevision, index_revision, validate_revision
from alembic_mcp.tools.review.rules import lint_migration
from alembic_mcp.tools.review.rules.astutil import name_value
from alembic_mcp.tools.review.rules.columns import FK_BACKFILL
from alembic_mcp.tools.review.rules.registry import Hit

# The finding ids an edit can fix, in the order they are applied (names before what uses the names; the
# lock timeout last, so it lands first in upgrade()).
AUTO_FIXABLE = (
    "unnamed-constraint",
    "enum-type-missing",
    "cast-needs-using",
    "enum-type-not-dropped",
    "add-column-required",
    "fk-not-valid-missing",
    "create-index-non-concurrent",
    "drop-index-non-concurrent",
    "empty-downgrade",
    "downgrade-not-inverse",
    "missing-lock-timeout",
)
# Why the other error findings are not applied: the fix is a human's choice.
HUMAN_CHOICE = {
    "probable-rename": "rename or drop-and-add: only a human knows whether the data moves",
    "rename-column": "renaming breaks running code: expand/contract or an ORM-only rename is a human's choice",
    "drop-column": "dropping data needs a human's decision and a backup",
    "drop-table": "dropping data needs a human's decision and a backup",
    "set-not-null": "rows holding NULL need a value a human picks, and the steps belong in separate revisions",
    "change-column-type": "the cast of existing values is a human's choice",
    "enum-change": "values removed from an enum need a mapping a human picks",
    "volatile-default": "the batched backfill assumes an id key; check it against the table first",
}
# Escalations a fix answers itself: an empty downgrade() escalates because nothing says how to roll back;
# the exact inverse of simple operations is that answer (and the rehearsal runs it on the target's rows).
ANSWERED_ESCALATION = {"empty-downgrade": "unclear-rollback"}
MAX_EDITS = 50
NOT_A_HEAD = (
    "its VALIDATE belongs in a new revision after this one, and revisions already follow this one: apply the "
    "finding's fix by hand, with the VALIDATE in a revision after the head"
)
INDEX_NOT_A_HEAD = (
    "its concurrent build belongs in a new revision after this one, and revisions already follow this one: "
    "remove the create_index (and its drop_index in downgrade()) from this revision, then "
    "generate_migration(message=..., apply_fixes=true) writes the concurrent build in a revision after the head"
)
TYPE_DROP_BY_HAND = (
    "the drop of the type belongs after the statement of downgrade() that stops the column using it, which "
    "downgrade() does not have as an alter_column: place it by hand"
)
FK_LOOKUP = (
    "a foreign key column: its backfill is the lookup of the parent row in the finding's fix, never a constant; "
    "apply it by hand, then rehearse with data_from='target': the rows it leaves unmatched are a human's decision"
)

# A fix's identity across runs of fix_source: the rule and the finding's message (the lint runs without
# database facts, so the message depends only on the source).
FixKey = tuple[str, str]


@dataclass
class FileFix:
    """One file's fixes: the source before and after, each applied edit with its diff, what stayed advice."""

    before: str
    after: str
    applied: list[tuple[Edit, str, str]] = field(default_factory=list)  # (edit, the finding's message, diff)
    advice: list[tuple[str, int | None, str]] = field(default_factory=list)  # (rule, line, why not applied)
    new_revisions: list[NewRevision] = field(default_factory=list)  # split=true: to chain after this file


@dataclass(frozen=True)
class FixContext:
    file: str
    backend: str | None
    wanted: frozenset[str]  # the rules the review reported for this file (after the database's facts)
    models: dict[tuple[str, str], ModelDefault]
    env_sets_lock_timeout: bool = False
    split: bool = False  # the three-phase fix as three revisions (the file is a head)
    head: bool = False  # the file is a head: a step for a new revision after it can be written
    only: frozenset[FixKey] | None = None  # apply only these fixes (None: every one); the others stay as they are
    skip: frozenset[FixKey] = frozenset()  # never apply these (fixes undone after their checks failed)


def _edit_for(hit: Hit, source: str, ctx: FixContext) -> Edit | str | tuple[Edit, list[NewRevision]]:
    rule = hit.finding.rule
    if rule == "add-column-required" and (hit.finding.fix or "").startswith(FK_BACKFILL):
        if hit.finding.message.startswith("downgrade()"):  # the reverse lookup: every key names its parent row
            return Edit(rule, hit.span[0], "replace", strip_comments(hit.finding.fix or ""), hit.span)
        return FK_LOOKUP
    if rule == "add-column-required":
        key = (hit.finding.table or "", hit.finding.column or "")
        return backfill_edit(hit, source, ctx.models.get(key), ctx.backend, ctx.split)
    if rule == "create-index-non-concurrent" and "later_index" in hit.data:
        return _index_later(hit, source, ctx)
    if rule == "enum-type-not-dropped" and "where" not in hit.data:
        return TYPE_DROP_BY_HAND
    if rule in WHERE:
        edit, later = literal_edit(hit), later_step(hit)
        if isinstance(edit, str) or later is None:
            return edit
        if not ctx.head:
            return NOT_A_HEAD
        return edit, [validate_revision(later)]
    return HUMAN_CHOICE.get(rule, "its fix needs a human's choice")


def _index_later(hit: Hit, source: str, ctx: FixContext) -> str | tuple[Edit, list[NewRevision]]:
    """The index out of this revision (and its drop out of downgrade()), built concurrently in a new one."""
    if not ctx.head:
        return INDEX_NOT_A_HEAD
    index = hit.data["later_index"]
    drops = [
        (op.line, op.node.end_lineno or op.line)
        for op in parse_source(source).ops_in("downgrade")
        if op.name == "drop_index" and name_value(op.arg(0, "index_name")) == index["name"]
    ]
    edit = Edit(hit.finding.rule, hit.span[0], "replace", "", hit.span, removed=tuple(drops))
    return edit, [index_revision(index)]


def _lint(source: str, ctx: FixContext) -> list[Hit]:
    return lint_migration(parse_source(source), ctx.file, ctx.backend, None, ctx.env_sets_lock_timeout).hits


def fix_source(source: str, ctx: FixContext, lint: Callable[[str, FixContext], list[Hit]] = _lint) -> FileFix:
    """Apply every mechanical fix of the wanted rules to ``source``, one edit at a time."""
    result = FileFix(before=source, after=source)
    tried: set[tuple[str, str]] = set()
    order = {rule: i for i, rule in enumerate(AUTO_FIXABLE)}
    for _ in range(MAX_EDITS):
        hits = [
            h
            for h in lint(result.after, ctx)
            if h.finding.rule in ctx.wanted
            and h.finding.rule in order
            and (h.finding.rule, h.finding.message) not in tried
        ]
        if not hits:
            break
        hit = min(hits, key=lambda h: (order[h.finding.rule], h.span[0]))
        key = (hit.finding.rule, hit.finding.message)
        tried.add(key)
        if (ctx.only is None or key in ctx.only) and key not in ctx.skip:
            _apply_one(result, hit, ctx)
    return result


def _apply_one(result: FileFix, hit: Hit, ctx: FixContext) -> None:
    escalated = hit.escalation is not None and ANSWERED_ESCALATION.get(hit.finding.rule) != hit.escalation.rule
    edit = "it escalates: a human decides" if escalated else _edit_for(hit, result.after, ctx)
    if isinstance(edit, str):
        result.advice.append((hit.finding.rule, hit.finding.line, edit))
        return
    if isinstance(edit, tuple):
        edit, new_revisions = edit
        # an index revision goes first: its autocommit block then commits a NOT VALID constraint before a
        # later VALIDATE revision runs, even when env.py deploys every pending revision in one transaction
        result.new_revisions = sorted(
            [*result.new_revisions, *new_revisions], key=lambda new: not new.slug.startswith("index_")
        )
    try:
        fixed = apply_edit(result.after, edit)
        parse_source(fixed)
    except (ValueError, SyntaxError) as exc:
        result.advice.append((hit.finding.rule, hit.finding.line, f"the edit could not be made: {exc}"))
        return
    result.applied.append((edit, hit.finding.message, unified_diff(result.after, fixed, ctx.file)))
    result.after = fixed
