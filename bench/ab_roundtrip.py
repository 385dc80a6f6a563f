"""A/B of test_roundtrip against another checkout on a shared, noisy machine: round by round on the same
generated history, the in-process ``alembic.command`` floor, test_roundtrip of the other checkout and of
this one (each in a fresh process on a fresh PostgreSQL database, their order swapped every round), and
the floor again; per-round ratios to the mean of the round's two floors, then medians.

Usage: python bench/ab_roundtrip.py --base-python /path/to/other/.venv/bin/python
       --base-bench /path/to/other/bench/bench_roundtrip.py [--revisions 200] [--rounds 5]
(the other checkout's bench_roundtrip.py must accept ``--child``, as this one does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_roundtrip import Database, floor_inprocess, generate

HERE = Path(__file__).resolve().parent


def child(python: str, bench: str, project: Path, url: str) -> float:
    """test_roundtrip of one checkout, in a fresh process: the seconds of the whole tool call."""
    out = subprocess.run([python, bench, "--child", str(project), url], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-python", required=True)
    parser.add_argument("--base-bench", required=True)
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sides = {"base": (args.base_python, args.base_bench), "this": (sys.executable, str(HERE / "bench_roundtrip.py"))}
    rounds = []
    with tempfile.TemporaryDirectory(prefix="amcp-ab-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        generate(root, args.revisions)
        dbs = Database("postgres", Path(tmp))
        try:
            for number in range(args.rounds):
                got = {"floor": [floor_inprocess(root, dbs.new())]}
                for name in ("base", "this") if number % 2 == 0 else ("this", "base"):
                    got[name] = child(*sides[name], root, dbs.new())
                got["floor"].append(floor_inprocess(root, dbs.new()))
                floor = statistics.mean(got["floor"])
                rounds.append((floor, got["base"], got["this"]))
                print(
                    f"round {number + 1}: floor {floor:.2f} s, base {got['base']:.2f} s ({got['base'] / floor:.2f}x), "
                    f"this {got['this']:.2f} s ({got['this'] / floor:.2f}x)",
                    flush=True,
                )
        finally:
            dbs.drop_all()
    med = statistics.median
    print(
        f"median of {len(rounds)} rounds, {args.revisions} revisions: floor {med(r[0] for r in rounds):.2f} s, "
        f"base {med(r[1] for r in rounds):.2f} s ({med(r[1] / r[0] for r in rounds):.2f}x), "
        f"this {med(r[2] for r in rounds):.2f} s ({med(r[2] / r[0] for r in rounds):.2f}x)"
    )


if __name__ == "__main__":
    main()
