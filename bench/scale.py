"""Shared by the benchmarks: sizes for the scale curve, medians of repeated runs, and peak RSS.

Peak RSS comes from ``resource.getrusage``: ``RUSAGE_SELF`` for the process that ran the server side,
``RUSAGE_CHILDREN`` for the largest child it waited for (the worker interpreter). A measurement that
needs both runs in a fresh interpreter (``measure_rss_in_child``) so earlier children do not count.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    """The median of ``runs`` measurements and the measurements themselves."""
    times = [measure() for _ in range(runs)]
    return statistics.median(times), times


def peak_rss_mb() -> dict[str, float]:
    """Peak RSS (MB) of this process (the server side) and of its largest waited-for child (the worker)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"server_mb": round(own, 1), "worker_mb": round(children, 1)}


def measure_rss_in_child(code: str, cwd: str | None = None, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter that prints ``peak_rss_mb()`` as its last line; return that."""
    script = f"{code}\nimport json, sys\nsys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r})\n"
    script += "from scale import peak_rss_mb\nprint(json.dumps(peak_rss_mb()))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"RSS measurement failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_revision_ms(seconds: float, revisions: int) -> str:
    return f"{1000 * seconds / max(revisions, 1):.2f} ms/rev"
