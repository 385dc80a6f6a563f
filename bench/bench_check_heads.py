"""check_heads on a generated 1,000-revision history vs `alembic heads` on the same history.

Both run as shell commands (fresh interpreters), alternating, best and median of N runs.
Usage: python bench/bench_check_heads.py [--revisions 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from history_gen import make_project


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed: {out.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="amcp-bench-heads-"))
    try:
        project = make_project(root / "proj", args.revisions)
        bindir = Path(sys.executable).parent
        alembic_cmd = [str(bindir / "alembic"), "heads"]
        ours_cmd = [str(bindir / "alembic-mcp"), "check-heads", "--project", str(project), "--json"]
        check = subprocess.run(ours_cmd, capture_output=True, text=True)
        data = json.loads(check.stdout)
        assert data["revision_count"] == args.revisions, data["summary"]
        timed(alembic_cmd, project), timed(ours_cmd, project)  # warm the file cache
        alembic_times, ours_times = [], []
        for _ in range(args.runs):
            alembic_times.append(timed(alembic_cmd, project))
            ours_times.append(timed(ours_cmd, project))
        a_med, o_med = statistics.median(alembic_times), statistics.median(ours_times)
        print(f"history: {args.revisions} revisions, {args.runs} runs each")
        print(f"alembic heads           median {a_med:.3f} s  best {min(alembic_times):.3f} s")
        print(f"alembic-mcp check-heads median {o_med:.3f} s  best {min(ours_times):.3f} s")
        print(
            f"ratio (check-heads / alembic heads): median {o_med / a_med:.2f}x  "
            f"best {min(ours_times) / min(alembic_times):.2f}x  (target <= 1.5x)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
