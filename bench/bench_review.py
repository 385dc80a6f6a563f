"""Benchmark review_migration against squawk alone.

Generates a 200-revision history (a copy of examples/residency with generated revisions: columns,
indexes, foreign keys, backfills, renames), reviews every revision (base:head, all layers, target a
fresh PostgreSQL database), then runs squawk alone over the same history's rendered SQL (the anchor),
the by-hand squawk workflow (alembic upgrade --sql, then squawk), and one revision over MCP. Prints the
times and the ratios.

    .venv/bin/python bench/bench_review.py [--revisions 200] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    name = f"amcp_bench_{secrets.token_hex(4)}"
    server = create_engine(args.pg, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    tmp = Path(tempfile.mkdtemp(prefix="amcp-bench-"))
    try:
        project = tmp / "proj"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
        generate(project, args.revisions)
        url = args.pg.rsplit("/", 1)[0] + f"/{name}"
        loaded = load_project(project, {"database_url": url})

        start = time.perf_counter()
        result = anyio.run(lambda: review_migration(loaded, revision="base:head", include_sql=True))
        ours = time.perf_counter() - start
        reviewed = len(result.revisions)
        findings = sum(len(r.findings) for r in result.revisions)

        sql_dir = tmp / "sql"
        sql_dir.mkdir()
        for r in result.revisions:
            (sql_dir / f"{r.revision}.sql").write_text(r.sql or "")
        files = sorted(str(p) for p in sql_dir.glob("*.sql"))
        start = time.perf_counter()
        proc = subprocess.run(
            [squawk_binary(), "--reporter", "json", "--exclude", ",".join(EXCLUDED), *files],
            capture_output=True,
        )
        squawk_alone = time.perf_counter() - start
        assert proc.returncode in (0, 1), proc.stderr

        # The squawk workflow a user would run by hand: alembic renders the SQL, squawk lints it.
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
        pipeline = time.perf_counter() - start

        async def one_over_mcp() -> float:
            from mcp import Client

            from alembic_mcp.server.app import build_server

            # As `alembic-mcp serve` runs it: one idle worker interpreter kept warm between calls.
            server_ = build_server(str(project), {"database_url": url}, warm_worker=True)
            async with Client(server_, mode="auto") as client:
                head = result.revisions[-1].revision
                await anyio.sleep(3)  # the server has been up for a moment when the agent calls
                t0 = time.perf_counter()
                r = await client.call_tool("review_migration", {"revision": head})
                elapsed = time.perf_counter() - t0
                assert not r.is_error, r.content[0].text
                return elapsed

        mcp_one = anyio.run(one_over_mcp)
        print(f"revisions reviewed:              {reviewed} ({findings} findings, verdict {result.verdict})")
        print(f"review_migration, all layers:    {ours:.2f} s")
        print(f"squawk alone, rendered SQL:      {squawk_alone:.2f} s")
        print(f"ratio review/squawk:             {ours / squawk_alone:.1f}x")
        print(f"alembic --sql + squawk (by hand): {pipeline:.2f} s")
        print(f"ratio review/(alembic --sql + squawk): {ours / pipeline:.1f}x")
        print(f"one revision over MCP (head):    {mcp_one:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


if __name__ == "__main__":
    main()
