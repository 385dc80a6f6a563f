"""Profile the ``roundtrip`` worker op in-process (no MCP, no worker subprocess) on the generated
history of bench_roundtrip.py, on a fresh scratch database, and print where the time goes.

It reports the op's own split (migration steps vs snapshots/data checks/seeding), the CPU time of
this process and, on PostgreSQL, of the server backend serving the op (on a shared machine the two
alternate, so CPU is what to cut, not only round trips), plus with --cprofile the top functions.

With --round-trips (PostgreSQL) it also counts the messages the op sends to the server, by their first
word, through psycopg's pure-Python libpq wrapper (slower: use it for the count, not for the times).
Statements psycopg pipelines (``executemany``'s INSERTs and their syncs) are sent together and are
counted apart, as "pipelined".

Usage: python bench/profile_roundtrip_op.py [--backend sqlite|postgres] [--revisions 200] [--cprofile]
       [--round-trips]
PostgreSQL: ALEMBIC_MCP_TEST_PG (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres); the
backend's CPU is read from /proc, so only when the server runs on this machine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_roundtrip import Database, generate
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool


def _proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_round_trips() -> Counter:
    """Count every query message psycopg sends (its pure-Python libpq wrapper; set before psycopg loads)."""
    os.environ["PSYCOPG_IMPL"] = "python"
    from psycopg.pq import pq_ctypes

    sent: Counter = Counter()
    for name in ("send_query", "send_query_params", "send_query_prepared", "exec_", "exec_params"):
        original = getattr(pq_ctypes.PGconn, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if self.pipeline_status != 0:
                kind = "pipelined"
            elif _name == "send_query_prepared":
                kind = "EXECUTE (prepared)"
            else:
                text = bytes(args[0]).decode(errors="replace").split(None, 1) if args else []
                kind = text[0].rstrip(";").upper() if text else "(empty)"
            sent[kind] += 1
            return _original(self, *args, **kwargs)

        setattr(pq_ctypes.PGconn, name, counted)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--round-trips", action="store_true")
    args = parser.parse_args()
    sent = count_round_trips() if args.round_trips else None
    with tempfile.TemporaryDirectory(prefix="amcp-prof-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        generate(root, args.revisions)
        dbs = Database(args.backend, Path(tmp))
        try:
            url = dbs.new()
            os.chdir(root)
            sys.path.insert(0, str(root))
            os.environ["DATABASE_URL"] = url
            from alembic_mcp.tools.core.config import load_project
            from alembic_mcp.tools.worker.ops import roundtrip
            from alembic_mcp.tools.worker.protocol import RoundtripArgs, WorkerRequest
            from alembic_mcp.tools.worker.runner import project_spec

            project = load_project(root, {"database_url": url})
            request = WorkerRequest(
                op="roundtrip",
                project=project_spec(project),
                result_path=str(Path(tmp) / "result.json"),
                database_url=url,
                args=RoundtripArgs(
                    revisions=[f"r{k:04d}" for k in range(args.revisions)],
                    from_revision=[],
                    prepare="none",
                    seed_rows=20,
                    trace_locks=True,
                    check_drift=True,
                    progress_path=None,
                    total_steps=1,
                    version_table="alembic_version",
                ),
            )
            server_cpu: dict[int, float | None] = {}
            scratch_name = make_url(url).database

            @event.listens_for(Pool, "close")
            def backend_cpu(dbapi_connection, record):  # the server process is still there: read it
                info = getattr(dbapi_connection, "info", None)
                if getattr(info, "dbname", None) == scratch_name and getattr(info, "backend_pid", None):
                    server_cpu[info.backend_pid] = _proc_cpu(info.backend_pid)

            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            profiler = cProfile.Profile() if args.cprofile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            result = roundtrip.run(request)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            steps = result["steps"]
            migrate = sum(s.get("upgrade_s", 0) + s.get("downgrade_s", 0) + s.get("reupgrade_s", 0) for s in steps)
            check = sum(s.get("check_s", 0) for s in steps)
            print(
                f"{args.backend}, {args.revisions} revisions: op {elapsed:.2f} s (migration steps {migrate:.2f} s, "
                f"checks {check:.2f} s); ok {sum(s['status'] == 'ok' for s in steps)}/{len(steps)}, "
                f"failure={result['failure'] and result['failure']['mode']}"
            )
            client = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
            print(f"  CPU: this process {client:.2f} s; server backend(s) {server_cpu or 'n/a'}")
            if sent is not None:
                trips = sum(n for kind, n in sent.items() if kind != "pipelined")  # a pipeline: one trip per sync
                print(f"  round trips: {trips} ({trips / args.revisions:.1f} per revision); {dict(sent.most_common())}")
            if profiler:
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(35)
                stats.sort_stats("tottime").print_stats(20)
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    main()
