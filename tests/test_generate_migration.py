"""generate_migration on real PostgreSQL and SQLite, with copies of the residency example project.

Models are edited in the copy (residency/models.py) as an agent would; the target database is brought
to head with the real ``alembic`` command in a subprocess (never imported into the test process).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.generate.tool import generate_migration

HEAD = "b2e1d1ce0002"
PGY_LINE = "    pgy_level = Column(Integer, nullable=True)\n"


def alembic(project: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=url)
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "alembic.ini", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def upgrade_target(project: Path, url: str, people: int = 0) -> None:
    alembic(project, url, "upgrade", "head")
    if people:
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            for i in range(people):
                conn.execute(
                    text("INSERT INTO persons (name, email, role, pgy_level) VALUES (:n, :e, 'resident', 2)"),
                    {"n": f"Resident {i}", "e": f"r{i}@example.org"},
                )
        engine.dispose()


def fingerprint(url: str) -> dict:
    """Tables, their columns and row counts, and the Alembic revision of a database."""
    from sqlalchemy import inspect

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        inspector = inspect(conn)
        out = {
            t: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(t)],
                conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one(),
            )
            for t in sorted(inspector.get_table_names())
        }
        out["version"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    return out


def edit_models(project: Path, old: str, new: str) -> None:
    path = project / "residency" / "models.py"
    source = path.read_text()
    assert old in source, old
    path.write_text(source.replace(old, new, 1))


def add_person_column(project: Path, line: str) -> None:
    edit_models(project, PGY_LINE, PGY_LINE + f"    {line}\n")


def generate(project: Path, url: str | None, read_only_url: str | None = None, **kwargs):
    overrides = {"database_url": url, "target_read_only_url": read_only_url} if url else None
    loaded = load_project(project, overrides)
    return anyio.run(lambda: generate_migration(loaded, **kwargs))


def versions(project: Path) -> set[str]:
    return {p.name for p in (project / "migrations" / "versions").glob("*.py")}


def rules(result) -> dict[str, object]:
    return {f.rule: f for f in result.findings}


def without_date(text_: str) -> str:
    return re.sub(r"^Create Date: .*$", "", text_, flags=re.M)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def target_url(request):
    return request.getfixturevalue(
        {"sqlite": "sqlite_url", "postgresql": "pg_url", "mariadb": "mariadb_url"}[request.param]
    )


# --- the main paths ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_nullable_column_proceeds_and_matches_alembic(example_project, target_url, tmp_path):
    upgrade_target(example_project, target_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    twin = tmp_path / "twin"
    shutil.copytree(example_project, twin)
    before = versions(example_project)

    result = generate(example_project, target_url, message="add middle_name to persons", rev_id="c3d4e5f60003")

    assert result.verdict == "proceed", result.findings
    assert result.written and result.revision == "c3d4e5f60003" and result.down_revision == [HEAD]
    assert [(o.op, o.table, o.column) for o in result.operations] == [("add_column", "persons", "middle_name")]
    assert result.operations[0].detail["nullable"] is True
    new_files = versions(example_project) - before
    assert new_files == {"c3d4e5f60003_add_middle_name_to_persons.py"}
    assert result.file == "migrations/versions/c3d4e5f60003_add_middle_name_to_persons.py"
    assert "add_column" in result.upgrade_source and "drop_column" in result.downgrade_source
    assert result.upgrade_source.startswith("def upgrade()")
    assert result.files_to_commit == [result.file]
    assert result.review_verdict == "proceed"
    assert "scratch database" in result.compared_with and f"upgraded to {HEAD}" in result.compared_with

    # Alembic's own autogenerate for the same change writes the same file (apart from the date).
    alembic(
        twin,
        target_url,
        "revision",
        "--autogenerate",
        "-m",
        "add middle_name to persons",
        "--rev-id",
        "c3d4e5f60003",
    )
    ours = (example_project / result.file).read_text()
    theirs = (twin / result.file).read_text()
    assert without_date(ours) == without_date(theirs)
    # The target was only read: still at the old head, no new column.
    assert alembic(example_project, target_url, "current").stdout.split()[0] == HEAD


@pytest.mark.postgres
def test_not_null_column_on_table_with_rows_is_fix_with_three_phases(example_project, target_url):
    upgrade_target(example_project, target_url, people=3)
    add_person_column(example_project, "badge = Column(String(20), nullable=False)")

    result = generate(example_project, target_url, message="add badge")

    assert result.verdict == "fix"
    assert not any("Commit together" in step for step in result.next_steps)
    finding = rules(result)["add-column-required"]
    assert finding.severity == "error" and finding.table == "persons" and finding.column == "badge"
    assert "persons has 3 rows in the target database" in finding.message
    assert "three-phase" in finding.fix and "nullable=True" in finding.fix and "UPDATE persons SET badge" in finding.fix
    assert "nullable=False" in finding.fix
    if target_url.startswith("sqlite"):  # the generated file uses batch mode there, so does the fix
        assert "batch_op.alter_column('badge'" in finding.fix
    assert result.written and result.review_verdict == "fix"
    # review_migration itself reviewed the written file: AST rules and the target's row counts
    assert {"ast", "database"} <= set(result.review_layers)
    assert sum(f.rule == "add-column-required" for f in result.findings) == 1


def test_not_null_column_on_empty_table_is_only_a_warning(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "badge = Column(String(20), nullable=False)")
    result = generate(example_project, sqlite_url, message="add badge")
    finding = rules(result)["add-column-required"]
    assert finding.severity == "warning"
    assert result.verdict == "proceed"


def test_model_module_never_imported_is_diagnosed_by_name(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    (example_project / "residency" / "badges.py").write_text(
        "from sqlalchemy import Column, Integer, String\n\nfrom residency.models import Base\n\n\n"
        "class Badge(Base):\n    __tablename__ = 'badges'\n    id = Column(Integer, primary_key=True)\n"
        "    label = Column(String(40), nullable=False)\n"
    )
    before = versions(example_project)

    result = generate(example_project, sqlite_url, message="add badges")

    assert result.verdict == "fix"
    assert not result.written and result.file is None and versions(example_project) == before
    finding = rules(result)["model-not-imported"]
    assert finding.severity == "error"
    assert finding.table == "badges" and finding.file == "residency/badges.py"
    assert "residency.badges" in finding.message and "Badge" in finding.message
    assert "import residency.badges" in finding.fix
    assert "badges" in result.summary and "nothing-detected" not in rules(result)


def test_rename_is_flagged_as_probable_rename(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    edit_models(example_project, PGY_LINE, "    training_year = Column(Integer, nullable=True)\n")

    result = generate(example_project, sqlite_url, message="rename pgy_level")

    ops = {(o.op, o.column) for o in result.operations}
    assert ops == {("add_column", "training_year"), ("drop_column", "pgy_level")}
    finding = rules(result)["probable-rename"]
    assert finding.table == "persons" and finding.column == "pgy_level"
    assert "new_column_name='training_year'" in finding.fix and "batch_alter_table" in finding.fix
    assert result.verdict == "fix"


@pytest.mark.postgres
def test_dropped_column_with_data_escalates(example_project, target_url):
    upgrade_target(example_project, target_url, people=2)
    edit_models(example_project, PGY_LINE, "")
    before = fingerprint(target_url)

    result = generate(example_project, target_url, message="drop pgy_level")

    assert fingerprint(target_url) == before  # the target was only read

    assert result.verdict == "escalate" and result.escalate_to_human
    escalation = next(e for e in result.escalations if e.rule == "drop-column-with-data")
    assert escalation.evidence["table"] == "persons" and escalation.evidence["column"] == "pgy_level"
    assert escalation.evidence["non_null_values"] == 2
    assert [(o.op, o.column) for o in result.operations] == [("drop_column", "pgy_level")]


@pytest.mark.postgres
def test_dropped_column_without_data_proceeds_with_warning(example_project, pg_url):
    upgrade_target(example_project, pg_url)
    edit_models(example_project, PGY_LINE, "")
    result = generate(example_project, pg_url, message="drop pgy_level")
    assert not result.escalations
    assert rules(result)["drop-column"].severity == "warning"


def test_dry_run_writes_nothing(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    before = {p: p.read_bytes() for p in (example_project / "migrations").rglob("*") if p.is_file()}

    result = generate(example_project, sqlite_url, message="add middle_name", dry_run=True)

    after = {p: p.read_bytes() for p in (example_project / "migrations").rglob("*") if p.is_file()}
    assert after == before
    assert result.dry_run and not result.written and result.files_to_commit == [result.file]
    assert result.file.startswith("migrations/versions/") and result.file.endswith("_add_middle_name.py")
    assert "add_column" in result.content and "middle_name" in result.upgrade_source
    assert result.verdict == "proceed"
    assert f"rev_id={result.revision!r}" in result.next_steps[-1]


def test_dry_run_and_real_run_agree_when_the_id_is_passed_back(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    dry = generate(example_project, sqlite_url, message="add middle_name", dry_run=True)
    real = generate(example_project, sqlite_url, message="add middle_name", rev_id=dry.revision)
    assert real.written and (real.revision, real.file) == (dry.revision, dry.file)
    assert real.files_to_commit == dry.files_to_commit == [real.file]

    def without_date(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("Create Date:")]

    assert without_date((example_project / real.file).read_text()) == without_date(dry.content)


@pytest.mark.postgres
def test_pg_dry_run_gets_the_full_review_without_duplicates(example_project, pg_url):
    upgrade_target(example_project, pg_url, people=2)
    edit_models(
        example_project,
        "declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))",
        "declarative_base()",
    )
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    before = versions(example_project)

    result = generate(example_project, pg_url, message="add middle_name", dry_run=True)

    assert versions(example_project) == before and not result.written
    # review_migration's layers all ran on the unwritten file: AST, squawk over the SQL the generate
    # worker rendered, and the target's row counts
    assert result.review_layers == ["ast", "sql", "database"]
    found = rules(result)
    assert found["missing-lock-timeout"].severity == "warning"  # from the review's catalogue
    assert found["missing-lock-timeout"].file == result.file and found["missing-lock-timeout"].line
    # generate's blind-spot check and the review both see the metadata without naming_convention: once
    assert [f.rule for f in result.findings].count("unnamed-constraint") == 1
    assert result.verdict == result.review_verdict == "proceed"


@pytest.mark.postgres
def test_multiple_heads_are_refused(example_project, pg_url):
    upgrade_target(example_project, pg_url)
    write_revision(example_project, "c1aaaaaa0003", HEAD, message="left")
    write_revision(example_project, "c2bbbbbb0003", HEAD, message="right")
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    before = versions(example_project)

    result = generate(example_project, pg_url, message="add middle_name")

    assert result.verdict == "fix" and not result.written
    assert versions(example_project) == before
    assert "merge_heads" in rules(result)["multiple-heads"].fix


def test_git_files_to_commit(example_project, sqlite_url):
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", "-C", str(example_project)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    (example_project / "notes.py").write_text("x = 1\n")  # changed, but not a model module

    result = generate(example_project, sqlite_url, message="add middle_name")

    assert result.files_to_commit == [result.file, "residency/models.py"]


def test_autogenerate_false_writes_empty_revision_on_head(example_project):
    result = generate(example_project, None, message="data fix", autogenerate=False, rev_id="d4data000003")
    assert result.written and result.revision == "d4data000003" and result.down_revision == [HEAD]
    assert result.operations == []
    text_ = (example_project / result.file).read_text()
    assert "down_revision: Union[str, Sequence[str], None] = 'b2e1d1ce0002'" in text_
    assert "pass" in result.upgrade_source


def test_nothing_detected_writes_no_file(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    before = versions(example_project)
    result = generate(example_project, sqlite_url, message="no change")
    assert not result.written and versions(example_project) == before
    assert "nothing-detected" in rules(result)
    assert result.summary.startswith("Nothing detected")


def test_against_target_refuses_when_not_at_head(example_project, sqlite_url):
    alembic(example_project, sqlite_url, "upgrade", "a1f0c0de0001")
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    result = generate(example_project, sqlite_url, sqlite_url, message="add middle_name", against="target")
    assert result.verdict == "fix" and not result.written
    assert "a1f0c0de0001" in rules(result)["target-not-at-head"].message


def test_against_target_at_head(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    result = generate(example_project, sqlite_url, sqlite_url, message="add middle_name", against="target")
    assert result.written and result.compared_with.startswith("target database")
    assert [(o.op, o.column) for o in result.operations] == [("add_column", "middle_name")]


def test_post_write_hooks_run(example_project, sqlite_url):
    ini = example_project / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "[post_write_hooks]\n",
            "[post_write_hooks]\nhooks = ruff_format\nruff_format.type = module\nruff_format.module = ruff\n"
            "ruff_format.options = format --no-cache --line-length 120 REVISION_SCRIPT_FILENAME\n",
        )
    )
    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    result = generate(example_project, sqlite_url, message="add middle_name")
    written = (example_project / result.file).read_text()
    # Alembic's template renders single quotes; the project's formatter hook turned them into double.
    assert 'batch_op.add_column(sa.Column("middle_name", sa.String(length=80), nullable=True))' in written
    assert '"persons"' in result.upgrade_source


def test_audit_table_change_escalates(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    edit_models(
        example_project,
        "    detail = Column(Text, nullable=True)\n",
        "    detail = Column(Text, nullable=True)\n    source_ip = Column(String(45), nullable=True)\n",
    )
    result = generate(example_project, sqlite_url, message="audit source ip")
    assert result.verdict == "escalate"
    assert [e.rule for e in result.escalations] == ["audit-trail"]
    assert result.written  # written and reviewed: the human decides whether it goes ahead


# --- blind spots -------------------------------------------------------------------------------------


def test_target_metadata_none(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    env = example_project / "migrations" / "env.py"
    env.write_text(env.read_text().replace("target_metadata = Base.metadata", "target_metadata = None"))
    result = generate(example_project, sqlite_url, message="anything")
    finding = rules(result)["target-metadata-none"]
    assert finding.severity == "error" and "from residency.models import Base" in finding.fix
    assert not result.written


def test_migration_dropping_every_table_is_refused(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    env = example_project / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(
            "target_metadata = Base.metadata", "import sqlalchemy\ntarget_metadata = sqlalchemy.MetaData()"
        )
    )
    before = versions(example_project)
    result = generate(example_project, sqlite_url, message="oops")
    assert result.verdict == "fix" and not result.written and versions(example_project) == before
    assert "persons" in rules(result)["drops-every-table"].message
    # The tables are defined in residency/models.py but missing from this metadata: named too.
    assert "residency.models" in rules(result)["model-not-imported"].message


def test_sqlite_without_batch_and_without_naming_convention(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    env = example_project / "migrations" / "env.py"
    env.write_text(env.read_text().replace('render_as_batch=connection.dialect.name == "sqlite",', ""))
    edit_models(
        example_project,
        "declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))",
        "declarative_base()",
    )
    edit_models(example_project, PGY_LINE, "")
    result = generate(example_project, sqlite_url, message="drop pgy_level")
    found = rules(result)
    assert found["sqlite-batch-mode"].severity == "error" and "drop_column" in found["sqlite-batch-mode"].message
    assert found["unnamed-constraint"].severity == "warning"
    assert "naming_convention" in found["unnamed-constraint"].fix


@pytest.mark.postgres
def test_postgres_blind_spots_enum_check_server_default(example_project, pg_url):
    write_revision(
        example_project,
        "e5enum000003",
        HEAD,
        message="person status",
        upgrade="status = sa.Enum('active', 'leave', name='person_status')\n"
        "status.create(op.get_bind())\n"
        "op.add_column('persons', sa.Column('status', status, nullable=True))",
        downgrade="op.drop_column('persons', 'status')\nop.execute('DROP TYPE person_status')",
    )
    upgrade_target(example_project, pg_url)
    edit_models(
        example_project,
        "from sqlalchemy import Boolean,",
        "from sqlalchemy import CheckConstraint, Enum, Boolean,",
    )
    add_person_column(
        example_project,
        "status = Column(Enum('active', 'leave', 'graduated', name='person_status'), nullable=True)",
    )
    edit_models(example_project, 'server_default="80"', 'server_default="60"')
    edit_models(
        example_project,
        "    duty_hours = Column(Integer, nullable=False)\n",
        "    duty_hours = Column(Integer, nullable=False)\n"
        "    __table_args__ = (CheckConstraint('duty_hours >= 0', name='duty_nonneg'),)\n",
    )

    result = generate(example_project, pg_url, message="blind spots")

    found = rules(result)
    assert not result.written  # autogenerate itself saw nothing
    enum = found["enum-change"]
    assert "graduated" in enum.message and "ALTER TYPE person_status ADD VALUE IF NOT EXISTS 'graduated'" in enum.fix
    default = found["server-default-change"]
    assert default.table == "rotations" and default.column == "max_hours_per_week" and "'60'" in default.message
    check = found["check-constraint-change"]
    assert check.table == "acgme_compliance" and "ck_acgme_compliance_duty_nonneg" in check.message
    assert "op.create_check_constraint" in check.fix
    assert "autogenerate-blind-spots" in found


# --- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"message": ""}, "message is empty"),
        ({"message": "   "}, "message is empty"),
        ({"message": "a/b"}, "path separator"),
        ({"message": "a\\b"}, "path separator"),
        ({"message": "x", "rev_id": "bad-id"}, "not a valid revision id"),
        ({"message": "x", "rev_id": "head"}, "reserved"),
        ({"message": "x", "rev_id": "__init__"}, "reserved"),
        ({"message": "x", "rev_id": "__pycache__"}, "reserved"),
        ({"message": "x", "rev_id": "___"}, "reserved"),
        ({"message": "x", "rev_id": HEAD}, "already exists"),
        ({"message": "x", "against": "prod"}, "against must be"),
    ],
)
def test_bad_arguments(example_project, kwargs, expected):
    with pytest.raises(InvalidArgument, match=expected):
        generate(example_project, None, **kwargs)


def test_cli_generate_migration_dry_run(example_project, sqlite_url, capsys):
    import json

    from alembic_mcp.server.cli import main

    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
    code = main(
        [
            "generate-migration",
            "--project",
            str(example_project),
            "--database-url",
            sqlite_url,
            "-m",
            "add middle_name",
            "--dry-run",
            "--json",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["verdict"] == "proceed" and payload["dry_run"] is True
    code = main(["generate-migration", "--project", str(example_project), "-m", "a/b", "--json"])
    assert code == 3 and "path separator" in json.loads(capsys.readouterr().out)["error"]


def test_nothing_detected_says_when_target_is_behind(example_project, sqlite_url):
    alembic(example_project, sqlite_url, "upgrade", "a1f0c0de0001")
    result = generate(example_project, sqlite_url, message="audit tables")
    finding = rules(result)["nothing-detected"]
    assert "at a1f0c0de0001, behind the heads (b2e1d1ce0002)" in finding.message
    assert not result.written


def test_broken_history_is_diagnosed(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    write_revision(example_project, "f6broken0003", HEAD, message="broken", upgrade="op.add_column(")
    before = versions(example_project)
    result = generate(example_project, sqlite_url, message="add middle_name")
    assert result.verdict == "fix" and not result.written and versions(example_project) == before
    finding = rules(result)["revision-import-error"]
    assert "f6broken0003_broken.py" in finding.file


def test_model_syntax_error_is_located(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True")
    result = generate(example_project, sqlite_url, message="add middle_name")
    finding = rules(result)["autogenerate-failed"]
    assert finding.file == "residency/models.py" and finding.line is not None
    assert "SyntaxError" in finding.message and not result.written


def test_failing_existing_migration_is_named(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    write_revision(
        example_project,
        "f7fail000003",
        HEAD,
        message="fails",
        upgrade="op.execute('SELECT * FROM no_such_table')",
    )
    result = generate(example_project, sqlite_url, message="add middle_name")
    finding = rules(result)["scratch-upgrade-failed"]
    assert finding.file == "migrations/versions/f7fail000003_fails.py" and finding.line
    assert not result.written


def test_table_rename_is_flagged_as_probable_rename(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    edit_models(example_project, '__tablename__ = "rotations"', '__tablename__ = "rotation_types"')
    edit_models(example_project, 'ForeignKey("rotations.id")', 'ForeignKey("rotation_types.id")')
    result = generate(example_project, sqlite_url, message="rename rotations")
    ops = {(o.op, o.table) for o in result.operations}
    assert {("create_table", "rotation_types"), ("drop_table", "rotations")} <= ops
    finding = rules(result)["probable-rename"]
    assert finding.table == "rotations"
    assert "op.rename_table('rotations', 'rotation_types')" in finding.fix


@pytest.mark.postgres
def test_history_with_an_autocommit_block_upgrades_on_the_scratch_database(example_project, pg_url):
    """An earlier revision building an index CONCURRENTLY in an autocommit block (the skill's own pattern):
    the scratch upgrade gives env.py a connection outside any transaction, as Alembic's runner does, so
    the block can commit. It used to fail with a bare AssertionError inside Alembic."""
    upgrade_target(example_project, pg_url)
    write_revision(
        example_project,
        "c3cccccc0003",
        HEAD,
        upgrade="""
        with op.get_context().autocommit_block():
            op.create_index("ix_persons_email_c", "persons", ["email"], postgresql_concurrently=True)
        """,
        downgrade="""
        with op.get_context().autocommit_block():
            op.drop_index("ix_persons_email_c", table_name="persons", postgresql_concurrently=True)
        """,
        message="concurrent index",
    )
    add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")

    result = generate(example_project, pg_url, message="add middle_name", dry_run=True)

    assert not any(f.rule in ("scratch-upgrade-failed", "autogenerate-failed") for f in result.findings), result.summary
    assert any(op.op == "add_column" for op in result.operations), result.operations
