"""Draw the hand-judged sample of review findings from a run.py report, with each finding's source lines.

Per history: five error-severity rules at random and one finding of each (``random.seed(14)``), printed with
the lines around it from the extracted project, for a human to label TRUE or FALSE in NOTES.md.

    python bench/corpus/sample.py [<cache>/report.json] [--cache DIR] [--rules 5] [--seed 14]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from fetch import DEFAULT_CACHE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--rules", type=int, default=5, help="rules drawn per history")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    cache = args.cache.expanduser()
    random.seed(args.seed)
    number = 0
    for history in json.loads((args.report or cache / "report.json").read_text(encoding="utf-8")):
        by_rule: dict[str, list[dict]] = {}
        for finding in history["review"].get("findings", []):
            if finding["severity"] == "error":
                by_rule.setdefault(finding["rule"], []).append(finding)
        rules = sorted(by_rule)
        random.shuffle(rules)
        for rule in rules[: args.rules]:
            finding = random.choice(by_rule[rule])
            number += 1
            source = (cache / "projects" / history["name"] / finding["file"]).read_text(encoding="utf-8")
            lines, line = source.splitlines(), finding["line"] or 1
            print("=" * 90)
            print(number, history["name"], rule, f"{finding['file']}:{line}")
            print("MSG:", finding["message"][:260])
            for index in range(max(0, line - 3), min(len(lines), line + 4)):
                print(f"{index + 1:5d}  {lines[index]}")


if __name__ == "__main__":
    main()
