"""Benchmark password masking (``redact``) on hostile text against ``str.replace`` over the same text.

For each input shape and size (10k, 100k, 1 MB characters) prints the best-of-N time of ``redact``,
of the anchor (``text.replace(password, '***')``, one linear pass), their ratio, and the time per
character relative to the 10k run. Linear growth shows as a flat per-character column. The shapes
are the ones that made the old regex backtrack (long scheme-like runs, many ``://`` without ``@``).

    .venv/bin/python bench/bench_redact.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from alembic_mcp.tools.core.urls import redact

SIZES = [10_000, 100_000, 1_000_000]
URL = "postgresql://app:s3cret@db.internal/app"
SHAPES: dict[str, Callable[[int], str]] = {
    "letters": lambda n: "a" * n,
    "scheme-runs": lambda n: ("a" * 50 + "://") * (n // 53),
    "colon-no-at": lambda n: ("x://u:" + "p" * 10) * (n // 16),
    "many-urls": lambda n: ("see postgresql://app:s3cret@db/app and ") * (n // 39),
    "user-colons": lambda n: "a://" + ":" * (n - 4),
}


def best_time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'shape':<12} {'chars':>9} {'redact s':>10} {'replace s':>10} {'ratio':>7} {'per-char vs 10k':>16}")
    for shape, make in SHAPES.items():
        base_per_char = None
        for size in SIZES:
            text = make(size)
            masked = best_time(lambda text=text: redact(text, URL), args.repeat)
            anchor = best_time(lambda text=text: text.replace("s3cret", "***"), args.repeat)
            per_char = masked / len(text)
            base_per_char = base_per_char or per_char
            print(
                f"{shape:<12} {len(text):>9} {masked:>10.5f} {anchor:>10.5f} "
                f"{masked / anchor:>7.1f} {per_char / base_per_char:>16.2f}"
            )


if __name__ == "__main__":
    main()
