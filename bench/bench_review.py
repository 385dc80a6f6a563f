"""Benchmark review_migration against squawk alone.

Generates a history (a copy of examples/residency with generated revisions: columns, indexes, foreign
keys, backfills, renames), reviews every revision (base:head, all layers, target a fresh PostgreSQL
database, in a fresh process), then runs squawk alone over the same history's rendered SQL, the by-hand
squawk workflow (alembic upgrade --sql, then squawk: the anchor), and one revision (the head) over MCP
twice in a fresh server process (first call, then the unchanged revision again), which also reports the
peak RSS of server and worker. Each measurement is the median of N runs; ``--scale`` runs at 100, 300
and 1,000 revisions and prints time per revision.

    .venv/bin/python bench/bench_review.py [--revisions 200 | --scale] [--runs 3] [--pg postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.review.squawk import EXCLUDED, squawk_binary
from alembic_mcp.tools.review.tool import review_migration

sys.path.insert(0, str(Path(__file__).parent))
from scale import peak_rss_mb, per_revision_ms, start_worker_peak

SCALE = [100, 300, 1000]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "residency"

BODIES = [
    (
        'op.add_column("persons", sa.Column("c{i}", sa.String(20), nullable=True))',
        'op.drop_column("persons", "c{i}")',
    ),
    (
        'op.create_index("ix_persons_c{p}", "persons", ["c{p}"])',
        'op.drop_index("ix_persons_c{p}", table_name="persons")',
    ),
    (
        'op.create_table("t{i}", sa.Column("id", sa.Integer(), nullable=False), '
        'sa.Column("person_id", sa.Integer(), nullable=True), '
        'sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_t{i}_person_id"), '
        'sa.PrimaryKeyConstraint("id", name="pk_t{i}"))\n'
        'op.create_index("ix_t{i}_person_id", "t{i}", ["person_id"])',
        'op.drop_index("ix_t{i}_person_id", table_name="t{i}")\nop.drop_table("t{i}")',
    ),
    ("op.execute(\"UPDATE persons SET role = 'resident' WHERE role IS NULL\")", "pass"),
    (
        'op.alter_column("persons", "c{p2}", existing_type=sa.String(20), type_=sa.String(40))',
        'op.alter_column("persons", "c{p2}", existing_type=sa.String(40), type_=sa.String(20))',
    ),
]


def generate(project: Path, count: int) -> None:
    versions = project / "migrations" / "versions"
    down = "b2e1d1ce0002"
    for i in range(count):
        rev = f"{i:04d}{secrets.token_hex(4)}"
        up, dn = BODIES[i % len(BODIES)]
        fmt = {"i": i, "p": i - 1, "p2": i - 4}
        (versions / f"{rev}_gen_{i}.py").write_text(
            f'"""generated {i}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {rev!r}\ndown_revision = {down!r}\n\n\n"
            f"def upgrade() -> None:\n    " + up.format(**fmt).replace("\n", "\n    ") + "\n\n\n"
            "def downgrade() -> None:\n    " + dn.format(**fmt).replace("\n", "\n    ") + "\n"
        )
        down = rev


def child(kind: str, project: str, url: str) -> None:
    """In a fresh process: the whole review (``full``) or one revision over MCP twice (``mcp``)."""
    start_worker_peak()
    if kind == "full":
        loaded = load_project(Path(project), {"database_url": url})
        start = time.perf_counter()
        result = anyio.run(lambda: review_migration(loaded, revision="base:head", include_sql=True))
        elapsed = time.perf_counter() - start
        sql = {r.revision: r.sql or "" for r in result.revisions}
        findings = sum(len(r.findings) for r in result.revisions)
        print(json.dumps({"seconds": elapsed, "sql": sql, "findings": findings, "verdict": result.verdict}))
        return

    async def one_over_mcp() -> list[float]:
        from mcp import Client

        from alembic_mcp.server.app import build_server

        # As `alembic-mcp serve` runs it: one idle worker interpreter kept warm between calls.
        server_ = build_server(project, {"database_url": url}, warm_worker=True)
        times = []
        async with Client(server_, mode="auto") as client:
            await anyio.sleep(3)  # the server has been up for a moment when the agent calls
            for _ in range(2):
                t0 = time.perf_counter()
                r = await client.call_tool("review_migration", {"revision": "head"})
                times.append(time.perf_counter() - t0)
                assert not r.is_error, r.content[0].text
        return times

    first, second = anyio.run(one_over_mcp)
    print(json.dumps({"first": first, "second": second, **peak_rss_mb()}))


def in_child(kind: str, project: Path, url: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(project), url], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def by_hand(project: Path, url: str, sql_dir: Path) -> float:
    """The squawk workflow a user would run by hand: alembic renders the SQL, squawk lints it (the anchor)."""
    start = time.perf_counter()
    rendered = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head", "--sql"],
        cwd=project,
        capture_output=True,
        env=dict(os.environ, DATABASE_URL=url),
        check=True,
    ).stdout
    (sql_dir / "all.sql").write_bytes(rendered)
    subprocess.run([squawk_binary(), "--reporter", "json", str(sql_dir / "all.sql")], capture_output=True)
    return time.perf_counter() - start


def squawk_alone(sql: dict[str, str], sql_dir: Path) -> float:
    folder = sql_dir / "revisions"
    folder.mkdir(exist_ok=True)
    for rev, text_ in sql.items():
        (folder / f"{rev}.sql").write_text(text_)
    files = sorted(str(p) for p in folder.glob("*.sql"))
    start = time.perf_counter()
    proc = subprocess.run(
        [squawk_binary(), "--reporter", "json", "--exclude", ",".join(EXCLUDED), *files], capture_output=True
    )
    assert proc.returncode in (0, 1), proc.stderr
    return time.perf_counter() - start


def bench(count: int, runs: int, pg: str, tmp: Path) -> dict:
    name = f"amcp_bench_{secrets.token_hex(4)}"
    server = create_engine(pg, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        project = tmp / f"proj{count}"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
        generate(project, count)
        url = pg.rsplit("/", 1)[0] + f"/{name}"
        sql_dir = tmp / f"sql{count}"
        sql_dir.mkdir()
        full, hand, alone, mcp = [], [], [], []
        for _ in range(runs):
            full.append(in_child("full", project, url))
            hand.append(by_hand(project, url, sql_dir))
            alone.append(squawk_alone(full[-1]["sql"], sql_dir))
            mcp.append(in_child("mcp", project, url))
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
    med = statistics.median
    row = {
        "revisions": len(full[0]["sql"]),
        "review": med(f["seconds"] for f in full),
        "by_hand": med(hand),
        "squawk": med(alone),
        "mcp_first": med(m["first"] for m in mcp),
        "mcp_second": med(m["second"] for m in mcp),
        "server_mb": med(m["server_mb"] for m in mcp),
        "worker_mb": med(m["worker_mb"] for m in mcp),
    }
    report(row, runs, full[0])
    return row


def report(row: dict, runs: int, first: dict) -> None:
    n = row["revisions"]
    print(f"\n== {n} revisions ({first['findings']} findings, {first['verdict']}), median of {runs} ==")
    print(f"review_migration, all layers:          {row['review']:.2f} s  {per_revision_ms(row['review'], n)}")
    print(f"squawk alone, rendered SQL:            {row['squawk']:.2f} s")
    print(f"ratio review/squawk:                   {row['review'] / row['squawk']:.1f}x")
    print(f"alembic --sql + squawk (anchor):       {row['by_hand']:.2f} s  {per_revision_ms(row['by_hand'], n)}")
    print(f"ratio review/(alembic --sql + squawk): {row['review'] / row['by_hand']:.2f}x")
    print(f"one revision over MCP, first call:     {row['mcp_first']:.3f} s")
    print(f"one revision over MCP, second call:    {row['mcp_second']:.3f} s  (target < 0.2 s)")
    print(f"peak RSS over MCP: server {row['server_mb']:.0f} MB, worker {row['worker_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--scale", action="store_true", help="run at 100, 300 and 1,000 revisions")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    tmp = Path(tempfile.mkdtemp(prefix="amcp-bench-"))
    try:
        rows = [bench(n, args.runs, args.pg, tmp) for n in (SCALE if args.scale else [args.revisions])]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if len(rows) > 1:
        print("\nscale curve (ms per revision): revisions, review all, by hand, MCP one (first), MCP one (second)")
        for r in rows:
            n = r["revisions"]
            cells = [1000 * r[k] / n for k in ("review", "by_hand", "mcp_first", "mcp_second")]
            print(f"  {n:>5}  " + "  ".join(f"{c:7.3f}" for c in cells) + f"   one revision: {r['mcp_second']:.3f} s")


if __name__ == "__main__":
    main()
