"""test_roundtrip on real PostgreSQL, MariaDB and SQLite: passing histories, broken downgrades, data loss,
failures diagnosed by mode, PostgreSQL locks and rewrites, timeouts, the target left untouched, and
bad arguments over MCP."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import anyio
import pytest
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument
from alembic_mcp.tools.db.scratch import list_scratch, live_in_this_process
from alembic_mcp.tools.db.scratch_later import wait_for_drops
from alembic_mcp.tools.roundtrip.tool import test_roundtrip as run_roundtrip
from alembic_mcp.tools.worker.ops.datacheck import table_data
from alembic_mcp.tools.worker.ops.snapshot import take_snapshot

R1_UP = """
op.create_table(
    "persons",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=120), nullable=False),
    sa.Column("email", sa.String(length=200), nullable=False),
    sa.Column("level", sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    sa.UniqueConstraint("email", name=op.f("uq_persons_email")),
)
op.create_index(op.f("ix_persons_name"), "persons", ["name"])
"""
R1_DOWN = """
op.drop_index(op.f("ix_persons_name"), table_name="persons")
op.drop_table("persons")
"""
MODELS = """
from sqlalchemy import Column, Integer, MetaData, String
from sqlalchemy.orm import declarative_base

NAMING_CONVENTION = {{
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}}
Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Person(Base):
    __tablename__ = "persons"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False, index=True)
    email = Column(String(200), nullable=False, unique=True)
    level = Column(Integer, nullable=True)
{extra}
"""


def make_project(root: Path, extra_model: str = "") -> Path:
    """empty_project + revision r1 (persons) + models matching it (plus ``extra_model`` lines)."""
    (root / "residency" / "models.py").write_text(MODELS.format(extra=extra_model))
    write_revision(root, "r1", None, R1_UP, R1_DOWN, message="persons")
    return root


def roundtrip(project_dir: Path, url: str, **kw):
    project = load_project(project_dir, {"database_url": url})
    return anyio.run(lambda: run_roundtrip(project, **kw))


def fingerprint(url: str):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            snap = take_snapshot(conn, version_table="__none__")
            return snap, table_data(conn, snap)
    finally:
        engine.dispose()


def scratch_names(url: str) -> set[str]:
    return set(anyio.run(list_scratch, url))


def scratch_name(result) -> str:
    return result.scratch_database.url.rsplit("/", 1)[-1].removesuffix(".db")


def assert_clean(result, url: str) -> None:
    """Dropped before the result, or (PostgreSQL, MariaDB) after it: gone once the background drops end."""
    assert result.scratch_database.dropped is True or (
        result.scratch_database.dropped == "pending" and result.scratch_database.backend != "sqlite"
    )
    assert wait_for_drops(timeout_s=120)
    assert scratch_name(result) not in scratch_names(url)


# ------------------------------------------------------------------ correct histories pass


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb"])
def test_correct_history_passes(request, empty_project, backend):
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url", "mariadb": "mariadb_url"}[backend])
    project = make_project(empty_project, "    nickname = Column(String(50), nullable=True, index=True)\n")
    write_revision(
        project,
        "r2",
        "r1",
        """
        op.add_column("persons", sa.Column("nickname", sa.String(length=50), nullable=True))
        op.create_index(op.f("ix_persons_nickname"), "persons", ["nickname"])
        """,
        """
        op.drop_index(op.f("ix_persons_nickname"), table_name="persons")
        op.drop_column("persons", "nickname")
        """,
        message="nickname",
    )
    if backend == "sqlite":
        engine = create_engine(url)
        with engine.begin() as conn:  # the target exists (empty) so its fingerprint can be taken
            conn.execute(text("CREATE TABLE keep (id INTEGER PRIMARY KEY, v TEXT)"))
            conn.execute(text("INSERT INTO keep VALUES (1, 'x')"))
        engine.dispose()
    before = fingerprint(url)
    result = roundtrip(project, url, seed_rows=5)
    assert result.verdict == "proceed", result.model_dump_json(indent=1)
    assert [s.status for s in result.steps] == ["ok", "ok"]
    assert result.differences == [] and result.data_loss == []
    assert result.drift_checked and result.drift == []
    assert result.seed is not None and result.seed.tables.get("persons") == 5
    assert all(
        s.upgrade_s is not None and s.downgrade_s is not None and s.reupgrade_s is not None for s in result.steps
    )
    assert any("column persons.nickname" in c for c in result.steps[1].schema_changes)
    assert fingerprint(url) == before
    assert_clean(result, url)


def test_example_project_on_mariadb_diagnoses_index_needed_by_fk(example_project, mariadb_url):
    """The example's downgrade drops an index MariaDB needs for a foreign key: diagnosed, not unclear."""
    result = roundtrip(example_project, mariadb_url, seed_rows=3)
    assert result.failure is not None
    assert result.failure.phase == "downgrade" and result.failure.mode == "object-still-referenced"
    index = result.failure.facts.get("object")
    assert index and index.startswith("ix_") and " " not in index, result.failure.facts  # the name, kept
    assert any(index in f.message for f in result.findings), [f.message for f in result.findings]
    assert any(e.rule == "unclear-rollback" for e in result.escalations)
    assert not any(e.rule == "migration-failure-unclear" for e in result.escalations)


# ------------------------------------------------------------------ broken downgrades


def test_missing_sqlite_target_is_not_created(empty_project, sqlite_url):
    project = make_project(empty_project)
    result = roundtrip(project, sqlite_url, seed_rows=1)
    assert result.verdict == "proceed" and result.from_revision == []
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_empty_downgrade_escalates(empty_project, sqlite_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))',
        "pass",
        message="nickname",
    )
    result = roundtrip(project, sqlite_url, from_revision="r1")
    assert result.verdict == "escalate"
    assert any(e.rule == "unclear-rollback" and "empty" in e.reason for e in result.escalations)
    assert any(f.rule == "empty-downgrade" for f in result.findings)
    assert any(
        d.message == "column persons.nickname present after downgrade but not before" for d in result.differences
    )
    # the re-upgrade then trips over the column the downgrade left behind
    assert result.failure is not None and result.failure.phase == "re-upgrade"
    assert result.failure.mode == "object-already-exists"


def test_downgrade_renaming_instead_of_dropping(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))',
        'op.alter_column("persons", "nickname", new_column_name="nickname_old")',
        message="nickname",
    )
    result = roundtrip(project, pg_url, from_revision="r1")
    assert result.verdict == "escalate"
    messages = [d.message for d in result.differences if d.phase == "downgrade"]
    assert "column persons.nickname_old present after downgrade but not before" in messages
    assert any(f.rule == "downgrade-incomplete" for f in result.findings)


def test_downgrade_that_raises(empty_project, sqlite_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))',
        'raise NotImplementedError("this migration cannot be undone")',
        message="nickname",
    )
    result = roundtrip(project, sqlite_url, from_revision="r1")
    assert result.verdict == "escalate"
    assert result.failure.phase == "downgrade" and result.failure.revision == "r2"
    assert "cannot be undone" in result.failure.error
    assert result.failure.file.endswith("r2_nickname.py") and result.failure.line
    # a deliberate raise is a one-way revision by design: unclear-rollback with the migration's own words
    assert result.failure.mode == "deliberate-raise"
    assert [e.rule for e in result.escalations] == ["unclear-rollback"]
    assert "cannot be undone" in result.escalations[0].reason
    assert result.steps[0].status == "failed in downgrade"
    assert_clean(result, sqlite_url)


def test_downgrade_drops_filled_column(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("status", sa.String(20), nullable=False, server_default="active"))',
        'op.drop_column("persons", "status")',
        message="status",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=7)
    lost = [d for d in result.data_loss if d.kind == "dropped-by-downgrade"]
    assert [(d.table, d.column, d.rows_before, d.rows_after) for d in lost] == [("persons", "status", 7, 0)]
    assert lost[0].message == (
        "column persons.status, added by the upgrade, is gone after the downgrade (7 values, written here by "
        "the upgrade, server default 'active'::character varying; in production also what the application "
        "stored there since)"
    )
    assert any(f.rule == "downgrade-loses-data" and f.severity == "warning" for f in result.findings)


def test_upgrade_dropping_filled_column_is_not_restored(empty_project, sqlite_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'with op.batch_alter_table("persons") as batch:\n    batch.drop_column("level")',
        'op.add_column("persons", sa.Column("level", sa.Integer(), nullable=True))',
        message="drop level",
    )
    result = roundtrip(project, sqlite_url, from_revision="r1", seed_rows=6)
    lost = [d for d in result.data_loss if d.kind == "not-restored"]
    assert [(d.table, d.column, d.rows_before, d.rows_after) for d in lost] == [("persons", "level", 6, 0)]
    finding = next(f for f in result.findings if f.rule == "downgrade-loses-data")
    assert finding.severity == "error" and result.verdict == "fix"
    assert "persons.level" in finding.message


# ------------------------------------------------------------------ failures by mode


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_not_null_column_on_seeded_table(request, empty_project, backend):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("badge", sa.Integer(), nullable=False))',
        'op.drop_column("persons", "badge")',
        message="badge",
    )
    result = roundtrip(project, url, from_revision="r1", seed_rows=20)
    assert result.failure is not None
    assert result.failure.mode == "not-null-violation" and result.failure.phase == "upgrade"
    assert result.failure.facts["table"] == "persons" and result.failure.facts["rows"] == 20
    finding = next(f for f in result.findings if f.rule == "not-null-violation")
    assert "20 existing row(s)" in finding.message and "nullable=True" in finding.fix
    assert result.verdict == "fix"
    assert_clean(result, url)


def test_foreign_key_over_orphans(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        """
        op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("person_id", sa.Integer(), nullable=True))
        op.execute("INSERT INTO notes (id, person_id) VALUES (1000, 9999), (1001, 8888)")
        """,
        'op.drop_table("notes")',
        message="notes",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.create_foreign_key("fk_notes_person", "notes", "persons", ["person_id"], ["id"])',
        'op.drop_constraint("fk_notes_person", "notes", type_="foreignkey")',
        message="fk",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=5)
    assert result.failure is not None and result.failure.revision == "r3"
    assert result.failure.mode == "foreign-key-violation"
    facts = result.failure.facts
    assert facts["orphan_rows"] == 2
    assert [s["key"] for s in facts["sample_orphans"]] == [["1000"], ["1001"]]
    finding = next(f for f in result.findings if f.rule == "foreign-key-violation")
    assert "2 row(s) of notes" in finding.message and "1000" in finding.message


def test_unique_over_duplicates(empty_project, sqlite_url):
    project = make_project(empty_project)
    # the migration writes the duplicates itself: without seed rows they are still there
    insert = (
        "INSERT INTO persons (id, name, email, level) VALUES (900, 'a', 'a@example.org', 1), "
        "(901, 'b', 'b@example.org', 1)"
    )
    upgrade = f'op.execute("{insert}")\nop.execute("UPDATE persons SET level = 1")'
    write_revision(project, "r2", "r1", upgrade, "pass", message="data")
    write_revision(
        project,
        "r3",
        "r2",
        'op.create_index("ix_persons_level", "persons", ["level"], unique=True)',
        'op.drop_index("ix_persons_level", table_name="persons")',
        message="unique level",
    )
    result = roundtrip(project, sqlite_url, from_revision="r1", seed_rows=4)
    # r2's re-upgrade inserts the same ids again (its downgrade keeps them): the rehearsal goes on to r3
    assert [(f.revision, f.phase) for f in result.failures] == [("r2", "re-upgrade"), ("r3", "upgrade")]
    failure = result.failures[1]
    assert failure.mode == "unique-violation" and failure.operation["op"] == "CreateIndexOp"
    assert failure.reproduced_without_seed_rows and not result.seed_limitations
    assert failure.facts["duplicate_groups"] == 1
    assert failure.facts["sample_duplicates"] == [{"value": ["1"], "rows": 2, "keys": [["900"], ["901"]]}]
    assert failure.facts["violating_keys"] == [["900"], ["901"]]


def test_revision_failing_halfway_on_mariadb(empty_project, mariadb_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        """
        op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))
        op.create_index("ix_persons_nope", "persons", ["nope"])
        """,
        """
        op.drop_index("ix_persons_nope", table_name="persons")
        op.drop_column("persons", "nickname")
        """,
        message="half",
    )
    result = roundtrip(project, mariadb_url, from_revision="r1")
    failure = result.failure
    assert failure is not None and failure.phase == "upgrade" and failure.revision == "r2"
    assert failure.mode == "object-does-not-exist"
    assert any("column persons.nickname" in item for item in failure.applied)
    finding = next(f for f in result.findings if f.rule == "migration-failed-midway")
    assert "persons.nickname" in finding.message
    assert any("revert these by hand" in step for step in failure.recovery)


# ------------------------------------------------------------------ PostgreSQL locks and rewrites


def test_pg_index_share_lock_and_alter_type_rewrite(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_index("ix_persons_email2", "persons", ["email"])',
        'op.drop_index("ix_persons_email2", table_name="persons")',
        message="index",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.alter_column("persons", "level", type_=sa.BigInteger(), existing_type=sa.Integer())',
        'op.alter_column("persons", "level", type_=sa.Integer(), existing_type=sa.BigInteger())',
        message="bigint",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=5)
    assert result.failure is None and result.lock_trace == "on"
    share = [lk for lk in result.locks if lk.revision == "r2" and lk.table == "persons" and lk.kind == "table"]
    assert share and share[0].mode == "ShareLock" and share[0].sql_mode == "SHARE"
    assert "INSERT, UPDATE and DELETE" in share[0].blocks
    assert not [rw for rw in result.rewrites if rw.revision == "r2" and rw.kind == "table"]
    rewrites = [rw for rw in result.rewrites if rw.revision == "r3" and rw.kind == "table"]
    assert [rw.table for rw in rewrites] == ["persons"]
    assert "Rewritten (new storage under a lock): persons; see rewrites." in result.summary  # tables, not indexes
    assert any(lk.revision == "r3" and lk.mode == "AccessExclusiveLock" for lk in result.locks)
    assert {f.rule for f in result.findings} >= {"table-rewrite", "lock-blocks-writes"}


# ------------------------------------------------------------------ data from the target, untouched target


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb"])
def test_data_from_target_copies_and_leaves_target_untouched(request, empty_project, backend):
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url", "mariadb": "mariadb_url"}[backend])
    project = make_project(empty_project, "    nickname = Column(String(50), nullable=True)\n")
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("nickname", sa.String(length=50), nullable=True))',
        'op.drop_column("persons", "nickname")',
        message="nickname",
    )
    import subprocess
    import sys

    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "r1"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for i in range(1, 13):
            conn.execute(
                text("INSERT INTO persons (id, name, email, level) VALUES (:i, :n, :e, :l)"),
                {"i": i, "n": f"p{i}", "e": f"p{i}@x.org", "l": i},
            )
    engine.dispose()
    before = fingerprint(url)
    result = roundtrip(project, url, data_from="target")
    assert result.from_revision == ["r1"] and result.revisions == ["r2"]
    assert result.verdict == "proceed", result.model_dump_json(indent=1)
    assert result.seed is not None and result.seed.data_from == "target"
    assert fingerprint(url) == before
    assert_clean(result, url)


# ------------------------------------------------------------------ timeouts


def test_timeout_drops_scratch_database(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(project, "r2", "r1", 'op.execute("SELECT pg_sleep(60)")', "pass", message="slow")
    result = roundtrip(project, pg_url, from_revision="r1", timeout_s=8)
    assert result.verdict == "escalate"
    assert result.escalations[0].rule == "migration-failure-unclear"
    assert result.escalations[0].evidence["timed_out"] is True
    assert "The last completed step: seeded 1 table(s)" in result.escalations[0].reason
    assert_clean(result, pg_url)


# ------------------------------------------------------------------ arguments


def test_invalid_arguments_domain(empty_project, sqlite_url):
    project = make_project(empty_project)
    cases = [
        ({"revision": ""}, "revision"),
        ({"revision": "nope"}, "Unknown revision"),
        ({"from_revision": "nope"}, "from_revision"),
        ({"from_revision": "r1", "revision": "r1"}, "not below"),
        ({"seed_rows": -1}, "seed_rows"),
        ({"seed_rows": True}, "seed_rows"),
        ({"data_from": "prod"}, "data_from"),
        ({"trace_locks": "yes"}, "trace_locks"),
        ({"timeout_s": 0}, "timeout_s"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(InvalidArgument, match=needle):
            roundtrip(project, sqlite_url, **kwargs)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_bad_arguments_over_mcp(empty_project, sqlite_url, mode):
    from mcp import Client

    from alembic_mcp.server.app import build_server

    project = make_project(empty_project)
    bad = [
        ({"revision": ""}, "revision"),
        ({"revision": "zzz"}, "Unknown revision"),
        ({"revision": 42}, "revision"),
        ({"from_revision": "zzz"}, "from_revision"),
        ({"from_revision": "r1", "revision": "r1"}, "not below"),
        ({"seed_rows": -5}, "seed_rows"),
        ({"seed_rows": 10**7}, "seed_rows"),
        ({"seed_rows": "many"}, "seed_rows"),
        ({"data_from": "production"}, "data_from"),
        ({"trace_locks": "perhaps"}, "trace_locks"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 10**6}, "timeout_s"),
    ]
    async with Client(build_server(str(project), {"database_url": sqlite_url}), mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        ann = tools["test_roundtrip"].annotations
        assert (ann.read_only_hint, ann.destructive_hint, ann.idempotent_hint, ann.open_world_hint) == (
            True,
            False,
            True,
            False,
        )
        for args, needle in bad:
            r = await client.call_tool("test_roundtrip", args)
            assert r.is_error, args
            assert needle.lower() in r.content[0].text.lower(), (args, r.content[0].text)
            assert "Traceback" not in r.content[0].text
        seen: list[tuple[float, float | None, str | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            seen.append((done, total, message))

        r = await client.call_tool("test_roundtrip", {"seed_rows": 3}, progress_callback=on_progress)
        assert not r.is_error, r.content[0].text
        messages = [m for _, _, m in seen]
        for step in ("r1: upgrade ok", "r1: downgrade ok", "r1: re-upgrade ok"):
            assert step in messages, messages
        assert r.structured_content["verdict"] == "proceed"
        assert r.structured_content["scratch_database"]["dropped"] is True


def test_cli_subcommand(empty_project, sqlite_url):
    import json
    import subprocess
    import sys

    project = make_project(empty_project)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic_mcp.server.cli",
            "test-roundtrip",
            "--project",
            str(project),
            "--database-url",
            sqlite_url,
            "--seed-rows",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    data = json.loads(out.stdout)
    assert data["verdict"] == "proceed" and data["revisions"] == ["r1"]
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic_mcp.server.cli",
            "test-roundtrip",
            "--project",
            str(project),
            "--database-url",
            sqlite_url,
            "--revision",
            "nope",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 3 and "Unknown revision" in bad.stderr


# ------------------------------------------------------------------ more failure modes and objects


@pytest.mark.skipif(importlib.util.find_spec("pg8000") is not None, reason="needs a driver that is not installed")
def test_missing_driver_is_not_blamed_on_env_py(empty_project, pg_url):
    """The worker cannot open the URL's driver: the advice is to install it, not to make env.py run the
    migrations (corpus: dagster without psycopg)."""
    project = make_project(empty_project)
    url = pg_url.replace("postgresql+psycopg://", "postgresql+pg8000://")
    result = roundtrip(project, url, from_revision="base")
    assert result.verdict == "escalate"
    assert "No module named 'pg8000'" in result.escalations[0].reason
    assert "steps-not-run" not in {f.rule for f in result.findings}
    assert result.next_steps[0].startswith("Install pg8000 in the project's environment")
    assert_clean(result, pg_url)


def test_worker_killed_mid_run_leaves_no_scratch(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "pass",
        message="crash",
    )
    result = roundtrip(project, pg_url, from_revision="r1")
    assert result.verdict == "escalate"
    assert result.escalations[0].rule == "migration-failure-unclear"
    assert result.escalations[0].evidence["timed_out"] is False
    assert_clean(result, pg_url)


def test_pg_enum_left_behind_by_downgrade(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        """
        op.create_table("moods", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=False))
        """,
        'op.drop_table("moods")',
        message="moods",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=3)
    assert "enum mood present after downgrade but not before" in [d.message for d in result.differences]
    assert any(e.rule == "unclear-rollback" for e in result.escalations)
    # the next `alembic upgrade` (a new process) meets the type the downgrade left: CREATE TYPE fails, as
    # the re-upgrade does (Alembic's memo of the types it created in this run is cleared per direction)
    failure = result.failure
    assert failure is not None and (failure.phase, failure.mode) == ("re-upgrade", "object-already-exists")
    assert 'type "mood" already exists' in failure.error


def test_pg_type_mismatch(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.alter_column("persons", "name", type_=sa.Integer(), existing_type=sa.String(120))',
        'op.alter_column("persons", "name", type_=sa.String(120), existing_type=sa.Integer())',
        message="name to int",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=3)
    assert result.failure is not None and result.failure.mode == "type-mismatch"
    # PostgreSQL refuses the cast even on an empty table: reproduced without seed rows, seeded evidence kept
    assert result.failure.reproduced_without_seed_rows
    assert result.failure.facts["with_seed_rows"]["non_null_rows"] == 3
    assert result.failure.facts["with_seed_rows"]["sample_values"]
    finding = next(f for f in result.findings if f.rule == "type-mismatch")
    assert "postgresql_using" in finding.fix


def test_default_range_when_target_is_at_head(empty_project, sqlite_url):
    import subprocess
    import sys

    project = make_project(empty_project, "    nickname = Column(String(50), nullable=True)\n")
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("nickname", sa.String(length=50), nullable=True))',
        'op.drop_column("persons", "nickname")',
        message="nickname",
    )
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=project,
        check=True,
        env={"DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
    )
    result = roundtrip(project, sqlite_url, seed_rows=2)
    assert result.from_revision == ["r1"] and result.revisions == ["r2"]
    assert "already there" in result.summary
    assert result.verdict == "proceed" and result.transaction_mode == "per-step"


@pytest.mark.parametrize("data_from", ["seed", "target"])
def test_production_target_escalates_before_running(empty_project, pg_url, data_from):
    project = make_project(empty_project)
    loaded = load_project(project, {"database_url": pg_url, "environment": "production"})
    result = anyio.run(lambda: run_roundtrip(loaded, data_from=data_from))
    assert result.verdict == "escalate" and result.escalations[0].rule == "production-database"
    assert result.steps == [] and result.scratch_database.url is None


def test_a_production_sqlite_target_is_rehearsed_in_a_temp_file(empty_project, sqlite_url):
    """Hostile review: a SQLite rehearsal creates nothing on a server, so no scratch_url is needed; copying
    the target's data is still a human's call."""
    project = make_project(empty_project)
    loaded = load_project(project, {"database_url": sqlite_url, "environment": "production"})
    result = anyio.run(lambda: run_roundtrip(loaded))
    assert result.steps and not any(e.rule == "production-database" for e in result.escalations)
    copied = anyio.run(lambda: run_roundtrip(loaded, data_from="target"))
    assert copied.escalations[0].rule == "production-database" and copied.steps == []


def test_an_unreadable_target_fails_as_itself_and_leaves_no_scratch(empty_project, pg_url):
    """The target's revision is read while the scratch database is created: its error still reaches the
    caller as the domain error (not inside a task group's ExceptionGroup), and the scratch is dropped."""
    project = make_project(empty_project)
    missing = pg_url.rsplit("/", 1)[0] + "/amcp_no_such_database"
    loaded = load_project(project, {"database_url": missing})
    with pytest.raises(AlembicMcpError):
        anyio.run(lambda: run_roundtrip(loaded, data_from="target"))
    assert not live_in_this_process()  # the server is shared: other sessions' scratch databases come and go


ENV_OWN_TRANSACTION = """
import os
from alembic import context
from sqlalchemy import create_engine, pool
from residency.models import Base

config = context.config
engine = create_engine(os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url"),
                       poolclass=pool.NullPool)
with engine.begin() as connection:  # env.py opens the transaction itself and ignores a passed connection
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_env_py_with_its_own_transaction(empty_project, pg_url):
    project = make_project(empty_project, "    nickname = Column(String(50), nullable=True)\n")
    (project / "migrations" / "env.py").write_text(ENV_OWN_TRANSACTION)
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("nickname", sa.String(length=50), nullable=True))',
        'op.drop_column("persons", "nickname")',
        message="nickname",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=3)
    assert result.verdict == "proceed", result.model_dump_json(indent=1)
    assert result.transaction_mode.startswith("single")
    assert result.lock_trace.startswith("unavailable")
    assert [s.status for s in result.steps] == ["ok"]
    assert_clean(result, pg_url)
