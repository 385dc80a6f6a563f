"""docs/rules.md, generated from the rule registry: every rule, its severity, the escalations it can
raise, why it matters, a migration that triggers it, a close variant that does not, and the fix the
review gives for it.

    python -m alembic_mcp.tools.review.rules.docs --write docs/rules.md   # rewrite
    python -m alembic_mcp.tools.review.rules.docs                         # print
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from alembic_mcp.tools.core.policy import ESCALATION_RULES
from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules.engine import lint_migration
from alembic_mcp.tools.review.rules.registry import FAMILIES, Case, Rule, all_cases, all_rules, case_source

INTRO = """# Review rules

Generated from the rule registry (`tools/review/rules/`) by
`python -m alembic_mcp.tools.review.rules.docs --write docs/rules.md`; a test fails when it is stale.
Each rule lives in the module of its operation family, with the cases below as data.

Severity: `error` asks for the fix (verdict `fix`), `warning` and `info` are advice. A rule's escalation
(verdict `escalate`) means a human must decide; facts from the target database may lift it (an empty
table, a column holding no values) or raise one (`large-data-migration`).

Suppression: `# alembic-mcp: ignore[rule-id] reason: <text>` on the operation's line or the line above
(or at the top of the file for the whole file) silences that rule's finding there. It never clears an
escalation: the escalation stays and lists the suppressed finding with the comment's reason. Only a
human can clear an escalation.

Adding a rule: in the module of its family, declare it with `rule(...)` (id, severity, summary, why,
fix builder, escalations), register its handler with `@on_op("<operation>")` or `@on_file`, and add
its `Case`s (one that triggers, one close variant that does not); then regenerate this file.
"""


def _code(text: str) -> list[str]:
    return ["```python", textwrap.dedent(text).strip(), "```"]


def _example(case: Case) -> str:
    body = case.upgrade.strip()
    down = case.downgrade.strip()
    return body + (f"\n# downgrade():\n{down}" if down else "")


def _fix_of(case: Case) -> str | None:
    source = case_source(case.upgrade, case.downgrade, case.header)
    hits = [h for h in lint_migration(parse_source(source), "m.py", case.backend).hits if h.finding.rule == case.rule]
    return hits[0].finding.fix if hits else None


def _rule_section(rule: Rule, cases: list[Case]) -> list[str]:
    escalations = ", ".join(f"`{e}`" for e in rule.escalations) or "none"
    lines = [
        f"### `{rule.id}`",
        "",
        f"{rule.summary}. Severity `{rule.severity}`; escalation: {escalations}"
        + ("; PostgreSQL targets only" if rule.pg_only else "")
        + (f"; anchors: {rule.anchors}" if rule.anchors else "")
        + ".",
        "",
        f"Why: {rule.why}",
        "",
    ]
    hit = next((c for c in cases if c.triggers), None)
    miss = next((c for c in cases if not c.triggers), None)
    if hit is not None:
        lines += ["Triggers on:", "", *_code(_example(hit)), ""]
    if miss is not None:
        lines += ["Does not trigger on:", "", *_code(_example(miss)), ""]
    fix = _fix_of(hit) if hit is not None else None
    if fix:
        lines += ["Fix given:", "", *_code(fix), ""]
    return lines


def render() -> str:
    rules = list(all_rules())
    cases = all_cases()
    lines = [INTRO, "## Rules", "", "| rule | family | severity | escalation |", "|---|---|---|---|"]
    lines += [f"| `{r.id}` | {r.family} | {r.severity} | {', '.join(r.escalations) or '-'} |" for r in rules]
    lines += ["", "## Escalation rules", "", "| rule | when |", "|---|---|"]
    lines += [f"| `{rule}` | {when} |" for rule, when in ESCALATION_RULES.items()]
    for family in FAMILIES:
        members = [r for r in rules if r.family == family]
        if not members:
            continue
        lines += ["", f"## {family}", ""]
        for rule in members:
            lines += _rule_section(rule, [c for c in cases if c.rule == rule.id])
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/rules.md from the review rule registry.")
    parser.add_argument("--write", metavar="PATH", help="write the document to PATH instead of printing it")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
