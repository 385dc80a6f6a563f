"""One test_roundtrip call on bench_roundtrip.py's generated history, in this process, split in three: before
the worker (history, target revision, scratch creation), the worker, and the tail (worker done -> result
returned), with this process's CPU time. Prints one JSON line. Run it with each checkout's own python and
bench folder, alternating, to compare what the server side costs around the worker.

Usage: python bench/split_roundtrip.py [--revisions 200]
PostgreSQL: ALEMBIC_MCP_TEST_PG (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import anyio
from bench_roundtrip import Database, generate


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=200)
    args = parser.parse_args()
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.roundtrip import tool

    marks: dict[str, float] = {}
    run_worker = tool.run_worker

    async def timed_worker(*positional, **named):
        marks["worker_start"] = time.perf_counter()
        try:
            return await run_worker(*positional, **named)
        finally:
            marks["worker_end"] = time.perf_counter()

    tool.run_worker = timed_worker
    with tempfile.TemporaryDirectory(prefix="amcp-split-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        generate(root, args.revisions)
        dbs = Database("postgres", Path(tmp))
        try:
            project = load_project(root, {"database_url": dbs.new(), "worker_timeout_s": 1800})
            cpu0, start = cpu_s(), time.perf_counter()
            result = anyio.run(
                lambda: tool.test_roundtrip(
                    project, revision="heads", from_revision="base", seed_rows=20, trace_locks=True, timeout_s=1800
                )
            )
            end, cpu1 = time.perf_counter(), cpu_s()
        finally:
            dbs.drop_all()
    print(
        json.dumps(
            {
                "wall": round(end - start, 3),
                "before_worker": round(marks["worker_start"] - start, 3),
                "worker": round(marks["worker_end"] - marks["worker_start"], 3),
                "tail": round(end - marks["worker_end"], 3),
                "server_cpu": round(cpu1 - cpu0, 3),
                "verdict": result.verdict,
                "dropped": result.scratch_database.dropped,
            }
        )
    )


if __name__ == "__main__":
    main()
