"""Warm review of one revision, in-process, at two history sizes: does it cost the same?

As a serving process has it (worker replies kept, parsed files and the graph kept), the head of a
generated history (bench_review.py's generator; the sizes must give the head the same body, e.g. 22 and
1,002 revisions both end on the same step of its pattern) is reviewed ``--calls`` times
after two warm-up calls, against a fresh PostgreSQL target. Prints the median wall time per call and the
CPU time per call of this process (the server side; the render worker is not started on a warm call).
CPU time is the figure to compare on a busy machine: wall time there mostly measures the other jobs.

Usage: python bench/bench_warm_review.py [--sizes 22 1002] [--calls 10] [--pg postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.review.tool import review_migration
from alembic_mcp.tools.worker import reply_cache

sys.path.insert(0, str(Path(__file__).parent))
from bench_review import BODIES, EXAMPLE, generate

EXAMPLE_REVISIONS = 2  # the residency example's own revisions, below the generated ones


def measure(project_dir: Path, url: str, calls: int) -> tuple[float, float]:
    """(median wall seconds, mean CPU seconds) per warm review of the head."""
    project = load_project(project_dir, {"database_url": url})

    async def run() -> tuple[list[float], float]:
        for _ in range(2):  # the first call parses and renders; the second settles the caches
            await review_migration(project, revision="head")
        walls = []
        cpu0 = time.process_time()
        for _ in range(calls):
            start = time.perf_counter()
            await review_migration(project, revision="head")
            walls.append(time.perf_counter() - start)
        return walls, (time.process_time() - cpu0) / calls

    walls, cpu = anyio.run(run)
    return statistics.median(walls), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[22, 1002])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if len({(size - EXAMPLE_REVISIONS - 1) % len(BODIES) for size in args.sizes}) != 1:
        raise SystemExit(f"--sizes must give the head the same body: equal modulo {len(BODIES)}")
    reply_cache.enable()  # as `alembic-mcp serve` has it
    name = f"amcp_bench_{secrets.token_hex(4)}"
    server = create_engine(args.pg, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    tmp = Path(tempfile.mkdtemp(prefix="amcp-bench-warm-"))
    try:
        url = args.pg.rsplit("/", 1)[0] + f"/{name}"
        rows = []
        for size in args.sizes:
            project = tmp / f"proj{size}"
            shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
            generate(project, size - EXAMPLE_REVISIONS)
            time.sleep(2.2)  # past the window in which a fresh file's reply is never kept (inputs.RACY_NS)
            rows.append((size, *measure(project, url, args.calls)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
    print(f"warm review of the head, {args.calls} calls each: revisions, wall per call (median), CPU per call")
    for size, wall, cpu in rows:
        print(f"  {size:>5}  {1000 * wall:8.1f} ms  {1000 * cpu:8.1f} ms")


if __name__ == "__main__":
    main()
