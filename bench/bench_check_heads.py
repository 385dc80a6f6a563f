"""check_heads on generated histories vs `alembic heads` on the same history, in the same run.

Cold: both run as shell commands (fresh interpreters), alternating; the median of N runs. Over MCP: a
fresh server process answers check_heads twice (the first call cold, the second on the unchanged
history), N times; that process also reports the peak RSS of the server and of its worker. With
``--scale`` the sizes are 100, 300 and 1,000 revisions and time per revision is printed.

Usage: python bench/bench_check_heads.py [--revisions 1000 | --scale] [--runs 3]
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
from scale import peak_rss_mb, per_revision_ms, start_worker_peak

SCALE = [100, 300, 1000]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed: {out.stderr[-2000:]}")
    return elapsed


def mcp_child(project: str) -> None:
    """In a fresh process: a server as `serve` builds it, check_heads called twice; times and peak RSS."""
    start_worker_peak()
    import anyio
    from mcp import Client

    from alembic_mcp.server.app import build_server

    async def calls() -> list[float]:
        server = build_server(project, {}, warm_worker=True)
        times = []
        async with Client(server, mode="auto") as client:
            await anyio.sleep(2)  # the server has been up for a moment when the agent calls
            for _ in range(2):
                start = time.perf_counter()
                reply = await client.call_tool("check_heads", {})
                times.append(time.perf_counter() - start)
                assert not reply.is_error, reply.content[0].text
        return times

    first, second = anyio.run(calls)
    print(json.dumps({"first": first, "second": second, **peak_rss_mb()}))


def over_mcp(project: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--mcp-child", str(project)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"MCP child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_cli(project: Path, revisions: int, runs: int) -> tuple[list[float], list[float]]:
    bindir = Path(sys.executable).parent
    alembic_cmd = [str(bindir / "alembic"), "heads"]
    ours_cmd = [str(bindir / "alembic-mcp"), "check-heads", "--project", str(project), "--json"]
    data = json.loads(subprocess.run(ours_cmd, capture_output=True, text=True).stdout)
    assert data["revision_count"] == revisions, data["summary"]
    timed(alembic_cmd, project), timed(ours_cmd, project)  # warm the file cache
    alembic_times, ours_times = [], []
    for _ in range(runs):
        alembic_times.append(timed(alembic_cmd, project))
        ours_times.append(timed(ours_cmd, project))
    return alembic_times, ours_times


def bench(revisions: int, runs: int, root: Path) -> dict:
    project = make_project(root / f"proj{revisions}", revisions)
    alembic_times, ours_times = cold_cli(project, revisions, runs)
    mcp = [over_mcp(project) for _ in range(runs)]
    row = {
        "revisions": revisions,
        "alembic": statistics.median(alembic_times),
        "cold": statistics.median(ours_times),
        "mcp_first": statistics.median(m["first"] for m in mcp),
        "mcp_second": statistics.median(m["second"] for m in mcp),
        "server_mb": statistics.median(m["server_mb"] for m in mcp),
        "worker_mb": statistics.median(m["worker_mb"] for m in mcp),
    }
    report(row, runs)
    return row


def report(row: dict, runs: int) -> None:
    n = row["revisions"]
    print(f"\n== {n} revisions, median of {runs} runs ==")
    print(f"alembic heads (anchor)          {row['alembic']:.3f} s  {per_revision_ms(row['alembic'], n)}")
    print(f"alembic-mcp check-heads (cold)  {row['cold']:.3f} s  {per_revision_ms(row['cold'], n)}")
    print(f"ratio cold / alembic heads      {row['cold'] / row['alembic']:.2f}x  (target <= 1.0x)")
    print(f"over MCP, first call            {row['mcp_first']:.3f} s")
    print(f"over MCP, second call           {row['mcp_second']:.3f} s  (target < 0.3 s)")
    print(f"ratio second call / alembic     {row['mcp_second'] / row['alembic']:.2f}x")
    print(f"peak RSS: server {row['server_mb']:.0f} MB, worker {row['worker_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--scale", action="store_true", help="run at 100, 300 and 1,000 revisions")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mcp-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mcp_child:
        return mcp_child(args.mcp_child)
    root = Path(tempfile.mkdtemp(prefix="amcp-bench-heads-"))
    try:
        rows = [bench(n, args.runs, root) for n in (SCALE if args.scale else [args.revisions])]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if len(rows) > 1:
        print("\nscale curve (ms per revision): revisions, alembic heads, check-heads cold, MCP first, MCP second")
        for r in rows:
            n = r["revisions"]
            cells = [1000 * r[k] / n for k in ("alembic", "cold", "mcp_first", "mcp_second")]
            print(f"  {n:>5}  " + "  ".join(f"{c:7.3f}" for c in cells))


if __name__ == "__main__":
    main()
