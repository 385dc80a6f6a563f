"""test_roundtrip over whole histories on real PostgreSQL: every failure in one call, seeds that do not
cause failures of their own, and diagnoses at the failing statement (issue 14)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from test_roundtrip import MODELS, assert_clean, make_project, roundtrip


def _upgrade_target(project, url: str, revision: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", revision],
        cwd=project,
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )


def _history_with_broken_downgrades(project) -> None:
    """r2, r4 and r5 have broken downgrades, each a different kind; r3 and r6 are fine."""
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_index("ix_persons_level", "persons", ["level"])',
        'op.drop_index("ix_persons_lvl", table_name="persons")',  # a name no revision created
        message="level index",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("body", sa.Text()))',
        'op.drop_table("notes")',
        message="notes",
    )
    write_revision(
        project,
        "r4",
        "r3",
        'op.create_unique_constraint(None, "notes", ["body"])',
        'op.drop_constraint(None, "notes", type_="unique")',
        message="unique body",
    )
    write_revision(
        project,
        "r5",
        "r4",
        'op.drop_table("notes")',
        """
        op.create_table(
            "notes",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("body", sa.Text()),
            sa.Column("body", sa.Text()),
        )
        """,
        message="drop notes",
    )
    write_revision(
        project,
        "r6",
        "r5",
        'op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))',
        'op.drop_column("persons", "nickname")',
        message="nickname",
    )


def test_every_broken_downgrade_in_one_call(empty_project, pg_url):
    project = make_project(empty_project)
    # no naming convention: a constraint created with name None gets the database's name, and
    # drop_constraint(None, ...) cannot name it
    models = MODELS.format(extra="").replace("MetaData(naming_convention=NAMING_CONVENTION)", "MetaData()")
    (project / "residency" / "models.py").write_text(models)
    _history_with_broken_downgrades(project)
    result = roundtrip(project, pg_url, from_revision="r1")
    found = [(f.revision, f.direction, f.mode) for f in result.failures]
    assert found == [
        ("r2", "downgrade", "drop-of-missing-object"),
        ("r4", "downgrade", "unnamed-constraint"),
        ("r5", "downgrade", "defined-twice"),
    ], result.model_dump_json(indent=1)
    assert [s.status for s in result.steps] == [
        "failed in downgrade",
        "ok",
        "failed in downgrade",
        "failed in downgrade",
        "ok",
    ]
    assert (result.steps_planned, result.steps_run) == (5, 2)
    assert result.stopped is None and result.rebuilds == []  # each failed downgrade was rolled back
    for failure in result.failures:
        assert failure.file.startswith(f"migrations/versions/{failure.revision}_")
        assert failure.line and failure.operation and failure.recovery
    assert result.failures[0].operation["op"] == "DropIndexOp"
    assert result.failures[1].operation["op"] == "DropConstraintOp"
    assert result.failures[2].operation["op"] == "CreateTableOp"
    assert "migration-failure-unclear" not in {e.rule for e in result.escalations}
    assert {f.rule for f in result.findings} >= {"drop-of-missing-object", "unnamed-constraint", "defined-twice"}
    assert "3 failed step(s)" in result.summary
    assert_clean(result, pg_url)


ENUM_CONVERSION_UP = """
package_type = sa.Enum("wheel", "sdist", "egg", name="packagetype")
package_type.create(op.get_bind())
op.alter_column(
    "packages",
    "kind",
    type_=package_type,
    existing_type=sa.String(30),
    postgresql_using="kind::packagetype",
)
"""
ENUM_CONVERSION_DOWN = """
op.alter_column("packages", "kind", type_=sa.String(30), postgresql_using="kind::text")
sa.Enum(name="packagetype").drop(op.get_bind())
"""


PACKAGE_MODEL = """

from sqlalchemy import Enum


class Package(Base):
    __tablename__ = "packages"
    id = Column(Integer, primary_key=True)
    kind = Column(Enum("wheel", "sdist", "egg", name="packagetype"), nullable=False)
"""


def test_enum_conversion_rehearsed_with_default_seeding_passes(empty_project, pg_url):
    project = make_project(empty_project, PACKAGE_MODEL)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("packages", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("kind", sa.String(30), nullable=False))',
        'op.drop_table("packages")',
        message="packages",
    )
    write_revision(project, "r3", "r2", ENUM_CONVERSION_UP, ENUM_CONVERSION_DOWN, message="kind enum")
    result = roundtrip(project, pg_url, from_revision="r1")
    assert result.failures == [] and result.seed_limitations == [], result.model_dump_json(indent=1)
    assert result.seed.tables["packages"] == 20  # seeded with the labels the later cast expects
    assert result.verdict == "proceed", [f.message for f in result.findings]
    assert_clean(result, pg_url)


TAG_MODEL = """

class Tag(Base):
    __tablename__ = "tags"
    label = Column(String(40), nullable=False)
    slug = Column(String(40), primary_key=True)
"""


def test_seed_nulls_under_a_later_primary_key_are_the_migrations_failure(empty_project, pg_url):
    """NULLs in a nullable column are values real rows can hold: not a seed limitation (issue 18)."""
    project = make_project(empty_project, TAG_MODEL)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("tags", sa.Column("label", sa.String(40), nullable=False))',
        'op.drop_table("tags")',
        message="tags",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.add_column("tags", sa.Column("slug", sa.String(40), nullable=True))',
        'op.drop_column("tags", "slug")',
        message="slug",
    )
    write_revision(
        project,
        "r4",
        "r3",
        'op.create_primary_key("pk_tags", "tags", ["slug"])',
        'op.drop_constraint("pk_tags", "tags", type_="primary")\nop.alter_column("tags", "slug", nullable=True)',
        message="slug key",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=5)
    assert result.seed_limitations == [], result.model_dump_json(indent=1)
    assert [(f.revision, f.phase, f.mode) for f in result.failures] == [("r4", "upgrade", "not-null-violation")]
    failure = result.failures[0]
    assert failure.on_seed_rows and not failure.reproduced_without_seed_rows  # the history's own rows pass
    assert failure.operation["op"] == "CreatePrimaryKeyOp" and failure.file == "migrations/versions/r4_slug_key.py"
    finding = next(f for f in result.findings if f.rule == "not-null-violation")
    assert finding.severity == "error" and "real rows like them fail the same way" in finding.message
    # the way out an agent can take: the rehearsal on the target's rows decides (no loop on generated values)
    assert finding.fix is not None and finding.fix.startswith("First rehearse with data_from='target'")
    assert result.verdict == "fix" and result.rebuilds == ["to r3: re-running r4 (upgrade) without seed rows"]
    assert [s.status for s in result.steps] == ["ok", "ok", "failed in upgrade"]
    assert_clean(result, pg_url)


PAYLOAD_MODEL = """

from sqlalchemy.dialects.postgresql import JSONB


class Event(Base):
    __tablename__ = "events"
    id = Column(Integer, primary_key=True)
    payload = Column(JSONB, nullable=True)
"""


def test_seed_text_a_json_conversion_cannot_parse_is_a_seed_limitation(empty_project, pg_url):
    """Real rows of a column converted to JSON hold JSON; generated text does not: a seed limitation."""
    project = make_project(empty_project, PAYLOAD_MODEL)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("payload", sa.Text()))',
        'op.drop_table("events")',
        message="events",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.alter_column("events", "payload", type_=postgresql.JSONB(), existing_type=sa.Text(), '
        'postgresql_using="payload::jsonb")',
        'op.alter_column("events", "payload", type_=sa.Text(), existing_type=postgresql.JSONB())',
        message="payload json",
        extra_header="from sqlalchemy.dialects import postgresql",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=3)
    assert result.failures == [], result.model_dump_json(indent=1)
    assert [(s.revision, s.phase, s.mode) for s in result.seed_limitations] == [("r3", "upgrade", "type-mismatch")]
    finding = next(f for f in result.findings if f.rule == "seed-limitation")
    assert finding.severity == "info" and "JSON" in finding.why
    assert result.verdict == "proceed", [f.message for f in result.findings if f.severity == "error"]
    assert [s.status for s in result.steps] == ["ok", "ok"]
    assert_clean(result, pg_url)


BACKFILL_UP = """
op.add_column("players", sa.Column("team_id", sa.Integer(), nullable=True))
op.execute("UPDATE players SET team_id = t.id FROM teams t WHERE t.name = players.team_name")
op.alter_column("players", "team_id", nullable=False)
"""


def test_backfill_then_not_null_lists_the_rows_left_null(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        """
        op.create_table("teams", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(40)))
        op.create_table("players", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("team_name", sa.String(40)))
        """,
        'op.drop_table("players")\nop.drop_table("teams")',
        message="teams",
    )
    write_revision(project, "r3", "r2", BACKFILL_UP, 'op.drop_column("players", "team_id")', message="team id")
    _upgrade_target(project, pg_url, "r2")
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO teams (id, name) VALUES (1, 'red'), (2, 'blue')"))
        names = {i: "red" if i % 2 else "blue" for i in range(1, 13)} | {4: "green", 7: "Red ", 9: None}
        for i, name in names.items():
            conn.execute(text("INSERT INTO players (id, team_name) VALUES (:i, :n)"), {"i": i, "n": name})
    engine.dispose()
    result = roundtrip(project, pg_url, data_from="target")
    failure = result.failure
    assert failure is not None and failure.revision == "r3" and failure.mode == "not-null-violation"
    assert failure.operation["op"] == "AlterColumnOp"  # the statement that raised, not the add_column
    assert failure.file == "migrations/versions/r3_team_id.py" and failure.line == 17
    assert failure.facts["violating_rows"] == 3
    assert failure.facts["key_columns"] == ["id"] and failure.facts["violating_keys"] == [["4"], ["7"], ["9"]]
    finding = next(f for f in result.findings if f.rule == "not-null-violation")
    assert "3 row(s) of players are still NULL in team_id" in finding.message and "4, 7, 9" in finding.message
    assert "existing row(s)" not in finding.message
    assert_clean(result, pg_url)


# ------------------------------------------------------------------ rehearse like the deploy


def _history_with_autocommit_and_validate(project) -> None:
    write_revision(
        project,
        "r2",
        "r1",
        """
        with op.get_context().autocommit_block():
            op.create_index("ix_persons_level", "persons", ["level"], postgresql_concurrently=True)
        """,
        """
        with op.get_context().autocommit_block():
            op.drop_index("ix_persons_level", table_name="persons", postgresql_concurrently=True)
        """,
        message="level index",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.execute("ALTER TABLE persons ADD CONSTRAINT ck_persons_level CHECK (level >= 0) NOT VALID")',
        'op.drop_constraint(op.f("ck_persons_level"), "persons", type_="check")',
        message="level check",
    )
    write_revision(
        project,
        "r4",
        "r3",
        'op.execute("ALTER TABLE persons VALIDATE CONSTRAINT ck_persons_level")',
        "pass",
        message="validate",
    )


LEVEL_INDEX = '    __table_args__ = (__import__("sqlalchemy").Index("ix_persons_level", "level"),)\n'


def test_deploy_in_one_transaction_is_compared_with_the_rehearsal(empty_project, pg_url):
    project = make_project(empty_project, LEVEL_INDEX)
    _history_with_autocommit_and_validate(project)
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=3)
    assert result.failures == [], result.model_dump_json(indent=1)
    assert result.deploy.env_py == "single" and result.deploy.rehearsal == "per-step"
    assert "one transaction" in result.deploy.differences[0]
    by_rule = {f.rule: f for f in result.findings}
    early = by_rule["deploy-autocommit-commits-early"]
    # the block opens its own revision: it commits only complete revisions (issue 18 agent run)
    assert early.file == "migrations/versions/r2_level_index.py" and early.severity == "info"
    validate = by_rule["deploy-validate-same-transaction"]
    assert validate.file == "migrations/versions/r4_validate.py" and "ck_persons_level" in validate.message
    assert "already in a revision after r3" in (validate.fix or "")
    assert "in r3, in the same deploy transaction" in validate.message
    assert result.verdict == "proceed"  # warnings: the rehearsal itself passed
    assert_clean(result, pg_url)


def test_deploy_per_migration_draws_no_transaction_findings(empty_project, tmp_path):
    from alembic_mcp.tools.roundtrip.deploy_mode import deploy_findings, deploy_mode

    env_py = empty_project / "migrations" / "env.py"
    env_py.write_text(
        env_py.read_text().replace("connection=connection,", "connection=connection, transaction_per_migration=True,")
    )
    make_project(empty_project)
    _history_with_autocommit_and_validate(empty_project)
    mode = deploy_mode(env_py, "per-step", 3)
    assert (mode.env_py, mode.differences) == ("per-migration", [])
    sources = {
        rev: (str(path), path.read_text())
        for rev, path in (
            (p.name[:2], p) for p in sorted((empty_project / "migrations" / "versions").glob("r[234]_*.py"))
        )
    }
    assert deploy_findings(mode, sources) == []
    # VALIDATE in the revision that adds the constraint NOT VALID: no lock time saved, whatever env.py says
    same = {
        "r5": (
            "r5.py",
            'op.execute("ALTER TABLE t ADD CONSTRAINT ck_x CHECK (x > 0) NOT VALID")\n'
            'op.execute("ALTER TABLE t VALIDATE CONSTRAINT ck_x")',
        )
    }
    assert [f.rule for f in deploy_findings(mode, same)] == ["deploy-validate-same-transaction"]
    expression = tmp_path / "env.py"
    expression.write_text("context.configure(connection=c, transaction_per_migration=PER_MIGRATION)\n")
    assert deploy_mode(expression, "per-step", 2).env_py == "unknown"


# ------------------------------------------------------------------ non-transactional DDL, time budget


def test_mariadb_rebuilds_after_a_downgrade_failing_halfway(empty_project, mariadb_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))',
        """
        op.drop_column("persons", "nickname")
        op.drop_index("ix_persons_nick", table_name="persons")
        """,
        message="half down",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.add_column("persons", sa.Column("motto", sa.String(80), nullable=True))',
        'op.drop_column("persons", "motto")',
        message="motto",
    )
    result = roundtrip(project, mariadb_url, from_revision="r1", seed_rows=4)
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [
        ("r2", "downgrade", "drop-of-missing-object")
    ], result.model_dump_json(indent=1)
    failure = result.failures[0]
    assert any("persons.nickname" in item for item in failure.applied)  # DDL on MariaDB is not transactional
    assert failure.line == 20 and failure.file == "migrations/versions/r2_half_down.py"
    assert result.rebuilds == ["to r2: r2 failed in downgrade"]  # rebuilt from base, then on to r3
    assert [s.status for s in result.steps] == ["failed in downgrade", "ok"]
    assert result.seed.tables["persons"] == 4
    assert_clean(result, mariadb_url)


def test_time_budget_stops_and_says_where(empty_project, tmp_path):
    import anyio

    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.roundtrip.failures import StopReport, stopped_finding
    from alembic_mcp.tools.worker.protocol import RoundtripArgs
    from alembic_mcp.tools.worker.runner import run_worker

    project = make_project(empty_project)
    url = f"sqlite:///{tmp_path / 'scratch.db'}"
    loaded = load_project(project, {"database_url": f"sqlite:///{tmp_path / 'target.db'}"})
    args = RoundtripArgs(revisions=["r1"], prepare="none", budget_s=1e-9)
    raw = anyio.run(lambda: run_worker(loaded, "roundtrip", args, database_url=url, timeout_s=120))
    assert raw["stopped"] == {"revision": "r1", "reason": "the time budget (timeout_s) ran out"}
    assert raw["steps"] == [] and raw["failures"] == []
    finding = stopped_finding(StopReport(**raw["stopped"]), ["r1"])
    assert finding.rule == "rehearsal-incomplete" and "from_revision" in finding.fix


def test_check_constraint_over_rows_the_history_wrote(empty_project, pg_url):
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        """op.execute("INSERT INTO persons (id, name, email, level) VALUES (500, 'x', 'x@example.org', -5)")""",
        'op.execute("DELETE FROM persons WHERE id = 500")',
        message="odd row",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.create_check_constraint("level_positive", "persons", "level >= 0")',
        'op.drop_constraint("level_positive", "persons", type_="check")',
        message="level check",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=4)
    failure = next(f for f in result.failures if f.revision == "r3")
    assert failure.mode == "check-violation" and failure.operation["op"] == "CreateCheckConstraintOp"
    assert failure.reproduced_without_seed_rows  # the row is the history's own, not a seed row
    assert failure.facts["violating_rows"] == 1 and failure.facts["violating_keys"] == [["500"]]
    finding = next(f for f in result.findings if f.rule == "check-violation")
    assert "500" in finding.message
    assert_clean(result, pg_url)


def test_async_env_goes_on_past_failures(tmp_path, pg_async_url):
    """env.py of `alembic init -t async` opens its own asyncpg connection on every run: rebuilds and probes
    go through a connection of their own."""
    import anyio

    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.roundtrip.tool import test_roundtrip as rehearse

    project = tmp_path / "asyncproj"
    project.mkdir()
    subprocess.run(
        [sys.executable, "-m", "alembic", "init", "-t", "async", "migrations"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    tags = 'op.create_table("tags", sa.Column("label", sa.String(40), nullable=False))'
    write_revision(project, "a1", None, tags, 'op.drop_table("tags")', message="tags")
    slug = 'op.add_column("tags", sa.Column("slug", sa.String(40), nullable=True))'
    write_revision(project, "a2", "a1", slug, 'op.drop_index("ix_tags_slug", table_name="tags")', message="slug")
    to_json = 'op.alter_column("tags", "label", type_=JSONB(), postgresql_using="label::jsonb")'
    to_text = 'op.alter_column("tags", "label", type_=sa.String(40), postgresql_using="label::text")'
    header = "from sqlalchemy.dialects.postgresql import JSONB"
    write_revision(project, "a3", "a2", to_json, to_text, message="json", extra_header=header)
    loaded = load_project(project, {"database_url": pg_async_url})
    result = anyio.run(lambda: rehearse(loaded, from_revision="base", seed_rows=3))
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [
        ("a2", "downgrade", "drop-of-missing-object")
    ], result.model_dump_json(indent=1)
    assert [(s.revision, s.mode) for s in result.seed_limitations] == [("a3", "type-mismatch")]
    assert [s.status for s in result.steps] == ["ok", "failed in downgrade", "ok"]
    assert result.rebuilds == ["to a2: re-running a3 (upgrade) without seed rows"]
    assert result.scratch_database.dropped


# ------------------------------------------------------------------ rebuilds in a reused interpreter

APP_TABLES = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("app_users", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("login", sa.String(40)))
"""
APP_NOTES = """
import sqlalchemy as sa

from residency.app_tables import metadata

sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.Enum("memo", "todo", name="note_kind")),
)
"""
# as Flask-AppBuilder's create_db in superset: the application creates its metadata's tables when it
# finds the database empty, before the migrations run
ENV_APP_CREATES_TABLES = """
def create_app_tables() -> None:
    from residency.app_tables import metadata
    from sqlalchemy import create_engine, inspect

    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.begin() as connection:
        if not inspect(connection).has_table("app_users"):
            metadata.create_all(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    create_app_tables()
    run_migrations_online()
"""


def _history_importing_app_models(project) -> None:
    """a2's file imports the application's model of a table it creates, as superset's revisions import
    superset.models; a3's downgrade is empty, so its re-upgrade fails and the rehearsal rebuilds."""
    (project / "residency" / "app_tables.py").write_text(APP_TABLES)
    (project / "residency" / "app_notes.py").write_text(APP_NOTES)
    env = project / "migrations" / "env.py"
    head, _, _ = env.read_text().rpartition("if context.is_offline_mode():")
    env.write_text(head + ENV_APP_CREATES_TABLES.lstrip("\n"))
    accounts = """
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("app_user_id", sa.Integer(), sa.ForeignKey("app_users.id")),
    )
    """
    write_revision(project, "a1", None, accounts, 'op.drop_table("accounts")', message="accounts")
    notes = """
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.Enum("memo", "todo", name="note_kind")),
    )
    """
    unnotes = 'op.drop_table("notes")\nsa.Enum(name="note_kind").drop(op.get_bind())'
    header = "import residency.app_notes  # noqa: F401"
    write_revision(project, "a2", "a1", notes, unnotes, message="notes", extra_header=header)
    tags = 'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))'
    write_revision(project, "a3", "a2", tags, "pass", message="tags")
    motto = 'op.add_column("accounts", sa.Column("motto", sa.String(80), nullable=True))'
    write_revision(project, "a4", "a3", motto, 'op.drop_column("accounts", "motto")', message="motto")


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_rebuild_starts_where_a_fresh_deploy_starts(request, empty_project, backend):
    """The rebuild's env.py run, in the interpreter that imported a2's models, creates notes (and on
    PostgreSQL its enum type) with the application's tables: they are dropped before the rebuild, so a2
    is not reported as failing to create them (superset: 5a7bad26f2a7 "already exists" after a rebuild)."""
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[backend])
    _history_importing_app_models(empty_project)
    result = roundtrip(empty_project, url, from_revision="base", seed_rows=3)
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [
        ("a3", "re-upgrade", "object-already-exists")
    ], result.model_dump_json(indent=1)
    assert [s.status for s in result.steps] == ["ok", "ok", "failed in re-upgrade", "ok"]
    assert result.stopped is None and len(result.rebuilds) == 1
    rebuild = result.rebuilds[0]
    assert rebuild.startswith("to a3: a3 failed in re-upgrade (dropped ")
    assert "table notes" in rebuild and "app_users" not in rebuild
    if backend == "postgres":
        assert "type note_kind" in rebuild
    assert_clean(result, url)


# ------------------------------------------------------------------ the migration's own code


SWALLOWED_UP = """
try:
    op.drop_constraint("uq_persons_nope", "persons", type_="unique")
except Exception:
    pass  # "it may not exist": on PostgreSQL the transaction is aborted all the same
op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))
"""


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_swallowed_database_error(request, empty_project, backend):
    """superset b4456560d4f3: DDL in try/except. On PostgreSQL the next statement meets an aborted
    transaction: reported at the caught operation, not as an unknown failure inside SQLAlchemy."""
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[backend])
    project = make_project(empty_project)
    write_revision(project, "r2", "r1", SWALLOWED_UP, 'op.drop_column("persons", "nickname")', message="swallow")
    result = roundtrip(project, url, from_revision="r1", seed_rows=3)
    if backend == "sqlite":  # the error is caught and nothing is left aborted
        assert result.failures == [], result.model_dump_json(indent=1)
        return
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [("r2", "upgrade", "swallowed-error")]
    failure = result.failures[0]
    assert (failure.file, failure.line) == ("migrations/versions/r2_swallow.py", 16)  # the drop_constraint
    assert failure.operation["op"] == "DropConstraintOp"
    assert "after the migration caught" in failure.error and "uq_persons_nope" in failure.error
    assert "migration-failure-unclear" not in {e.rule for e in result.escalations}
    assert "swallowed-error" in {f.rule for f in result.findings}
    assert_clean(result, url)


# The column is read under an alias the seeding does not follow (seed_json): the seed rows stay text.
JSON_READ_UP = """
for (doc,) in op.get_bind().execute(sa.text("SELECT name AS doc FROM persons")).all():
    json.loads(doc)  # the application stores JSON in this text column
"""
BROKEN_CODE_UP = """
settings = None
settings.update({"level": 1})
"""


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_migration_code_errors(request, empty_project, backend):
    """superset's json.loads of seeded text is a seed limitation (it passes on the history's own rows);
    an AttributeError of the migration's code that fails without seed rows too is its own mode, not
    a deliberate raise and not unknown."""
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[backend])
    project = make_project(empty_project)
    write_revision(project, "r2", "r1", JSON_READ_UP, "pass", message="json", extra_header="import json")
    write_revision(project, "r3", "r2", "pass", BROKEN_CODE_UP, message="broken code")
    result = roundtrip(project, url, from_revision="r1", seed_rows=3)
    assert [(s.revision, s.phase, s.mode) for s in result.seed_limitations] == [
        ("r2", "upgrade", "migration-code-error")
    ], result.model_dump_json(indent=1)
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [("r3", "downgrade", "migration-code-error")]
    failure = result.failures[0]
    assert (failure.file, failure.line) == ("migrations/versions/r3_broken_code.py", 20)
    assert "'NoneType' object has no attribute 'update'" in failure.error
    assert "deliberate" not in " ".join(e.reason for e in result.escalations)
    assert_clean(result, url)


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_reupgrade_after_an_empty_downgrade_says_so(request, empty_project, backend):
    """mlflow: `def downgrade(): pass`; the re-upgrade's failure names the empty downgrade as its cause."""
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[backend])
    project = make_project(empty_project)
    nickname = 'op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))'
    write_revision(project, "r2", "r1", nickname, "pass", message="one way")
    result = roundtrip(project, url, from_revision="r1", seed_rows=3)
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [
        ("r2", "re-upgrade", "object-already-exists")
    ]
    assert result.failures[0].facts["downgrade_empty"] is True
    finding = next(f for f in result.findings if f.rule == "object-already-exists")
    assert "downgrade() is empty" in finding.message and "raise" in finding.fix
    assert_clean(result, url)


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_type_mismatch_in_raw_sql_names_table_and_column(request, empty_project, backend):
    """airflow 0017: an UPDATE writing VARCHAR into an integer column through op.execute has no
    operation to read the table from: the facts come from the error and the statement."""
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[backend])
    project = make_project(empty_project)
    update = """op.execute("UPDATE persons SET level = CAST('0' AS VARCHAR(10))")"""
    write_revision(project, "r2", "r1", update, "pass", message="level text")
    result = roundtrip(project, url, from_revision="r1", seed_rows=3)
    if backend == "sqlite":  # SQLite stores the text as it is
        assert result.failures == [], result.model_dump_json(indent=1)
        return
    failure = result.failures[0]
    assert (failure.revision, failure.direction, failure.mode) == ("r2", "upgrade", "type-mismatch")
    assert failure.reproduced_without_seed_rows  # PostgreSQL checks the types before it reads a row
    facts = failure.facts
    assert (facts["table"], facts["column"], facts["column_type"]) == ("persons", "level", "integer")
    assert facts["expression_type"] == "character varying"
    finding = next(f for f in result.findings if f.rule == "type-mismatch")
    assert "persons.level (column of type integer, given character varying)" in finding.message
    assert_clean(result, url)


COUNTED_UP = """
CALLS.append(1)
if len(CALLS) == 3:  # upgrade, re-upgrade, then the rebuild's prepare
    raise RuntimeError("refusing a third run in one process")
op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))
"""


def test_failure_while_rebuilding_is_not_compared_with_an_unrelated_reading(empty_project, sqlite_url):
    """A step failing in a rebuild's prepare left nothing measurable: no "failed halfway" from comparing
    with the reading the previous failed step took."""
    project = make_project(empty_project)
    write_revision(project, "r2", "r1", COUNTED_UP, 'op.drop_column("persons", "nickname")', extra_header="CALLS = []")
    tags = 'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))'
    write_revision(project, "r3", "r2", tags, "pass", message="tags")
    motto = 'op.add_column("persons", sa.Column("motto", sa.String(80), nullable=True))'
    write_revision(project, "r4", "r3", motto, 'op.drop_column("persons", "motto")', message="motto")
    result = roundtrip(project, sqlite_url, from_revision="base", seed_rows=0)
    assert [(f.revision, f.phase) for f in result.failures] == [("r3", "re-upgrade"), ("r2", "prepare")]
    assert result.failures[1].applied == []
    assert "migration-failed-midway" not in {f.rule for f in result.findings}
    assert_clean(result, sqlite_url)


SWALLOWED_QUERY_DOWN = """
try:  # superset 07071313dd52: a session query over columns this revision does not have yet
    op.get_bind().execute(sa.text("SELECT no_such_column FROM persons"))
except Exception:
    pass
op.drop_column("persons", "nickname")
"""


def test_swallowed_error_of_a_raw_statement(empty_project, pg_url):
    """The caught error came from a statement, not an op.* call: still swallowed-error, naming it."""
    project = make_project(empty_project)
    nickname = 'op.add_column("persons", sa.Column("nickname", sa.String(50), nullable=True))'
    write_revision(project, "r2", "r1", nickname, SWALLOWED_QUERY_DOWN, message="query")
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=3)
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [("r2", "downgrade", "swallowed-error")]
    failure = result.failures[0]
    assert "after the migration caught UndefinedColumn" in failure.error and "no_such_column" in failure.error
    assert (failure.file, failure.line) == ("migrations/versions/r2_query.py", 23)  # the statement that met it
    assert_clean(result, pg_url)


LATENT_CODE_UP = """
for row in op.get_bind().execute(sa.text("SELECT name FROM persons")).all():
    row.datasource  # the frozen model of the file lacks it: any database with rows crashes here
"""


def test_code_error_on_seed_rows_is_the_migrations(empty_project, sqlite_url):
    """superset c3a8f8611885: code that crashes on any row and passes only on an empty table is latent in
    the migration (real rows crash it the same way), not a seed limitation; only a value the migration
    cannot parse (json.loads of generated text) is."""
    project = make_project(empty_project)
    write_revision(project, "r2", "r1", LATENT_CODE_UP, "pass", message="latent")
    result = roundtrip(project, sqlite_url, from_revision="r1", seed_rows=3)
    assert result.seed_limitations == [], result.model_dump_json(indent=1)
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [("r2", "upgrade", "migration-code-error")]
    assert result.failures[0].on_seed_rows
    assert_clean(result, sqlite_url)
