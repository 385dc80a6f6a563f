"""review_migration end to end: revision selection, database facts on real PostgreSQL / MariaDB /
SQLite with rows, the squawk layer, and the MCP tool in both client modes with bad input.
"""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
import pytest
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.review.tool import review_migration, review_source

HEAD = "b2e1d1ce0002"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def upgrade_head(project, url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )


def execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def review(project, url: str | None, **kwargs):
    return anyio.run(lambda: review_migration(load_project(project, {"database_url": url} if url else {}), **kwargs))


def rules(result) -> dict[str, object]:
    return {f.rule: f for f in result.findings}


PEOPLE = (
    "INSERT INTO persons (id, name, email, role) VALUES (1, 'Ann', 'a@x', 'resident'), "
    "(2, 'Bob', 'b@x', 'faculty'), (3, 'Cy', 'c@x', 'resident')"
)


def drop_pgy(project) -> None:
    write_revision(
        project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.drop_column("persons", "pgy_level")',
        downgrade='op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
        message="drop pgy level",
    )


# ------------------------------------------------------------------ PostgreSQL with rows


@pytest.mark.postgres
def test_pg_drop_empty_column_vs_filled(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, PEOPLE)
    drop_pgy(example_project)
    result = review(example_project, pg_url)
    assert [r.revision for r in result.revisions] == ["c3c3c3c30003"]  # only the pending revision
    assert result.database.status == "checked" and result.database.current == [HEAD]
    assert "drop-column" in rules(result)
    assert "holds no values" in rules(result)["drop-column"].message
    assert not any(e.rule == "drop-column-with-data" for e in result.escalations)
    assert result.revisions[0].layers == ["ast", "sql", "database"]

    execute(pg_url, "UPDATE persons SET pgy_level = 2 WHERE id IN (1, 3)")
    result = review(example_project, pg_url)
    escalation = next(e for e in result.escalations if e.rule == "drop-column-with-data")
    assert escalation.evidence["non_null_values"] == 2
    assert result.verdict == "escalate" and result.escalate_to_human


@pytest.mark.postgres
def test_pg_not_null_add_on_empty_vs_filled_table(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        'op.add_column("rotations", sa.Column("code", sa.String(10), nullable=False))',
        downgrade='op.drop_column("rotations", "code")',
        message="rotation code",
    )
    result = review(example_project, pg_url)
    finding = rules(result)["add-column-required"]
    assert finding.severity == "warning" and "empty" in finding.message
    assert result.verdict == "proceed"

    execute(pg_url, "INSERT INTO rotations (id, name) VALUES (1, 'ICU'), (2, 'ER')")
    result = review(example_project, pg_url)
    finding = rules(result)["add-column-required"]
    assert finding.severity == "error" and "2 rows" in finding.message
    assert "nullable=True" in finding.fix and "nullable=False" in finding.fix
    assert result.verdict == "fix"


@pytest.mark.postgres
def test_pg_fk_over_orphan_rows_reports_count_and_ids(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(
        pg_url,
        PEOPLE,
        "INSERT INTO rotations (id, name) VALUES (1, 'ICU')",
        "ALTER TABLE assignments DROP CONSTRAINT fk_assignments_person_id_persons",
        "INSERT INTO assignments (id, person_id, rotation_id, starts_on, ends_on) VALUES "
        "(10, 1, 1, '2026-01-01', '2026-02-01'), (11, 99, 1, '2026-01-01', '2026-02-01'), "
        "(12, 98, 1, '2026-01-01', '2026-02-01')",
    )
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.create_foreign_key("fk_assignments_person_id_persons", "assignments", "persons", '
        '["person_id"], ["id"])',
        downgrade='op.drop_constraint("fk_assignments_person_id_persons", "assignments", type_="foreignkey")',
        message="restore fk",
    )
    result = review(example_project, pg_url)
    finding = rules(result)["fk-not-valid-missing"]
    assert finding.severity == "error"
    assert "2 orphan row(s)" in finding.message and "11, 12" in finding.message


@pytest.mark.postgres
def test_pg_unique_constraint_duplicates_and_null_counts(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, PEOPLE)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.create_unique_constraint("uq_persons_role", "persons", ["role"])\n'
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)',
        downgrade='op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)\n'
        'op.drop_constraint("uq_persons_role", "persons", type_="unique")',
        message="uniq",
    )
    found = rules(review(example_project, pg_url))
    assert "1 duplicated value(s) (2 rows)" in found["add-unique-constraint"].message
    assert "resident" in found["add-unique-constraint"].message
    assert "3 of 3 rows hold NULL" in found["set-not-null"].message


@pytest.mark.postgres
def test_pg_unique_constraint_without_duplicates_is_a_warning(example_project, pg_url):
    """Corpus (airflow 0047): "No duplicates today" left the finding an error; only a short lock is left."""
    upgrade_head(example_project, pg_url)
    execute(pg_url, PEOPLE)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.create_unique_constraint("uq_persons_email", "persons", ["email"])',
        downgrade='op.drop_constraint("uq_persons_email", "persons", type_="unique")',
        message="uniq email",
    )
    finding = rules(review(example_project, pg_url))["add-unique-constraint"]
    assert finding.severity == "warning"
    assert "No duplicates today" in finding.message and "3 rows" in finding.message


@pytest.mark.postgres
def test_pg_squawk_layer_and_include_sql(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.create_index("ix_persons_name", "persons", ["name"])\n'
        'op.execute("ALTER TABLE persons ALTER COLUMN name TYPE text")',
        downgrade='op.drop_index("ix_persons_name", table_name="persons")',
        message="ix",
    )
    result = review(example_project, pg_url, include_sql=True)
    rev = result.revisions[0]
    assert "CREATE INDEX ix_persons_name ON persons (name)" in rev.sql
    ours = [f.rule for f in rev.findings]
    assert ours.count("create-index-non-concurrent") == 1  # layer 1 and squawk merged, not duplicated
    # squawk sees inside the raw ALTER ... TYPE that layer 1 treats as opaque DDL
    assert "change-column-type" in ours


def test_unreachable_database_assumes_data(example_project):
    drop_pgy(example_project)
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    result = review(example_project, url)
    assert result.database.status == "unreachable"
    assert [r.revision for r in result.revisions] == ["c3c3c3c30003"]  # the heads
    assert any(e.rule == "drop-column-with-data" for e in result.escalations)
    assert "assumed to hold data" in rules(result)["drop-column"].message


# ------------------------------------------------------------------ SQLite and MariaDB: layers 1, 3, 4


def test_sqlite_layers_and_counts(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    execute(sqlite_url, PEOPLE, "UPDATE persons SET pgy_level = 1")
    drop_pgy(example_project)
    result = review(example_project, sqlite_url)
    assert result.revisions[0].layers == ["ast", "database"]
    assert next(e for e in result.escalations if e.rule == "drop-column-with-data").evidence["non_null_values"] == 3
    assert "missing-lock-timeout" not in rules(result)  # PostgreSQL-only rules stay quiet


@pytest.mark.mariadb
def test_mariadb_layers_and_counts(example_project, mariadb_url):
    upgrade_head(example_project, mariadb_url)
    execute(mariadb_url, PEOPLE)
    drop_pgy(example_project)
    result = review(example_project, mariadb_url)
    assert result.revisions[0].layers == ["ast", "database"]
    assert not any(e.rule == "drop-column-with-data" for e in result.escalations)
    execute(mariadb_url, "UPDATE persons SET pgy_level = 4 WHERE id = 2")
    result = review(example_project, mariadb_url)
    assert next(e for e in result.escalations if e.rule == "drop-column-with-data").evidence["non_null_values"] == 1


# ------------------------------------------------------------------ policy


def test_production_protected_and_audit_escalate(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.add_column("acgme_compliance", sa.Column("note", sa.Text(), nullable=True))\n'
        'op.add_column("audit_log", sa.Column("ip", sa.String(45), nullable=True))',
        downgrade='op.drop_column("audit_log", "ip")\nop.drop_column("acgme_compliance", "note")',
        message="notes",
    )
    project = load_project(
        example_project,
        {"database_url": sqlite_url, "protected_tables": ["acgme_*"], "environment": "production"},
    )
    result = anyio.run(lambda: review_migration(project))
    assert {e.rule for e in result.escalations} == {"production-database", "protected-table", "audit-trail"}


def test_suppression_listed_in_result(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.drop_column("persons", "pgy_level")  '
        "# alembic-mcp: ignore[drop-column] reason: never populated, checked with ops",
        downgrade='op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
    )
    result = review(example_project, sqlite_url)
    assert "drop-column" not in rules(result)
    assert not result.escalations and result.verdict == "proceed"
    assert result.suppressions[0].rule == "drop-column" and "never populated" in result.suppressions[0].reason


# ------------------------------------------------------------------ selection


def test_revision_syntax(example_project):
    drop_pgy(example_project)
    ids = lambda **kw: [r.revision for r in review(example_project, None, **kw).revisions]  # noqa: E731
    assert ids(revision="base:head") == ["a1f0c0de0001", HEAD, "c3c3c3c30003"]
    assert ids(revision="a1f0") == ["a1f0c0de0001"]
    assert ids(revision="head") == ["c3c3c3c30003"]
    assert ids(revision=f"{HEAD}:head") == [HEAD, "c3c3c3c30003"]
    assert ids(path="migrations/versions/c3c3c3c30003_drop_pgy_level.py") == ["c3c3c3c30003"]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"revision": "zzzz"}, "cannot be resolved"),
        ({"revision": "  "}, "revision is empty"),
        ({"path": "../../etc/passwd"}, "outside the versions"),
        ({"path": "alembic.ini"}, "outside the versions"),
        ({"path": "migrations/versions/nope.py"}, "does not exist"),
        ({"path": "migrations/versions/notes.py"}, "not an Alembic migration"),
        ({"path": "migrations/versions/broken.py"}, "syntax error at line 3"),
        ({"revision": "head", "path": "migrations/versions/notes.py"}, "not both"),
    ],
)
def test_bad_arguments(example_project, kwargs, fragment):
    (example_project / "migrations/versions/notes.py").write_text("x = 1\n")
    (example_project / "migrations/versions/broken.py").write_text('revision = "x"\n\ndef upgrade(:\n')
    with pytest.raises(InvalidArgument, match=fragment):
        review(example_project, None, **kwargs)


# ------------------------------------------------------------------ MCP, both client modes


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_mcp_review_and_bad_input(example_project, sqlite_url, mode):
    from mcp import Client

    from alembic_mcp.server.app import build_server

    drop_pgy(example_project)
    (example_project / "migrations/versions/notes.py").write_text("x = 1\n")
    (example_project / "migrations/versions/broken.py").write_text('revision = "x"\n\ndef upgrade(:\n')
    async with Client(build_server(str(example_project), {"database_url": sqlite_url}), mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        tool = tools["review_migration"]
        assert not tool.annotations.read_only_hint and not tool.annotations.destructive_hint  # apply_fixes writes
        assert not tool.annotations.idempotent_hint and not tool.annotations.open_world_hint
        props = tool.input_schema["properties"]
        assert all(props[name].get("description") for name in ("revision", "path", "include_sql"))

        r = await client.call_tool("review_migration", {"revision": "c3c3"})
        assert not r.is_error
        data = r.structured_content
        assert data["verdict"] == "escalate" and data["revisions"][0]["revision"] == "c3c3c3c30003"
        assert any(e["rule"] == "drop-column-with-data" for e in data["escalations"])
        # each finding once: in the top-level list, counted (not repeated) per revision
        revision = data["revisions"][0]
        assert not {"findings", "escalations", "suppressions"} & set(revision)
        assert revision["counts"]["escalations"] == len(data["escalations"]) >= 1

        bad = [
            ({"revision": "nope"}, "cannot be resolved"),
            ({"path": "/etc/passwd"}, "outside the versions"),
            ({"path": "migrations/versions/notes.py"}, "not an Alembic migration"),
            ({"path": "migrations/versions/broken.py"}, "syntax error"),
            ({"revision": 123}, "revision"),
            ({"path": ["a"]}, "path"),
            ({"include_sql": "maybe"}, "include_sql"),
        ]
        for args, fragment in bad:
            r = await client.call_tool("review_migration", args)
            assert r.is_error, args
            assert fragment in r.content[0].text, (args, r.content[0].text)
            assert "Traceback" not in r.content[0].text
        # the render imports only the revision and the one below it: a broken sibling does not stop it
        rel = "migrations/versions/c3c3c3c30003_drop_pgy_level.py"
        r = await client.call_tool("review_migration", {"path": rel, "include_sql": True})
        assert not r.is_error
        assert "DROP COLUMN pgy_level" in r.structured_content["revisions"][0]["sql"]
        # a revision that cannot be imported stops offline rendering: a finding, not offline-unsafe
        (example_project / "migrations/versions/broken.py").unlink()
        (example_project / "migrations/versions/notes.py").unlink()
        path = example_project / rel
        source = path.read_text()
        path.write_text(source.replace("from alembic import op\n", "from alembic import op\nimport nowhere_x\n"))
        r = await client.call_tool("review_migration", {"path": rel, "include_sql": True})
        assert not r.is_error
        assert "render-failed" in {f["rule"] for f in r.structured_content["findings"]}
        assert "offline-unsafe" not in {f["rule"] for f in r.structured_content["findings"]}


def test_cli_review_migration(example_project, sqlite_url):
    drop_pgy(example_project)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic_mcp.server.cli",
            "review-migration",
            "--project",
            str(example_project),
            "--database-url",
            sqlite_url,
            "--revision",
            "c3c3",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr  # escalate
    assert '"drop-column-with-data"' in proc.stdout
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic_mcp.server.cli",
            "review-migration",
            "--project",
            str(example_project),
            "--revision",
            "nope",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3 and "cannot be resolved" in proc.stderr


def test_inverse_fix_restores_the_earlier_definition(example_project):
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.drop_column("persons", "pgy_level")\nop.drop_table("rotations")',
        downgrade="pass",
    )
    result = review(example_project, None, revision="c3c3")
    fix = rules(result)["empty-downgrade"].fix
    assert "op.add_column('persons', sa.Column('pgy_level', sa.Integer(), nullable=True))" in fix
    assert "op.create_table('rotations', sa.Column('id', sa.Integer(), nullable=False)" in fix


def test_large_data_migration_threshold(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    execute(sqlite_url, PEOPLE)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"UPDATE persons SET role = 'resident' WHERE role = 'faculty'\")\n"
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=False))',
        downgrade='op.drop_column("persons", "nick")',
        message="backfill",
    )
    small = review(example_project, sqlite_url)
    assert rules(small)["unbatched-backfill"].severity == "info"  # 3 rows: below the warn threshold
    assert not any(e.rule == "large-data-migration" for e in small.escalations)
    project = load_project(example_project, {"database_url": sqlite_url, "large_migration_rows": 2})
    large = anyio.run(lambda: review_migration(project))
    evidence = [e.evidence for e in large.escalations if e.rule == "large-data-migration"]
    assert evidence == [{"table": "persons", "rows": 3}, {"table": "persons", "rows": 3}]


@pytest.mark.postgres
def test_pg_revision_that_reads_rows_is_offline_unsafe_not_a_failure(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='ids = [row[0] for row in op.get_bind().execute(sa.text("SELECT id FROM persons"))]\n'
        "for i in ids:\n"
        '    op.execute(sa.text("UPDATE persons SET role = :r WHERE id = :i").bindparams(r="x", i=i))',
        downgrade="pass  # data only: nothing to undo",
        message="reads",
    )
    write_revision(
        example_project,
        "d4d4d4d40004",
        "c3c3c3c30003",
        upgrade='op.create_index("ix_persons_role", "persons", ["role"])',
        downgrade='op.drop_index("ix_persons_role", table_name="persons")',
        message="ix",
    )
    result = review(example_project, pg_url, include_sql=True)
    first, second = result.revisions
    unsafe = [f for f in first.findings if f.rule == "offline-unsafe"]
    assert len(unsafe) == 1 and unsafe[0].severity == "info"
    assert "sql" not in first.layers or first.sql is not None
    # the next revision still renders and gets the squawk layer
    assert "CREATE INDEX ix_persons_role" in second.sql and "sql" in second.layers


def test_metadata_without_naming_convention_reported(example_project, sqlite_url):
    """Once, where the models' MetaData lives, and only for a revision that creates constraints."""
    drop_pgy(example_project)
    models = example_project / "residency" / "models.py"
    models.write_text(models.read_text().replace("MetaData(naming_convention=NAMING_CONVENTION)", "MetaData()"))
    assert "unnamed-constraint" not in rules(review(example_project, sqlite_url, revision="c3c3", include_sql=True))
    write_revision(
        example_project,
        "d4d4d4d40004",
        "c3c3c3c30003",
        upgrade='op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("person_id", sa.Integer(), sa.ForeignKey("persons.id", name="fk_tags_person_id")))',
        downgrade='op.drop_table("tags")',
    )
    result = review(example_project, sqlite_url, revision="d4d4", include_sql=True)
    [finding] = [f for f in result.findings if f.rule == "unnamed-constraint" and f.table is None]
    assert finding.file == "residency/models.py" and "uq, fk, ck, pk" in finding.message
    assert "residency/models.py" in finding.fix
    models.write_text(models.read_text().replace("MetaData()", "MetaData(naming_convention=NAMING_CONVENTION)"))
    assert "unnamed-constraint" not in rules(review(example_project, sqlite_url, revision="d4d4", include_sql=True))


def test_suppressed_rule_not_brought_back_by_squawk(example_project):
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        'op.create_index("ix_persons_name", "persons", ["name"])  '
        "# alembic-mcp: ignore[create-index-non-concurrent] reason: persons has 40 rows, ever",
        downgrade='op.drop_index("ix_persons_name", table_name="persons")',
        message="ix",
    )
    result = review(example_project, "postgresql+psycopg://postgres@127.0.0.1:1/nowhere", revision="c3c3")
    assert "sql" in result.revisions[0].layers  # squawk ran (rendering needs no connection)
    assert "create-index-non-concurrent" not in rules(result)
    assert [s.rule for s in result.suppressions] == ["create-index-non-concurrent"]


def test_nothing_pending_when_database_at_head(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    result = review(example_project, sqlite_url)
    assert result.revisions == [] and result.verdict == "proceed"
    assert "Nothing to review" in result.summary
    assert result.database.current == [HEAD]


def test_lock_timeout_set_in_env_py_counts(example_project):
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        downgrade='op.drop_column("persons", "nick")',
        message="nick",
    )
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    assert "missing-lock-timeout" in rules(review(example_project, url, revision="c3c3"))
    env = example_project / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(
            "def run_migrations_online",
            "LOCK_SQL = \"SET lock_timeout = '5s'\"  # run by the deploy hook\n\n\ndef run_migrations_online",
        )
    )
    result = review(example_project, url, revision="c3c3")
    assert "missing-lock-timeout" not in rules(result)  # neither layer 1 nor squawk


def test_recursive_version_locations(example_project):
    ini = example_project / "alembic.ini"
    ini.write_text(
        ini.read_text().replace("# recursive_version_locations = false", "recursive_version_locations = true")
    )
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.drop_column("persons", "pgy_level")',
        downgrade='op.add_column("persons", sa.Column("pgy_level", sa.Integer()))',
        versions="migrations/versions/2026",
        message="drop pgy",
    )
    result = review(example_project, None, revision="base:head")
    assert [r.revision for r in result.revisions][-1] == "c3c3c3c30003"
    assert not [f for f in result.findings if f.rule == "missing-parent"]


def test_computed_revision_id_falls_back_to_the_worker(example_project):
    path = write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.drop_column("persons", "pgy_level")',
        downgrade='op.add_column("persons", sa.Column("pgy_level", sa.Integer()))',
    )
    path.write_text(path.read_text().replace("revision = 'c3c3c3c30003'", "revision = 'c3c3' + 'c3c30003'"))
    result = review(example_project, None, revision="c3c3c3c30003")
    assert [r.revision for r in result.revisions] == ["c3c3c3c30003"]
    assert "drop-column" in rules(result)
    result = review(example_project, None, path=str(path))
    assert [r.revision for r in result.revisions] == ["c3c3c3c30003"]
    assert result.revisions[0].down_revisions == [HEAD]


@pytest.mark.parametrize(
    "revision, fragment",
    [
        ("head-1", "relative revisions"),
        (f"c3c3c3c30003:{HEAD}", "not an ancestor"),
        ("base", "selects no revision"),
    ],
)
def test_revision_syntax_errors(example_project, revision, fragment):
    drop_pgy(example_project)
    with pytest.raises(InvalidArgument, match=fragment):
        review(example_project, None, revision=revision)


def test_ambiguous_prefix_and_head_with_two_heads(example_project):
    drop_pgy(example_project)
    write_revision(
        example_project,
        "c3c3c3c30099",
        HEAD,
        upgrade='op.drop_column("persons", "role")',
        downgrade='op.add_column("persons", sa.Column("role", sa.String(20)))',
        message="b",
    )
    with pytest.raises(InvalidArgument, match="matches several"):
        review(example_project, None, revision="c3c3")
    with pytest.raises(InvalidArgument, match="'head' is ambiguous"):
        review(example_project, None, revision="head")
    assert [r.revision for r in review(example_project, None, revision="heads").revisions] == [
        "c3c3c3c30003",
        "c3c3c3c30099",
    ]


def test_rename_column_judged_against_the_models(example_project, sqlite_url):
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.alter_column("persons", "pgy_level", new_column_name="pgy")',
        downgrade='op.alter_column("persons", "pgy", new_column_name="pgy_level")',
        message="rename",
    )
    result = review(example_project, sqlite_url, revision="c3c3")
    escalation = next(e for e in result.escalations if e.rule == "breaking-api-change")
    assert "models still use persons.pgy_level" in escalation.reason
    models = example_project / "residency" / "models.py"
    models.write_text(models.read_text().replace("pgy_level = Column(", "pgy = Column("))
    result = review(example_project, sqlite_url, revision="c3c3")
    assert not result.escalations and result.verdict == "proceed"
    assert "already use the new name" in rules(result)["rename-column"].message


# ------------------------------------------------------------------ review_source: source not on disk


def _unwritten(example_project, upgrade: str, downgrade: str):
    """A migration written, read back and removed again: its source and the path it would have."""
    path = write_revision(example_project, "c3c3c3c30003", HEAD, upgrade=upgrade, downgrade=downgrade, message="ix")
    source = path.read_text()
    path.unlink()
    return source, path


def _comparable(result):
    return sorted((f.rule, f.severity, f.file, f.line, f.table, f.column, f.message) for f in result.findings)


@pytest.mark.postgres
def test_review_source_matches_review_of_the_written_file(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, PEOPLE, "UPDATE persons SET pgy_level = 2 WHERE id = 1")
    source, path = _unwritten(
        example_project,
        'op.create_index("ix_persons_name", "persons", ["name"])\nop.drop_column("persons", "pgy_level")',
        'op.drop_index("ix_persons_name", table_name="persons")',
    )
    before = sorted(p.name for p in path.parent.iterdir())
    project = load_project(example_project, {"database_url": pg_url})

    unwritten = anyio.run(lambda: review_source(project, source, path, include_sql=True))

    assert sorted(p.name for p in path.parent.iterdir()) == before  # nothing written into the project
    rev = unwritten.revisions[0]
    assert rev.revision == "c3c3c3c30003" and rev.file == "migrations/versions/c3c3c3c30003_ix.py"
    assert rev.layers == ["ast", "sql", "database"]  # the render worker imported the temporary copy
    assert "CREATE INDEX ix_persons_name ON persons (name)" in rev.sql
    assert [f.rule for f in rev.findings].count("create-index-non-concurrent") == 1
    # the inverse fix restores the column as the earlier revision defined it (history below the source)
    assert "sa.Column('pgy_level', sa.Integer(), nullable=True)" in rules(unwritten)["downgrade-not-inverse"].fix
    assert [e.evidence["non_null_values"] for e in unwritten.escalations if e.rule == "drop-column-with-data"] == [1]

    path.write_text(source)
    written = review(example_project, pg_url, path=str(path), include_sql=True)
    assert _comparable(unwritten) == _comparable(written)
    assert unwritten.verdict == written.verdict == "escalate"


def test_review_source_on_sqlite_without_database_file(example_project, tmp_path):
    source, path = _unwritten(
        example_project,
        'with op.batch_alter_table("persons") as batch_op:\n'
        '    batch_op.add_column(sa.Column("badge", sa.String(20), nullable=False))',
        'with op.batch_alter_table("persons") as batch_op:\n    batch_op.drop_column("badge")',
    )
    missing = tmp_path / "never.db"
    project = load_project(example_project, {"database_url": f"sqlite:///{missing}"})
    result = anyio.run(lambda: review_source(project, source, path))
    finding = rules(result)["add-column-required"]
    assert finding.severity == "error" and finding.line == 16
    assert "batch_op.alter_column('badge', existing_type=sa.String(20), nullable=False)" in finding.fix
    assert not missing.exists()  # reading the target never creates its file


@pytest.mark.parametrize(
    "source, where, fragment",
    [
        ("def upgrade(:\n", "migrations/versions/x.py", "syntax error at line 1"),
        ("x = 1\n", "migrations/versions/x.py", "is not an Alembic migration"),
        (
            "revision = 'a' + 'b'\ndown_revision = None\n\ndef upgrade():\n    pass\n",
            "migrations/versions/x.py",
            "literal string",
        ),
        (
            "revision = 'x1'\ndown_revision = None\n\ndef upgrade():\n    pass\n",
            "elsewhere/x.py",
            "outside the versions directories",
        ),
    ],
)
def test_review_source_bad_input(example_project, source, where, fragment):
    project = load_project(example_project, {})
    with pytest.raises(InvalidArgument, match=fragment):
        anyio.run(lambda: review_source(project, source, where))


@pytest.mark.parametrize(
    ("header", "before"),
    [
        ("", "sa.String = lambda n: sa.Integer()"),  # the name the review reads now builds another type
        ("", "setattr(sa, 'String', lambda n: sa.Integer())"),
        ("import residency.models as sb\n", ""),  # a look-alike: sb.String is not read as SQLAlchemy's
    ],
)
@pytest.mark.parametrize("url", ["sqlite_url", "pg_url"])
def test_a_type_the_review_cannot_trust_keeps_the_escalation(request, example_project, header, before, url):
    """Models that declare the new type lift breaking-api-change only for a type the review can read as
    SQLAlchemy's: not when the file rewrites what sa.String means, nor for a name imported from elsewhere."""
    models = example_project / "residency" / "models.py"
    models.write_text(models.read_text().replace("pgy_level = Column(Integer", "pgy_level = Column(String(10)"))
    prefix = "sb" if header else "sa"
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade=f"{before}\nop.alter_column('persons', 'pgy_level', type_={prefix}.String(10), "
        "existing_type=sa.Integer())",
        downgrade="op.alter_column('persons', 'pgy_level', type_=sa.Integer(), existing_type=sa.String(10))",
        message="retype",
        extra_header=header,
    )
    result = review(example_project, request.getfixturevalue(url), revision="c3c3")
    assert result.verdict == "escalate", result.summary
    assert {e.rule for e in result.escalations} & {"breaking-api-change", "uninspectable-sql"}


def test_type_change_judged_against_the_models(example_project, sqlite_url):
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.alter_column("persons", "pgy_level", type_=sa.String(10), existing_type=sa.Integer())',
        downgrade='op.alter_column("persons", "pgy_level", type_=sa.Integer(), existing_type=sa.String(10))',
        message="retype",
    )
    result = review(example_project, sqlite_url, revision="c3c3")
    escalation = next(e for e in result.escalations if e.rule == "breaking-api-change")
    assert "models declare persons.pgy_level as INTEGER, not the new VARCHAR(10)" in escalation.reason
    assert escalation.evidence["models_declare"] == "INTEGER"
    models = example_project / "residency" / "models.py"
    models.write_text(models.read_text().replace("pgy_level = Column(Integer", "pgy_level = Column(String(10)"))
    result = review(example_project, sqlite_url, revision="c3c3")
    assert not result.escalations and result.verdict == "proceed"
    assert "models already declare VARCHAR(10)" in rules(result)["change-column-type"].message
