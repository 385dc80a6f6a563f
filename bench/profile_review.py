"""Profile the whole-history review (``review_migration(revision="base:head")``) in-process, on
bench_review.py's generated history, against a fresh PostgreSQL database, and print where the time goes.

It prints a timeline of the pipeline's stages (start and end of each, from the call's start: what ran
while what waited) with the CPU of the synchronous ones (layer 1 and the SQL rules run in threads), the
CPU of this process and of the processes it waited for (the render worker, squawk). ``--cprofile`` adds
the top functions of layer 1's thread and of the event loop's; ``--yappi`` CPU per function over every
thread; ``--pyinstrument`` a call tree (the last two: ``pip install yappi pyinstrument``). Each run is
the first review in its process, as bench_review.py's whole-history column measures it.

Usage: python bench/profile_review.py [--revisions 300] [--cprofile | --yappi | --pyinstrument]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import inspect
import pstats
import resource
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).parent))
from bench_review import EXAMPLE, generate

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.review import pipeline
from alembic_mcp.tools.review.tool import review_migration

EVENTS: list[tuple[str, float, float]] = []
CPU: dict[str, float] = {}  # thread CPU of the synchronous stages (those run in a thread included)
START = [0.0]


def _timed(module, name: str) -> None:
    """Record when ``module.name`` (sync or async) starts and ends, relative to the call's start."""
    original = getattr(module, name)
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def async_wrapper(*args, **kwargs):
            begin = time.perf_counter() - START[0]
            try:
                return await original(*args, **kwargs)
            finally:
                EVENTS.append((name, begin, time.perf_counter() - START[0]))

        setattr(module, name, async_wrapper)
        return

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        begin, cpu = time.perf_counter() - START[0], time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            EVENTS.append((name, begin, time.perf_counter() - START[0]))
            CPU[name] = CPU.get(name, 0.0) + time.thread_time() - cpu

    setattr(module, name, wrapper)


def instrument() -> None:
    from alembic_mcp.tools.review import tool

    for name in (
        "_render_in_worker",
        "_lint",
        "_judge_rendered_files",
        "gather",
        "run_squawk",
        "_judge_rendered",
        "_judge_renames",
        "_apply_facts",
        "mark_resolved",
        "_lift_statements_the_sql_covered",
        "_revision",
        "_result",
        "read_approvals",
        "_read_current",
    ):
        _timed(pipeline, name)
    _timed(tool, "_history")
    _timed(tool, "history_from_files")
    _timed(tool, "with_detail")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--yappi", action="store_true", help="CPU time per function, every thread of this process")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"amcp_prof_{secrets.token_hex(4)}"
    server = create_engine(args.pg, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    tmp = Path(tempfile.mkdtemp(prefix="amcp-prof-review-"))
    try:
        project_dir = tmp / "proj"
        shutil.copytree(EXAMPLE, project_dir, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
        generate(project_dir, args.revisions)
        project = load_project(project_dir, {"database_url": args.pg.rsplit("/", 1)[0] + f"/{name}"})
        instrument()
        profiler = cProfile.Profile() if args.cprofile else None
        lint_profiler = cProfile.Profile() if args.cprofile else None
        if lint_profiler:  # layer 1 runs in a thread, which the main profiler does not see
            lint = pipeline._lint
            pipeline._lint = lambda review: lint_profiler.runcall(lint, review)
        tree = None
        if args.pyinstrument:
            from pyinstrument import Profiler

            tree = Profiler(async_mode="enabled")
            tree.start()
        if args.yappi:
            import yappi

            yappi.set_clock_type("cpu")
            yappi.start()
        cpu0 = time.process_time()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        START[0] = time.perf_counter()
        if profiler:
            profiler.enable()
        result = anyio.run(lambda: review_migration(project, revision="base:head", include_sql=True))
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - START[0]
        cpu = time.process_time() - cpu0
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        children = sum(getattr(children1, f) - getattr(children0, f) for f in ("ru_utime", "ru_stime"))
        if tree:
            tree.stop()
        if args.yappi:
            yappi.stop()
        n = len(result.revisions)
        findings = sum(len(r.findings) for r in result.revisions)
        print(f"{n} revisions, {findings} findings, verdict {result.verdict}")
        print(f"wall {wall:.2f} s ({1000 * wall / n:.2f} ms/rev), CPU of this process {cpu:.2f} s")
        print(f"CPU of the processes it waited for (render worker, squawk) {children:.2f} s")
        print("timeline (s from the call's start):")
        for stage, begin, end in sorted(EVENTS, key=lambda e: e[1]):
            if stage == "_revision":
                continue
            cpu = f"  CPU {CPU[stage]:.3f} s" if stage in CPU else ""
            print(f"  {stage:<36} {begin:7.3f} -> {end:7.3f}  ({end - begin:.3f} s){cpu}")
        revs = [e for e in EVENTS if e[0] == "_revision"]
        if revs:
            print(
                f"  {'_revision x' + str(len(revs)):<36} {revs[0][1]:7.3f} -> {revs[-1][2]:7.3f}  "
                f"(sum {sum(e[2] - e[1] for e in revs):.3f} s)  CPU {CPU['_revision']:.3f} s"
            )
        if lint_profiler:
            print("== layer 1 (_lint, in its thread) ==")
            pstats.Stats(lint_profiler).sort_stats("cumulative").print_stats(args.top)
            pstats.Stats(lint_profiler).sort_stats("tottime").print_stats(args.top)
        if profiler:
            print("== the event loop's thread ==")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
        if args.yappi:
            stats = yappi.get_func_stats()
            stats.sort("tsub")
            stats.print_all(columns={0: ("name", 60), 1: ("ncall", 9), 2: ("tsub", 8), 3: ("ttot", 8)}, out=sys.stdout)
        if tree:
            print(tree.output_text(unicode=False, color=False, show_all=False))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


if __name__ == "__main__":
    main()
