"""Fixes the rules already state as exact code: the finding's fix, without its comments, put where the
rule says (in the statement's place, first in upgrade(), in downgrade()). A fix that still holds a
placeholder (``...``, ``<value>``) or is prose is advice, not an edit."""

from __future__ import annotations

import ast
import re

from alembic_mcp.tools.review.autofix.edits import Edit, Where, strip_comments
from alembic_mcp.tools.review.rules.constraints import LATER_STEP
from alembic_mcp.tools.review.rules.registry import Hit

WHERE: dict[str, Where] = {
    "missing-lock-timeout": "prepend-upgrade",
    "create-index-non-concurrent": "replace",
    "drop-index-non-concurrent": "replace",
    "fk-not-valid-missing": "replace",
    "unnamed-constraint": "replace",
    "empty-downgrade": "replace-downgrade",
    "downgrade-not-inverse": "add-to-downgrade",
    "enum-type-missing": "insert-before",
    "cast-needs-using": "replace",
    "enum-type-not-dropped": "replace",
}
# A step the rule's fix leaves in a comment for a new revision after this one (VALIDATE after NOT VALID).
_LATER_STEP = re.compile(rf"^{re.escape(LATER_STEP)}(?P<code>op\.execute\(.*?\))(?=\s+#|$)", re.M)
_PLACEHOLDER = re.compile(r"<[a-z_ ]+>|\.\.\.|\bNone\b(?=, )")


def literal_edit(hit: Hit) -> Edit | str:
    """The hit's fix as an edit, or why it cannot be applied as it stands."""
    fix = hit.finding.fix or ""
    code = strip_comments(fix) if _parses(fix) else ""
    if not code or not _parses(code):
        return "its fix is advice in prose, not code"
    if _PLACEHOLDER.search(code):
        return "its fix leaves a value to choose (a placeholder)"
    return Edit(hit.finding.rule, hit.span[0], hit.data.get("where", WHERE[hit.finding.rule]), code, hit.span)


def later_step(hit: Hit) -> str | None:
    """The code the fix leaves for a new revision after this one, if any."""
    found = _LATER_STEP.search(hit.finding.fix or "")
    return found.group("code") if found else None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True
