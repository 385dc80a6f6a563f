"""Benchmark: backup_db (verify="list") of a PostgreSQL database with about 1 million rows, against a
bare ``pg_dump -Fc`` of the same database in the same run. Target: ratio <= 1.15.

    .venv/bin/python bench/bench_backup.py [--rows 1000000] [--repeat 3] [--server URL]

Creates its own database (amcp_bench_<random>) and drops it at the end. The two are run alternately
and the medians compared, so load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
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

from alembic_mcp.tools.backup.dump_commands import child_env, pg_connection
from alembic_mcp.tools.backup.tool import backup_db
from alembic_mcp.tools.core.config import load_project

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.15


def create_bench_db(server: str, rows: int) -> str:
    name = f"amcp_bench_{secrets.token_hex(4)}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE residents (id int PRIMARY KEY, name text NOT NULL)"))
        conn.execute(text("INSERT INTO residents SELECT g, 'resident ' || g FROM generate_series(1, 1000) g"))
        conn.execute(
            text(
                "CREATE TABLE assignments (id bigint PRIMARY KEY, resident_id int REFERENCES residents(id), "
                "rotation text, starts date, note text)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO assignments SELECT g, 1 + g % 1000, 'rotation ' || (g % 37), "
                "date '2020-01-01' + (g % 2000), md5(g::text) FROM generate_series(1, :n) g"
            ),
            {"n": rows},
        )
        conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('b2e1d1ce0002')"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return url


def drop_bench_db(server: str, url: str) -> None:
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def bare_pg_dump(url: str, out: Path) -> float:
    args, env = pg_connection(url)
    started = time.perf_counter()
    subprocess.run([shutil.which("pg_dump") or "pg_dump", "-Fc", "-f", str(out), *args], check=True, env=child_env(env))
    elapsed = time.perf_counter() - started
    out.unlink()
    return elapsed


def tool_backup(project_dir: Path, url: str) -> tuple[float, int]:
    project = load_project(project_dir, {"database_url": url, "backup_retention_days": 0})
    started = time.perf_counter()
    result = anyio.run(lambda: backup_db(project, verify="list"))
    elapsed = time.perf_counter() - started
    assert result.verified, result.verification
    rows = result.total_rows
    archive = project.root / result.file
    archive.unlink()
    (project.root / result.manifest_file).unlink()
    return elapsed, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    print(f"creating a database with {args.rows:,} rows ...", flush=True)
    url = create_bench_db(args.server, args.rows)
    work = Path(tempfile.mkdtemp(prefix="amcp-bench-backup-"))
    try:
        project_dir = work / "residency"
        shutil.copytree(
            REPO / "examples" / "residency",
            project_dir,
            ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"),
        )
        bare_pg_dump(url, work / "warmup.dump")  # warm caches for both
        bare, tool = [], []
        rows = 0
        for i in range(args.repeat):
            bare.append(bare_pg_dump(url, work / "bare.dump"))
            elapsed, rows = tool_backup(project_dir, url)
            tool.append(elapsed)
            print(
                f"  run {i + 1}: pg_dump -Fc {bare[-1]:.3f} s   backup_db(verify='list') {tool[-1]:.3f} s", flush=True
            )
        b, t = statistics.median(bare), statistics.median(tool)
        ratio = t / b
        print(f"rows backed up: {rows:,}")
        print(f"median pg_dump -Fc:               {b:.3f} s")
        print(f"median backup_db(verify='list'):  {t:.3f} s")
        verdict = "OK" if ratio <= TARGET_RATIO else "OVER"
        print(f"ratio: {ratio:.3f}x (target <= {TARGET_RATIO}x) -> {verdict}")
        return 0 if ratio <= TARGET_RATIO else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop_bench_db(args.server, url)


if __name__ == "__main__":
    sys.exit(main())
