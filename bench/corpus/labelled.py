"""Score a run.py report against the corpus findings judged by hand (labels.json).

Every finding of NOTES.md's hand-judged samples is kept in labels.json as data: history, rule, file, line,
the label (``true``: the hazard is there; ``false``: it is not; ``notice``: true words about a limit of the
review, a false alarm for an agent all the same) and the reason. This script looks each one up in a report
(same history, rule, file and line, at the severity it was judged at or higher) and prints what became of it:

- a ``true`` finding still reported is kept (recall of the judged hazards);
- a ``false``/``notice`` finding no longer reported is a false alarm fixed;
- precision of what is still reported = true reported / all judged reported.

Judged escalations (``escalation_only``) are kept but not scored: a report's escalations carry no file:line.

The judged sample is fixed, so fixing its false alarms raises this precision by construction: it is a
regression check (no true finding lost, no fixed false alarm back), not an unbiased measure. A fresh seeded
draw (sample.py with another seed), judged by hand, is that.

    python bench/corpus/labelled.py [<cache>/report.json] [--verbose]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from fetch import DEFAULT_CACHE

LABELS = Path(__file__).resolve().parent / "labels.json"


RANK = {"info": 0, "warning": 1, "error": 2}
Key = tuple[str, str, str, int]


def reported(report: list[dict]) -> dict[Key, int]:
    """(history, rule, file, line) of every finding in the report, with its highest severity's rank."""
    seen: dict[Key, int] = {}
    for history in report:
        for finding in (history.get("review") or {}).get("findings", []):
            key = (history["name"], finding["rule"], finding.get("file") or "", finding.get("line") or 0)
            seen[key] = max(seen.get(key, -1), RANK[finding["severity"]])
    return seen


def score(labels: list[dict], seen: dict[Key, int], histories: set[str]) -> Counter[str]:
    """Each judged finding is still reported when the report has it at the severity it was judged at or
    higher (an error judged false and now a warning is no longer an alarm)."""
    counts: Counter[str] = Counter()
    for label in labels:
        if label["escalation_only"]:
            counts["escalation (no location in the report)"] += 1
            continue
        if label["history"] not in histories:
            counts["history not in the report"] += 1
            continue
        key = (label["history"], label["rule"], label["file"], label["line"])
        still = seen.get(key, -1) >= RANK[label["severity"]]
        kind = "true" if label["label"] == "true" else "false"
        counts[f"{kind} {'still reported' if still else 'gone'}"] += 1
        label["now"] = "reported" if still else "gone"
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=Path(DEFAULT_CACHE).expanduser() / "report.json")
    parser.add_argument("--verbose", action="store_true", help="list every judged finding and what became of it")
    args = parser.parse_args()
    report = json.loads(args.report.read_text(encoding="utf-8"))
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    counts = score(labels, reported(report), {h["name"] for h in report})
    if args.verbose:
        for label in labels:
            where = f"{label['file']}:{label['line']}"
            print(f"{label['history']:9} {label['label']:6} {label.get('now', '?'):8} {label['rule']:28} {where}")
    true_kept, false_kept = counts["true still reported"], counts["false still reported"]
    judged = true_kept + counts["true gone"]
    print(f"judged findings: {len(labels)} ({sum(1 for x in labels if x['label'] == 'true')} true)")
    print(f"true still reported: {true_kept} of {judged} (recall of the judged hazards)")
    print(f"false alarms fixed: {counts['false gone']} of {counts['false gone'] + false_kept}")
    if true_kept + false_kept:
        print(f"precision of the judged findings still reported: {true_kept / (true_kept + false_kept):.0%}")
    if counts["escalation (no location in the report)"]:
        print(f"not scored (escalations carry no file:line): {counts['escalation (no location in the report)']}")
    if counts["history not in the report"]:
        print(f"not scored (history not in the report): {counts['history not in the report']}")


if __name__ == "__main__":
    main()
