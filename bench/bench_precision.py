"""Precision and recall of review_migration's rules on a labelled set of migrations.

bench/precision_cases/ holds the migrations (p*.py, each reviewed on its own for a PostgreSQL target),
the history they all revise (history/h*.py, read by the static schema model) and labels.json: for each
migration, by hand, the rules that must fire (``true``), would be false alarms (``false``), are
debatable (``optional``, left out of the counts), the escalations a human should see, and whether the
revision is purely additive. A finding the labels do not name counts as a false positive.

The review here is layer 1 (the AST rules and the schema model): no database, no squawk, so the
figures do not move with the machine. Prints precision and recall per severity, per rule and for
escalations, then the goals (no false escalation on an additive revision, >= 90% precision at error).

    .venv/bin/python bench/bench_precision.py [--verbose]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from alembic_mcp.tools.history.migration_ast import MigrationSource, parse_file
from alembic_mcp.tools.review.rules import Definitions, lint_migration
from alembic_mcp.tools.review.rules.registry import get

CASES = Path(__file__).resolve().parent / "precision_cases"
SEVERITIES = ("error", "warning", "info")


@dataclass
class Outcome:
    """What one migration's review reported against its labels."""

    case: str
    fired: dict[str, str]  # rule -> highest severity it fired at
    escalations: set[str]
    labels: dict
    tp: set[str] = field(default_factory=set)
    fp: set[str] = field(default_factory=set)
    fn: set[str] = field(default_factory=set)
    esc_tp: set[str] = field(default_factory=set)
    esc_fp: set[str] = field(default_factory=set)
    esc_fn: set[str] = field(default_factory=set)


def history() -> list[MigrationSource]:
    return [parse_file(path) for path in sorted((CASES / "history").glob("h*.py"))]


def review(path: Path, earlier: list[MigrationSource]) -> tuple[dict[str, str], set[str]]:
    hits = lint_migration(parse_file(path), path.name, "postgresql", Definitions(earlier)).hits
    fired: dict[str, str] = {}
    for hit in hits:
        rule, severity = hit.finding.rule, hit.finding.severity
        if rule not in fired or SEVERITIES.index(severity) < SEVERITIES.index(fired[rule]):
            fired[rule] = severity
    return fired, {h.escalation.rule for h in hits if h.escalation is not None}


def judge(case: str, fired: dict[str, str], escalations: set[str], labels: dict) -> Outcome:
    out = Outcome(case, fired, escalations, labels)
    true, optional = set(labels.get("true", [])), set(labels.get("optional", []))
    out.tp = {r for r in fired if r in true}
    out.fp = {r for r in fired if r not in true and r not in optional}
    out.fn = true - set(fired)
    expected = set(labels.get("escalations", []))
    esc_optional = set(labels.get("optional_escalations", []))
    out.esc_tp = escalations & expected
    out.esc_fp = escalations - expected - esc_optional
    out.esc_fn = expected - escalations
    return out


def default_severity(rule: str) -> str:
    """A missed rule's usual severity (error for a rule this version of the registry does not have)."""
    try:
        return get(rule).severity
    except KeyError:
        return "error"


def ratio(num: int, den: int) -> str:
    return f"{100 * num / den:5.1f}%" if den else "   - "


def by_severity(outcomes: list[Outcome]) -> None:
    print(f"\n{'severity':<10} {'TP':>4} {'FP':>4} {'FN':>4}  precision  recall")
    for severity in SEVERITIES:
        tp = sum(1 for o in outcomes for r in o.tp if o.fired[r] == severity)
        fp = sum(1 for o in outcomes for r in o.fp if o.fired[r] == severity)
        fn = sum(1 for o in outcomes for r in o.fn if default_severity(r) == severity)
        print(f"{severity:<10} {tp:>4} {fp:>4} {fn:>4}  {ratio(tp, tp + fp):>9}  {ratio(tp, tp + fn):>6}")


def by_rule(outcomes: list[Outcome]) -> None:
    counts: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        for kind in ("tp", "fp", "fn"):
            for rule in getattr(o, kind):
                counts[rule][kind] += 1
    print(f"\n{'rule':<28} {'TP':>4} {'FP':>4} {'FN':>4}  precision  recall")
    for rule in sorted(counts):
        c = counts[rule]
        print(
            f"{rule:<28} {c['tp']:>4} {c['fp']:>4} {c['fn']:>4}  {ratio(c['tp'], c['tp'] + c['fp']):>9}  "
            f"{ratio(c['tp'], c['tp'] + c['fn']):>6}"
        )


def escalation_figures(outcomes: list[Outcome]) -> int:
    tp, fp, fn = (sum(len(getattr(o, k)) for o in outcomes) for k in ("esc_tp", "esc_fp", "esc_fn"))
    print(f"\nescalations: TP {tp}  FP {fp}  FN {fn}  precision {ratio(tp, tp + fp)}  recall {ratio(tp, tp + fn)}")
    false_additive = [o.case for o in outcomes if o.labels.get("additive") and o.esc_fp]
    print(
        f"additive revisions: {sum(1 for o in outcomes if o.labels.get('additive'))}, falsely escalated: "
        f"{len(false_additive)} {false_additive if false_additive else ''}"
    )
    return len(false_additive)


def details(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if o.fp or o.fn or o.esc_fp or o.esc_fn:
            print(
                f"  {o.case}: FP {sorted(o.fp)} FN {sorted(o.fn)} escalation FP {sorted(o.esc_fp)} "
                f"FN {sorted(o.esc_fn)}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every case with a miss or a false alarm")
    args = parser.parse_args(argv)
    labels = json.loads((CASES / "labels.json").read_text())
    earlier = history()
    outcomes = []
    for path in sorted(CASES.glob("p*.py")):
        fired, escalations = review(path, earlier)
        outcomes.append(judge(path.name, fired, escalations, labels[path.name]))
    print(f"{len(outcomes)} labelled migrations (bench/precision_cases), PostgreSQL target, layer 1 + schema model")
    by_severity(outcomes)
    by_rule(outcomes)
    false_additive = escalation_figures(outcomes)
    if args.verbose:
        print("\ncases with a miss or a false alarm:")
        details(outcomes)
    errors_tp = sum(1 for o in outcomes for r in o.tp if o.fired[r] == "error")
    errors_fp = sum(1 for o in outcomes for r in o.fp if o.fired[r] == "error")
    precision = errors_tp / (errors_tp + errors_fp) if errors_tp + errors_fp else 1.0
    met = false_additive == 0 and precision >= 0.9
    print(
        f"\ngoals: no false escalation on an additive revision: {'met' if false_additive == 0 else 'NOT met'}; "
        f"error precision {100 * precision:.1f}% >= 90%: {'met' if precision >= 0.9 else 'NOT met'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
