"""Benchmark: generate_migration against plain `alembic revision --autogenerate` for the same change.

Both run in fresh interpreters on a copy of examples/residency with one nullable column added. The
anchor writes the file and it is deleted after each run; generate_migration runs with dry_run=true
(against="scratch": history worker + scratch database + upgrade heads + autogenerate + review; and
against="target"). Usage: python bench/generate_migration.py [--runs N] [--pg postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
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
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.generate.tool import generate_migration

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "residency"
PGY = "    pgy_level = Column(Integer, nullable=True)\n"


def alembic(project: Path, url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "alembic.ini", *args],
        cwd=project,
        env=dict(os.environ, DATABASE_URL=url),
        check=True,
        capture_output=True,
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(label: str, url: str, runs: int, root: Path) -> None:
    project = root / f"proj_{label}"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    alembic(project, url, "upgrade", "head")
    models = project / "residency" / "models.py"
    models.write_text(models.read_text().replace(PGY, PGY + "    middle_name = Column(String(80), nullable=True)\n"))
    versions = project / "migrations" / "versions"

    def anchor() -> None:
        alembic(project, url, "revision", "--autogenerate", "-m", "bench", "--rev-id", "bench0001")
        for f in versions.glob("bench0001_*.py"):
            f.unlink()

    loaded = load_project(project, {"database_url": url})

    def ours(against: str):
        def run() -> None:
            result = anyio.run(lambda: generate_migration(loaded, "bench", dry_run=True, against=against))
            assert [o.column for o in result.operations] == ["middle_name"], result.summary

        return run

    anchor()  # warm the file system caches once for both
    times = {
        name: [timed(fn) for _ in range(runs)]
        for name, fn in (
            ("alembic revision --autogenerate", anchor),
            ("generate_migration scratch", ours("scratch")),
            ("generate_migration target", ours("target")),
        )
    }
    base = statistics.median(times["alembic revision --autogenerate"])
    print(f"[{label}] runs={runs}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:34s} median {median:6.2f} s  ratio {median / base:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--pg",
        default=os.environ.get("ALEMBIC_MCP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amcp-bench-") as tmp:
        root = Path(tmp)
        bench("sqlite", f"sqlite:///{root / 'target.db'}", args.runs, root)
        server = make_url(args.pg)
        name = f"amcp_bench_{secrets.token_hex(4)}"
        admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            print(f"[postgresql] skipped: {type(exc).__name__}: {exc}")
            return
        try:
            bench("postgresql", server.set(database=name).render_as_string(hide_password=False), args.runs, root)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
