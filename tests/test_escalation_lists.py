"""README.md and skill.md list exactly the escalation rules the code has (tools/core/policy.py), and skill.md
tells the agent what to do for every database status check_heads can report."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from alembic_mcp.tools.core.policy import ESCALATION_RULES, EscalationRule
from alembic_mcp.tools.heads.check import DatabaseState

REPO = Path(__file__).resolve().parent.parent
RULE_SPAN = re.compile(r"`([a-z]+(?:-[a-z]+)+)`")


def readme_rules() -> list[str]:
    text = (REPO / "README.md").read_text()
    paragraph = text.split("Escalation rules: ", 1)[1].split("\n\n", 1)[0]
    return RULE_SPAN.findall(paragraph)


def skill_rules() -> list[str]:
    text = (REPO / "skill.md").read_text()
    section = text.split("## Escalation rules", 1)[1].split("\n\n", 2)[1]
    return [m.group(1) for m in re.finditer(r"^\| `([a-z-]+)` \|", section, re.M)]


def test_policy_lists_agree():
    assert list(ESCALATION_RULES) == list(typing.get_args(EscalationRule))


def test_readme_and_skill_list_every_escalation_rule_once():
    assert readme_rules() == list(ESCALATION_RULES)
    assert skill_rules() == list(ESCALATION_RULES)


def test_skill_says_what_to_do_for_every_database_status():
    statuses = typing.get_args(DatabaseState.model_fields["status"].annotation)
    assert {"empty", "unreachable", "behind", "ahead"} <= set(statuses)
    step_one = (REPO / "skill.md").read_text().split("1. `check_heads()`", 1)[1].split("\n2. ", 1)[0]
    missing = [status for status in statuses if f"`{status}`" not in step_one]
    assert not missing, f"skill.md step 1 gives no instruction for statuses {missing}"
