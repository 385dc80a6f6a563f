"""The rule registry is the one source: docs/rules.md is generated from it, and the rule ids that
skill.md and the review tool's description name exist in it (or in the escalation policy)."""

from __future__ import annotations

import re
from pathlib import Path

from alembic_mcp.server.reference import REVIEW_MIGRATION  # the long-form reference
from alembic_mcp.tools.core.policy import ESCALATION_RULES
from alembic_mcp.tools.review.rules import docs, rule_ids

REPO = Path(__file__).resolve().parent.parent
KEBAB = re.compile(r"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)+\b")


def test_docs_rules_md_is_generated_from_the_registry():
    current = (REPO / "docs" / "rules.md").read_text()
    assert current == docs.render(), "run: python -m alembic_mcp.tools.review.rules.docs --write docs/rules.md"


def test_docs_cover_every_rule_and_escalation():
    text = docs.render()
    for rule in rule_ids():
        assert f"### `{rule}`" in text
    for escalation in ESCALATION_RULES:
        assert f"| `{escalation}` |" in text


def test_review_description_names_only_real_rules_and_every_escalation():
    named = set(KEBAB.findall(REVIEW_MIGRATION)) - {"read-only", "rule-id", "alembic-mcp", "non-null"}
    known = set(rule_ids()) | set(ESCALATION_RULES)
    assert not named - known, f"the description names unknown rule ids: {sorted(named - known)}"
    other_tools = {"migration-failure-unclear", "conflicting-heads"}  # test_roundtrip's and check_heads'
    assert not set(ESCALATION_RULES) - named - other_tools, "the description omits an escalation rule"


def test_skill_review_rule_ids_exist_in_the_registry():
    text = (REPO / "skill.md").read_text()
    fixes = text.split("## Fixes you will apply most", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z][a-z0-9]*(?:-[a-z0-9]+)+)`", fixes))
    assert named and not named - set(rule_ids()), sorted(named - set(rule_ids()))
    for line in text.splitlines():
        if "alembic-mcp: ignore[" in line:
            continue
        for rule in re.findall(r"`([a-z][a-z0-9]*(?:-[a-z0-9]+)+)`", line):
            if rule in rule_ids() or rule in ESCALATION_RULES:
                continue
            assert not rule.startswith(("dynamic-", "raw-sql-", "unread-", "own-")), f"skill.md: unknown {rule}"
