"""Issue 11, item 1: user code never reaches the target database.

A migration that hunts for the target (environment values, /proc/self/environ, Alembic's config) and
writes to any database it can reach that turns out to be the target is run through every tool that
imports user code, with the target given three ways. It must find nothing of the target and the
target's fingerprint (catalog + row counts) must not change. ``generate_migration(against="target")``
is the one tool that connects to the target: only through target_read_only_url (a read-only role).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import anyio
import pytest
from conftest import write_revision
from db_roles import read_only_role
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.isolation import dialect_only_url, read_only_url, worker_environment
from alembic_mcp.tools.generate.tool import generate_migration
from alembic_mcp.tools.heads.check import check_heads
from alembic_mcp.tools.heads.merge import merge_heads
from alembic_mcp.tools.review.tool import review_migration
from alembic_mcp.tools.roundtrip.tool import test_roundtrip as roundtrip
from alembic_mcp.tools.worker.prestart import starting_environment

HEAD = "b2e1d1ce0002"

HUNTER = """
import json as _json
import os as _os

_NEEDLE = {needle!r}
_REPORT = {report!r}


def _urls_in_config():
    try:
        from alembic import context as _context

        return [_context.config.get_main_option("sqlalchemy.url") or ""]
    except Exception:
        return []


def _hunt(where, extra_urls=()):
    found = [("env", k) for k, v in _os.environ.items() if _NEEDLE in v]
    for proc in ("/proc/self/environ", "/proc/%d/environ" % _os.getppid()):
        try:
            with open(proc, "rb") as fh:
                if _NEEDLE.encode() in fh.read():
                    found.append(("proc-environ", proc))
        except OSError:
            pass
    urls = [v for v in _os.environ.values() if "://" in v] + _urls_in_config() + list(extra_urls)
    found += [("config", u) for u in urls if _NEEDLE in u]
    wrote, refused = [], []
    for url in urls:
        try:
            from sqlalchemy import create_engine, text

            engine = create_engine(url.replace("+asyncpg", "+psycopg"))
            with engine.begin() as conn:
                if conn.execute(text("select current_database()")).scalar() == _NEEDLE:
                    try:
                        conn.execute(text("CREATE TABLE hunted (x int)"))
                        wrote.append(url)
                    except Exception as exc:
                        refused.append(type(exc).__name__ + ": " + str(exc)[:80])
            engine.dispose()
        except Exception as exc:
            if _NEEDLE in str(exc):
                found.append(("error", str(exc)[:200]))
    with open(_REPORT, "a") as fh:
        fh.write(_json.dumps({{"where": where, "found": found, "wrote": wrote, "refused": refused}}) + "\\n")


_hunt("import")
"""

HUNTER_UPGRADE = """
urls = []
try:
    urls.append(op.get_context().config.get_main_option("sqlalchemy.url") or "")
    urls.append(op.get_bind().engine.url.render_as_string(hide_password=False))
except Exception:
    pass
_hunt("upgrade", urls)
op.add_column("persons", sa.Column("hunted", sa.String(10), nullable=True))
"""


REFUSED_WRITE = "ReadOnlySqlTransaction"  # the session default answers first; the role would refuse next


def fingerprint(url: str) -> str:
    """A hash of the target's catalog (tables, columns, types) and of every table's row count."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = 'public' order by 1, 2"
            )
        ).all()
        tables = sorted({row[0] for row in columns})
        counts = [conn.execute(text(f'select count(*) from "{t}"')).scalar() for t in tables]
    engine.dispose()
    return hashlib.sha256(json.dumps([[list(r) for r in columns], tables, counts]).encode()).hexdigest()


def seed_target(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE canary (id int primary key, v text)"))
        conn.execute(text("INSERT INTO canary SELECT g, 'row ' || g FROM generate_series(1, 200) g"))
    engine.dispose()


def give_target(project: Path, url: str, how: str, monkeypatch) -> None:
    """The three ways a user gives the target: $DATABASE_URL, $ALEMBIC_MCP_DATABASE_URL, alembic.ini."""
    if how == "DATABASE_URL":
        monkeypatch.setenv("DATABASE_URL", url)
    elif how == "ALEMBIC_MCP_DATABASE_URL":
        monkeypatch.setenv("ALEMBIC_MCP_DATABASE_URL", url)
    else:
        ini = project / "alembic.ini"
        ini.write_text(ini.read_text().replace("sqlite:///residency.db", url.replace("%", "%%")))


def reports(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("how", ["DATABASE_URL", "ALEMBIC_MCP_DATABASE_URL", "alembic.ini"])
def test_hunting_migration_finds_nothing_of_the_target(example_project, pg_url, tmp_path, monkeypatch, how):
    needle = make_url(pg_url).database
    report = tmp_path / f"hunt-{how}.jsonl"
    seed_target(pg_url)
    before = fingerprint(pg_url)
    give_target(example_project, pg_url, how, monkeypatch)
    header = HUNTER.format(needle=needle, report=str(report))
    write_revision(
        example_project,
        "c0000001",
        HEAD,
        HUNTER_UPGRADE,
        'op.drop_column("persons", "hunted")',
        message="hunter",
        extra_header=header,
    )
    write_revision(example_project, "c0000002", HEAD, message="other branch")
    project = load_project(example_project)
    assert project.database_url is not None and project.database_url.database == needle

    anyio.run(check_heads, project)
    anyio.run(lambda: review_migration(project, revision="c0000001", include_sql=True))
    trip = anyio.run(lambda: roundtrip(project, revision="c0000001", seed_rows=3))
    assert trip.verdict != "escalate" or trip.findings, trip
    merged = anyio.run(lambda: merge_heads(project, message="merge hunter"))
    assert merged.written, merged
    anyio.run(lambda: generate_migration(load_project(example_project), message="after merge", dry_run=True))

    seen = reports(report)
    assert {entry["where"] for entry in seen} >= {"import", "upgrade"}, seen
    assert [e for e in seen if e["found"] or e["wrote"]] == []
    assert fingerprint(pg_url) == before


def test_generate_against_target_gets_a_read_only_session(example_project, pg_url, tmp_path, monkeypatch):
    from alembic import command
    from alembic.config import Config

    monkeypatch.syspath_prepend(str(example_project))

    cfg = Config(str(example_project / "alembic.ini"))
    cfg.set_main_option("script_location", str(example_project / "migrations"))
    cfg.set_main_option("sqlalchemy.url", pg_url)
    command.upgrade(cfg, "heads")
    before = fingerprint(pg_url)
    needle = make_url(pg_url).database
    report = tmp_path / "hunt-target.jsonl"
    header = HUNTER.format(needle=needle, report=str(report))
    write_revision(example_project, "c0000009", HEAD, message="hunter at head", extra_header=header)
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.begin() as conn:  # stamped by hand: alembic here would import the hunter in this process
        conn.execute(text("UPDATE alembic_version SET version_num = 'c0000009'"))
    engine.dispose()
    with read_only_role(pg_url) as reader:
        overrides = {"database_url": pg_url, "target_read_only_url": reader}
        result = anyio.run(
            lambda: generate_migration(load_project(example_project, overrides), message="vs target", against="target")
        )
    assert result.verdict in ("proceed", "fix", "escalate") and result.compared_with, result
    seen = reports(report)
    assert seen and all(entry["wrote"] == [] for entry in seen), seen
    assert any(REFUSED_WRITE in refusal for entry in seen for refusal in entry["refused"]), seen
    assert fingerprint(pg_url) == before


def test_read_only_and_dialect_only_urls():
    assert dialect_only_url("postgresql+asyncpg://u:secret@db.example/app") == "postgresql+asyncpg://"
    assert "default_transaction_read_only" in read_only_url("postgresql+psycopg://u@h/app")
    assert "READ+ONLY" in read_only_url("mariadb+pymysql://root@h/app")
    assert read_only_url("sqlite:////tmp/app.db").endswith("?mode=ro&uri=true")


def test_worker_environment_removes_everything_leading_to_the_target():
    target = make_url("postgresql://app:s3cret@db.internal:5432/prod_app")
    environ = {
        "DATABASE_URL": "postgresql://app:s3cret@db.internal/prod_app",
        "ALEMBIC_MCP_SCRATCH_URL": "postgresql://app@db.internal/postgres",
        "APP_DB": "postgresql+asyncpg://app:s3cret@db.internal/prod_app",
        "PGPASSWORD": "s3cret",
        "PGDATABASE": "prod_app",
        "HOME": "/home/app",
    }
    to_set, to_remove = worker_environment(target, "postgresql://", ["DATABASE_URL"], environ)
    assert to_set == {"DATABASE_URL": "postgresql://"}
    assert to_remove == ["ALEMBIC_MCP_SCRATCH_URL", "APP_DB", "PGDATABASE", "PGPASSWORD"]
    # the process starts without the password (/proc/self/environ keeps its start); the database name goes per request
    assert starting_environment(environ) == {"PGDATABASE": "prod_app", "HOME": "/home/app"}


def test_runner_refuses_to_hand_the_target_url_to_user_code(example_project):
    from alembic_mcp.tools.core.errors import WorkerFailed
    from alembic_mcp.tools.worker.runner import run_worker

    target = "postgresql://app:s3cret@127.0.0.1/prod_app"
    project = load_project(example_project, {"database_url": target}, environ={})
    with pytest.raises(WorkerFailed, match="Refusing to hand the target database's URL"):
        anyio.run(lambda: run_worker(project, "history", {"check_env": False}, database_url=target))


def generic_fingerprint(url: str) -> str:
    """Tables, columns and row counts through SQLAlchemy's inspector (any backend)."""
    from sqlalchemy import inspect

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        inspector = inspect(conn)
        tables = sorted(inspector.get_table_names())
        shape = [[t, [(c["name"], str(c["type"])) for c in inspector.get_columns(t)]] for t in tables]
        counts = [conn.execute(text(f"select count(*) from {t}")).scalar() for t in tables]
    engine.dispose()
    return hashlib.sha256(json.dumps([shape, counts]).encode()).hexdigest()


@pytest.mark.parametrize("backend", ["pg_url", "mariadb_url", "sqlite_url"])
def test_generate_against_target_still_compares_on_every_backend(example_project, backend, request):
    """The read-only session (URL options plus the worker's pool hook) does not stop autogenerate."""
    from test_generate_migration import add_person_column, upgrade_target

    url = request.getfixturevalue(backend)
    sync = url.replace("+asyncpg", "+psycopg")
    upgrade_target(example_project, sync, people=3)
    before = generic_fingerprint(sync)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    with read_only_role(sync) as reader:
        overrides = {"database_url": url, "target_read_only_url": reader}
        result = anyio.run(
            lambda: generate_migration(
                load_project(example_project, overrides), message="add middle name", against="target"
            )
        )
    assert [(o.op, o.column) for o in result.operations] == [("add_column", "middle_name")], result.findings
    assert "read-only role and session" in (result.compared_with or "")
    assert generic_fingerprint(sync) == before


ASYNC_METADATA = """
from sqlalchemy import Column, Integer, MetaData, Table

target_metadata = MetaData()
Table("t", target_metadata, Column("id", Integer, primary_key=True), Column("extra", Integer))
"""


def test_generate_against_target_on_asyncpg_is_read_only(tmp_path, pg_async_url):
    """asyncpg takes no session options in the URL: the worker's pool hook makes its sessions read-only."""
    import subprocess
    import sys

    project = tmp_path / "asyncproj"
    project.mkdir()
    subprocess.run([sys.executable, "-m", "alembic", "init", "-t", "async", "migrations"], cwd=project, check=True)
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", pg_async_url))
    env = project / "migrations" / "env.py"
    env.write_text(env.read_text().replace("target_metadata = None", ASYNC_METADATA))
    up = "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))"
    write_revision(project, "a0000001", None, up, "op.drop_table('t')", message="t")
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=project, check=True)
    sync = pg_async_url.replace("+asyncpg", "+psycopg")
    needle = make_url(sync).database
    report = tmp_path / "hunt-async.jsonl"
    header = HUNTER.format(needle=needle, report=str(report))
    write_revision(project, "a0000002", "a0000001", message="hunter", extra_header=header)
    engine = create_engine(sync, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'a0000002'"))
    engine.dispose()
    before = fingerprint(sync)
    with read_only_role(sync) as reader:
        loaded = load_project(project, {"target_read_only_url": reader.replace("+psycopg", "+asyncpg")})
        result = anyio.run(lambda: generate_migration(loaded, message="add extra", against="target"))
    assert [(o.op, o.column) for o in result.operations] == [("add_column", "extra")], result.findings
    seen = reports(report)
    assert seen and all(entry["wrote"] == [] for entry in seen), seen
    assert any(REFUSED_WRITE in refusal for entry in seen for refusal in entry["refused"]), seen
    assert fingerprint(sync) == before


@pytest.mark.parametrize("backend", ["pg_url", "mariadb_url", "sqlite_url"])
def test_read_only_url_refuses_writes_and_allows_reads(backend, request):
    url = request.getfixturevalue(backend)
    writer = create_engine(url, poolclass=NullPool)
    with writer.begin() as conn:
        conn.execute(text("CREATE TABLE kept (a int)"))
    writer.dispose()
    reader = create_engine(read_only_url(url), poolclass=NullPool)
    with reader.connect() as conn:
        assert conn.execute(text("select count(*) from kept")).scalar() == 0
        with pytest.raises(Exception, match=r"(?i)read.?only"):
            conn.execute(text("CREATE TABLE refused (a int)"))
    reader.dispose()


def test_cli_started_with_the_url_exported_hides_it_from_user_code(example_project, pg_url, tmp_path):
    """The real command line: DATABASE_URL is in the server's initial environment, so also in
    /proc/<server pid>/environ; the server makes itself non-dumpable so the worker cannot read it there."""
    import os
    import subprocess
    import sys

    needle = make_url(pg_url).database
    report = tmp_path / "hunt-cli.jsonl"
    header = HUNTER.format(needle=needle, report=str(report))
    write_revision(example_project, "c0000001", HEAD, message="hunter", extra_header=header)
    for command in ("check-heads", "review-migration"):
        done = subprocess.run(
            [sys.executable, "-m", "alembic_mcp.server", command, "--project", str(example_project), "--json"],
            env={**os.environ, "DATABASE_URL": pg_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in (0, 1, 2), done.stderr
    seen = reports(report)
    if os.geteuid() == 0:  # root reads any process's environ (CAP_SYS_PTRACE); non-dumpable stops other users
        for entry in seen:
            entry["found"] = [f for f in entry["found"] if f[1] == "/proc/self/environ" or f[0] != "proc-environ"]
    assert len(seen) >= 2 and [e for e in seen if e["found"] or e["wrote"]] == [], seen


def test_cli_process_is_not_dumpable():
    """hide_own_environment really clears the dumpable flag (PR_GET_DUMPABLE reads 0 afterwards)."""
    import subprocess
    import sys

    probe = (
        "import ctypes\nfrom alembic_mcp.tools.core.process_privacy import hide_own_environment\n"
        "assert hide_own_environment()\nprint(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0", done.stderr
