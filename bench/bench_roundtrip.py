"""Benchmark: test_roundtrip on a generated 200-revision history against, in the same run,
(a) plain alembic upgrade head / downgrade base / upgrade head of the same history (the floor), as
    three ``alembic`` CLI runs and in-process through ``alembic.command``, and
(b) pytest-alembic's ``test_up_down_consistency`` (upgrades each revision, then downgrades each).

test_roundtrip does upgrade/downgrade/upgrade of every revision one step at a time, with 20 seeded rows
per table, a schema snapshot and data checksums after every step, and the model comparison at head.

With ``--scale`` it runs at 50, 200 and 500 revisions (``--sizes``: others), the median of ``--runs`` runs, against the
in-process floor only (the CLI floor and pytest-alembic at the default size), prints time per revision
and the peak RSS of the server side and of the worker (test_roundtrip runs in a fresh process that
reports ``getrusage`` for itself and its children).

Usage: python bench/bench_roundtrip.py [--backend sqlite|postgres|both] [--revisions 200 | --scale] [--runs 3]
PostgreSQL: ALEMBIC_MCP_TEST_PG (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).parent))
from scale import peak_rss_mb, per_revision_ms, start_worker_peak

SCALE = [50, 200, 500]
PG_SERVER = os.environ.get("ALEMBIC_MCP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

ENV_PY = """
import os
from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Engine
from benchmodels import metadata

config = context.config


def do_run(connection):
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connectable = config.attributes.get("connection")
if connectable is None:
    connectable = create_engine(os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url"),
                                poolclass=pool.NullPool)
if isinstance(connectable, Engine):
    with connectable.connect() as connection:
        do_run(connection)
        connection.commit()
else:
    do_run(connectable)
"""

TYPES = [
    ("sa.Integer()", "Integer()"),
    ("sa.String(length=40)", "String(length=40)"),
    ("sa.Boolean()", "Boolean()"),
    ("sa.Date()", "Date()"),
    ("sa.Text()", "Text()"),
]


def generate(root: Path, count: int) -> None:
    """A linear history: every 10th revision creates a table (with a FK to the previous table), the
    others add a column (every third one with an index). Models match the head."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n"
        "prepend_sys_path = .\npath_separator = os\nsqlalchemy.url = sqlite://\n"
    )
    (root / "migrations" / "env.py").write_text(ENV_PY)
    models = [
        "from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, MetaData, String, Table, Text",
        "",
        "metadata = MetaData()",
        "",
    ]
    tables: dict[str, list[str]] = {}
    indexes: list[str] = []
    prev = None
    for k in range(count):
        rev = f"r{k:04d}"
        table = f"t{k // 10:02d}"
        if k % 10 == 0:
            fk = (
                f',\n        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("t{k // 10 - 1:02d}.id",'
                f' name="fk_{table}_parent"), nullable=True)'
                if k
                else ""
            )
            up = (
                f'op.create_table(\n        "{table}",\n'
                '        sa.Column("id", sa.Integer(), primary_key=True),\n'
                f'        sa.Column("name", sa.String(length=50), nullable=False){fk},\n    )'
            )
            down = f'op.drop_table("{table}")'
            tables[table] = [
                'Column("id", Integer(), primary_key=True)',
                'Column("name", String(length=50), nullable=False)',
            ]
            if k:
                tables[table].append(
                    f'Column("parent_id", Integer(), ForeignKey("t{k // 10 - 1:02d}.id", '
                    f'name="fk_{table}_parent"), nullable=True)'
                )
        else:
            sa_type, model_type = TYPES[k % len(TYPES)]
            col = f"c{k:04d}"
            up = f'op.add_column("{table}", sa.Column("{col}", {sa_type}, nullable=True))'
            down = f'op.drop_column("{table}", "{col}")'
            tables[table].append(f'Column("{col}", {model_type}, nullable=True)')
            if k % 3 == 0:
                up += f'\n    op.create_index("ix_{table}_{col}", "{table}", ["{col}"])'
                down = f'op.drop_index("ix_{table}_{col}", table_name="{table}")\n    ' + down
                indexes.append(f'Index("ix_{table}_{col}", {table}.c.{col})')
        (versions / f"{rev}_step.py").write_text(
            f'"""step {k}\n\nRevision ID: {rev}\n"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {rev!r}\ndown_revision = {prev!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n    {up}\n\n\ndef downgrade():\n    {down}\n"
        )
        prev = rev
    for table, cols in tables.items():
        models.append(f'{table} = Table(\n    "{table}", metadata,\n    ' + ",\n    ".join(cols) + ",\n)")
    models.extend(indexes)
    (root / "benchmodels.py").write_text("\n".join(models) + "\n")


class Database:
    """A fresh database per measurement (PostgreSQL: CREATE DATABASE; SQLite: a new file)."""

    def __init__(self, backend: str, folder: Path):
        self.backend, self.folder, self.names = backend, folder, []

    def new(self) -> str:
        name = f"amcp_bench_{secrets.token_hex(4)}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.folder / (name + '.db')}"
        engine = create_engine(PG_SERVER, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.names.append(name)
        return make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.backend != "postgres":
            return
        engine = create_engine(PG_SERVER, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def floor_cli(project: Path, url: str) -> float:
    env = {**os.environ, "DATABASE_URL": url}
    start = time.perf_counter()
    for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        subprocess.run([sys.executable, "-m", "alembic", *args], cwd=project, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def floor_inprocess(project: Path, url: str) -> float:
    code = textwrap.dedent(f"""
        import time, io
        from alembic import command
        from alembic.config import Config
        cfg = Config("alembic.ini", stdout=io.StringIO())
        cfg.set_main_option("sqlalchemy.url", {url!r})
        start = time.perf_counter()
        command.upgrade(cfg, "head"); command.downgrade(cfg, "base"); command.upgrade(cfg, "head")
        print(time.perf_counter() - start)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
    )
    return float(out.stdout.strip().splitlines()[-1])


def pytest_alembic_updown(project: Path, url: str) -> float:
    code = textwrap.dedent(f"""
        import time
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool
        import pytest_alembic
        from pytest_alembic.config import Config
        from pytest_alembic.tests.default import test_up_down_consistency
        engine = create_engine({url!r}, poolclass=NullPool)
        start = time.perf_counter()
        config = Config(config_options={{"file": "alembic.ini"}})
        with pytest_alembic.runner(config=config, engine=engine) as r:
            test_up_down_consistency(r)
        print(time.perf_counter() - start)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
    )
    return float(out.stdout.strip().splitlines()[-1])


def ours(project: Path, url: str) -> tuple[float, object]:
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.roundtrip.tool import test_roundtrip

    loaded = load_project(project, {"database_url": url, "worker_timeout_s": 1800})
    start = time.perf_counter()
    result = anyio.run(
        lambda: test_roundtrip(
            loaded, revision="heads", from_revision="base", seed_rows=20, trace_locks=True, timeout_s=1800
        )
    )
    return time.perf_counter() - start, result


def bench(backend: str, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="amcp-bench-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        generate(root, count)
        dbs = Database(backend, Path(tmp))
        try:
            t_cli = floor_cli(root, dbs.new())
            t_inproc = floor_inprocess(root, dbs.new())
            t_pa = pytest_alembic_updown(root, dbs.new())
            t_ours, result = ours(root, dbs.new())
        finally:
            dbs.drop_all()
    steps = result.steps
    print(f"\n== {backend}: {count} revisions ==")
    print(
        f"test_roundtrip verdict={result.verdict} "
        f"revisions_ok={sum(s.status == 'ok' for s in steps)}/{len(steps)} "
        f"differences={len(result.differences)} drift={len(result.drift)} "
        f"drift_checked={result.drift_checked} "
        f"locks={len(result.locks)} seeded_tables={len(result.seed.tables) if result.seed else 0}"
    )
    check = sum(s.check_s or 0 for s in steps)
    migrate = sum((s.upgrade_s or 0) + (s.downgrade_s or 0) + (s.reupgrade_s or 0) for s in steps)
    print(f"  inside the worker: migration steps {migrate:.2f} s, snapshots+data checks+seeding {check:.2f} s")
    rows = [
        ("floor: alembic CLI upgrade/downgrade/upgrade", t_cli),
        ("floor: alembic.command in-process", t_inproc),
        ("pytest-alembic test_up_down_consistency", t_pa),
        ("test_roundtrip (whole tool call)", t_ours),
    ]
    for name, t in rows:
        print(f"  {name:<48} {t:8.2f} s")
    print(f"  ratio test_roundtrip / CLI floor          {t_ours / t_cli:6.2f}x")
    print(f"  ratio test_roundtrip / in-process floor   {t_ours / t_inproc:6.2f}x")
    print(f"  ratio test_roundtrip / pytest-alembic     {t_ours / t_pa:6.2f}x")


def ours_child(project: str, url: str) -> None:
    """In a fresh process: test_roundtrip once; its time, the step split and the peak RSS."""
    start_worker_peak()
    seconds, result = ours(Path(project), url)
    steps = result.steps
    print(
        json.dumps(
            {
                "seconds": seconds,
                "ok": sum(s.status == "ok" for s in steps),
                "steps": len(steps),
                "verdict": result.verdict,
                "migrate": sum((s.upgrade_s or 0) + (s.downgrade_s or 0) + (s.reupgrade_s or 0) for s in steps),
                "check": sum(s.check_s or 0 for s in steps),
                **peak_rss_mb(),
            }
        )
    )


def ours_in_child(project: Path, url: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(project), url], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"test_roundtrip child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale_point(backend: str, count: int, runs: int) -> dict:
    """Median of ``runs`` of test_roundtrip and of the in-process floor, each on a fresh database."""
    with tempfile.TemporaryDirectory(prefix="amcp-bench-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        generate(root, count)
        dbs = Database(backend, Path(tmp))
        floor, mine = [], []
        try:
            for _ in range(runs):
                floor.append(floor_inprocess(root, dbs.new()))
                mine.append(ours_in_child(root, dbs.new()))
        finally:
            dbs.drop_all()
    med = statistics.median
    row = {
        "revisions": count,
        "floor": med(floor),
        "ours": med(m["seconds"] for m in mine),
        "server_mb": med(m["server_mb"] for m in mine),
        "worker_mb": med(m["worker_mb"] for m in mine),
    }
    last = mine[-1]
    print(f"\n== {backend}: {count} revisions, median of {runs} runs ==")
    print(f"test_roundtrip verdict={last['verdict']} revisions_ok={last['ok']}/{last['steps']}")
    print(f"  inside the worker: migration steps {last['migrate']:.2f} s, checks {last['check']:.2f} s")
    print(f"  floor: alembic.command in-process  {row['floor']:8.2f} s  {per_revision_ms(row['floor'], count)}")
    print(f"  test_roundtrip (whole tool call)   {row['ours']:8.2f} s  {per_revision_ms(row['ours'], count)}")
    print(f"  ratio test_roundtrip / in-process floor {row['ours'] / row['floor']:6.2f}x")
    print(f"  peak RSS: server side {row['server_mb']:.0f} MB, worker {row['worker_mb']:.0f} MB")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--scale", action="store_true", help="run at 50, 200 and 500 revisions")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(map(str, SCALE)), help="with --scale: the history sizes")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return ours_child(*args.child)
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        if not args.scale:
            bench(backend, args.revisions)
            continue
        rows = [scale_point(backend, int(n), args.runs) for n in args.sizes.split(",")]
        print(f"\nscale curve ({backend}, ms per revision): revisions, in-process floor, test_roundtrip, ratio")
        for r in rows:
            n = r["revisions"]
            ratio = r["ours"] / r["floor"]
            print(f"  {n:>5}  {1000 * r['floor'] / n:8.2f}  {1000 * r['ours'] / n:8.2f}  {ratio:5.2f}x")


if __name__ == "__main__":
    main()
