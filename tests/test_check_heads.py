"""check_heads on linear, branched, merged, diamond and broken histories, and on each database state."""

from __future__ import annotations

import subprocess
import sys

import anyio
import pytest
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.heads.check import check_heads


def run_check(project, **overrides):
    return anyio.run(check_heads, load_project(project, overrides))


def create_table(name):
    return f"op.create_table({name!r}, sa.Column('id', sa.Integer, primary_key=True))"


def add_col(table, col):
    return f"op.add_column({table!r}, sa.Column({col!r}, sa.String(20), nullable=True))"


def test_linear_history_single_head(example_project):
    result = run_check(example_project)
    assert result.verdict == "proceed"
    assert [h.revision for h in result.heads] == ["b2e1d1ce0002"]
    assert [b.revision for b in result.bases] == ["a1f0c0de0001"]
    assert result.heads[0].message == "audit log and ACGME compliance"
    assert result.heads[0].file.endswith("b2e1d1ce0002_audit_log_and_acgme_compliance.py")
    assert result.revision_count == 2
    assert result.branch_points == [] and result.merge_points == []


def test_the_database_says_whether_it_is_production(example_project, sqlite_url):
    """Agent run 4: check_heads is the first call, and did not say the target is production."""
    assert run_check(example_project, database_url=sqlite_url).database.production is False
    assert run_check(example_project, database_url=sqlite_url, environment="production").database.production is True
    hosts = {"database_url": "postgresql://u@DB.internal:5432/app", "production_hosts": ["db.internal"]}
    assert run_check(example_project, **hosts).database.production is True


def test_branched_independent_heads_is_fix_with_merge_next(example_project):
    write_revision(example_project, "c0000001", "b2e1d1ce0002", add_col("persons", "nickname"), message="nick")
    write_revision(example_project, "c0000002", "b2e1d1ce0002", add_col("rotations", "site"), message="site")
    result = run_check(example_project)
    assert result.verdict == "fix"
    assert sorted(h.revision for h in result.heads) == ["c0000001", "c0000002"]
    assert [p.revision for p in result.branch_points] == ["b2e1d1ce0002"]
    assert any(f.rule == "multiple-heads" for f in result.findings)
    assert "merge_heads" in " ".join(result.next_steps)
    tables = {b.head: b.tables for b in result.branches}
    assert tables == {"c0000001": ["persons"], "c0000002": ["rotations"]}
    assert all(b.branch_point == ["b2e1d1ce0002"] for b in result.branches)


def test_conflicting_heads_escalate(example_project):
    write_revision(example_project, "c0000001", "b2e1d1ce0002", add_col("persons", "a"), message="a")
    write_revision(example_project, "c0000002", "b2e1d1ce0002", add_col("persons", "b"), message="b")
    result = run_check(example_project)
    assert result.verdict == "escalate" and result.escalate_to_human
    assert result.escalations[0].rule == "conflicting-heads"
    assert result.escalations[0].evidence["tables"] == ["persons"]


def test_conflict_seen_through_batch_alter_table(example_project):
    write_revision(example_project, "c0000001", "b2e1d1ce0002", add_col("persons", "a"), message="a")
    write_revision(
        example_project,
        "c0000002",
        "b2e1d1ce0002",
        "with op.batch_alter_table('persons') as b:\n    b.drop_column('pgy_level')",
        message="b",
    )
    assert run_check(example_project).verdict == "escalate"


def test_merged_and_diamond_histories(example_project):
    write_revision(example_project, "c0000001", "b2e1d1ce0002", add_col("persons", "a"), message="left")
    write_revision(example_project, "c0000002", "b2e1d1ce0002", add_col("rotations", "b"), message="right")
    write_revision(example_project, "d0000003", ("c0000001", "c0000002"), message="merge")
    result = run_check(example_project)
    assert result.verdict == "proceed"
    assert [h.revision for h in result.heads] == ["d0000003"]
    assert [m.revision for m in result.merge_points] == ["d0000003"]
    assert [p.revision for p in result.branch_points] == ["b2e1d1ce0002"]


def test_three_heads(example_project):
    for i, table in enumerate(["persons", "rotations", "assignments"]):
        write_revision(example_project, f"e000000{i}", "b2e1d1ce0002", add_col(table, f"x{i}"), message=f"h{i}")
    result = run_check(example_project)
    assert len(result.heads) == 3 and result.verdict == "fix"
    assert len(result.branches) == 3


def test_missing_parent_is_a_finding(example_project):
    write_revision(example_project, "c0000001", "deadbeef0000", message="orphan")
    result = run_check(example_project)
    finding = next(f for f in result.findings if f.rule == "missing-parent")
    assert "deadbeef0000" in finding.message and finding.file.endswith("c0000001_orphan.py")
    assert result.verdict == "fix"


def test_cycle_is_a_finding(example_project):
    write_revision(example_project, "c0000001", "c0000002", message="one")
    write_revision(example_project, "c0000002", "c0000001", message="two")
    result = run_check(example_project)
    cycle = next(f for f in result.findings if f.rule == "revision-cycle")
    assert "c0000001" in cycle.message and "c0000002" in cycle.message
    assert result.verdict == "fix"


def test_duplicate_revision_id(example_project):
    write_revision(example_project, "b2e1d1ce0002", "a1f0c0de0001", message="copy")
    result = run_check(example_project)
    dup = next(f for f in result.findings if f.rule == "duplicate-revision")
    assert "b2e1d1ce0002" in dup.message


def test_syntax_error_reported_with_line(example_project):
    path = write_revision(example_project, "c0000001", "b2e1d1ce0002", message="broken")
    path.write_text(path.read_text().replace("def downgrade() -> None:", "def downgrade( -> None:"))
    result = run_check(example_project)
    err = next(f for f in result.findings if f.rule == "revision-import-error")
    assert err.file.endswith("c0000001_broken.py") and err.line is not None
    assert "SyntaxError" in err.message
    assert [h.revision for h in result.heads] == ["b2e1d1ce0002"]


def test_import_error_reported(example_project):
    write_revision(
        example_project, "c0000001", "b2e1d1ce0002", message="imports", extra_header="import not_a_real_module_xyz"
    )
    result = run_check(example_project)
    err = next(f for f in result.findings if f.rule == "revision-import-error")
    assert "not_a_real_module_xyz" in err.message and err.line is not None


def test_env_py_that_raises(example_project):
    env = example_project / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace("config = context.config", "raise RuntimeError('no settings')\nconfig = context.config")
    )
    result = run_check(example_project)
    err = next(f for f in result.findings if f.rule == "env-py-error")
    assert "no settings" in err.message and err.file == "migrations/env.py" and err.line
    assert result.verdict == "fix"


def test_revision_needing_env_pys_setup_imports(example_project):
    """superset's revision files import modules that need the app env.py builds: they load inside
    env.py's run, as `alembic upgrade` loads them, so a working history is not reported broken."""
    (example_project / "residency" / "appstate.py").write_text(
        "READY = False\n\n\ndef require() -> None:\n"
        "    if not READY:\n        raise RuntimeError('App not initialized yet')\n"
    )
    env = example_project / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(
            "config = context.config",
            "import residency.appstate\n\nresidency.appstate.READY = True\nconfig = context.config",
        )
    )
    header = "from residency.appstate import require\n\nrequire()"
    write_revision(example_project, "c0000001", "b2e1d1ce0002", message="needs app", extra_header=header)
    result = run_check(example_project)
    assert result.verdict == "proceed", result.findings
    assert [h.revision for h in result.heads] == ["c0000001"]


def test_env_py_refusing_offline_mode_is_a_warning(example_project):
    """dagster's env.py needs a connection in offline mode too: a fact about the project, not a fix."""
    env = example_project / "migrations" / "env.py"
    refusing = "def run_migrations_offline() -> None:\n    raise Exception('No connection set in alembic config')\n"
    source = env.read_text()
    start = source.index("def run_migrations_offline() -> None:")
    env.write_text(source[:start] + refusing + "\n\n" + source[source.index("def do_run_migrations") :])
    result = run_check(example_project)
    assert [f.rule for f in result.findings] == ["env-py-offline-only"]
    assert result.findings[0].severity == "warning" and "No connection set" in result.findings[0].message
    assert result.verdict == "proceed"


def test_env_py_error_without_a_message_shows_its_cause(example_project):
    env = example_project / "migrations" / "env.py"
    raising = (
        "import sqlalchemy.exc\ntry:\n    raise KeyError('themes')\nexcept KeyError as exc:\n"
        "    raise sqlalchemy.exc.SQLAlchemyError(()) from exc\nconfig = context.config"
    )
    env.write_text(env.read_text().replace("config = context.config", raising))
    result = run_check(example_project)
    err = next(f for f in result.findings if f.rule == "env-py-error")
    assert err.message == "env.py raised SQLAlchemyError: () (raised from KeyError: 'themes')"


def _stamp(url, *revisions):
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        for rev in revisions:
            conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": rev})
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def target_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url")


def test_missing_sqlite_target_is_empty_and_not_created(example_project, tmp_path):
    target = tmp_path / "never.db"
    result = run_check(example_project, database_url=f"sqlite:///{target}")
    assert result.database.status == "empty" and not target.exists()


def test_database_empty(example_project, target_url):
    result = run_check(example_project, database_url=target_url)
    assert result.database.status == "empty"
    assert result.database.pending == ["a1f0c0de0001", "b2e1d1ce0002"]


def test_database_at_head(example_project, target_url):
    _stamp(target_url, "b2e1d1ce0002")
    result = run_check(example_project, database_url=target_url)
    assert result.database.status == "at_head" and result.verdict == "proceed"


def test_database_behind(example_project, target_url):
    _stamp(target_url, "a1f0c0de0001")
    result = run_check(example_project, database_url=target_url)
    assert result.database.status == "behind"
    assert result.database.pending == ["b2e1d1ce0002"]
    assert any(f.rule == "database-behind" for f in result.findings)


def test_database_ahead(example_project, target_url):
    _stamp(target_url, "ffff00001111")
    result = run_check(example_project, database_url=target_url)
    assert result.database.status == "ahead" and result.database.unknown == ["ffff00001111"]
    finding = next(f for f in result.findings if f.rule == "database-ahead")
    assert "newer branch" in finding.why
    assert result.verdict == "fix"


def test_database_unreachable_masks_password(example_project):
    url = "postgresql+asyncpg://app:s3cretpw@127.0.0.1:1/nowhere"
    result = run_check(example_project, database_url=url)
    assert result.database.status == "unreachable"
    dumped = result.model_dump_json()
    assert "s3cretpw" not in dumped and "***" in dumped


@pytest.fixture
def async_project(tmp_path, pg_async_url):
    """A project made by `alembic init -t async` on asyncpg, with one revision creating table t."""
    project = tmp_path / "asyncproj"
    project.mkdir()
    subprocess.run(
        [sys.executable, "-m", "alembic", "init", "-t", "async", "migrations"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", pg_async_url))
    write_revision(
        project,
        "a0000001",
        None,
        "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))",
        "op.drop_table('t')",
        message="t",
    )
    return project


def test_async_env_project_on_asyncpg(async_project):
    """A project made by `alembic init -t async` works exactly like a sync one."""
    result = run_check(async_project)
    assert not [f for f in result.findings if f.severity == "error"], result.findings
    assert result.database.status == "empty"
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=async_project, check=True, capture_output=True
    )
    result = run_check(async_project)
    assert result.database.status == "at_head"


def test_async_env_project_merge_rehearsal(async_project):
    """merge_heads rehearses through an async env.py on asyncpg like through a sync one."""
    from alembic_mcp.tools.heads.merge import merge_heads

    project = async_project
    for rev, table in (("b0000001", "u"), ("b0000002", "v")):
        write_revision(
            project,
            rev,
            "a0000001",
            f"op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True))",
            f"op.drop_table({table!r})",
            message=table,
        )
    result = anyio.run(lambda: merge_heads(load_project(project)))
    assert result.verdict == "proceed", result
    assert result.rehearsal.ran and result.rehearsal.ok and result.rehearsal.dropped
    assert result.rehearsal.current_after == [result.revision]
    assert result.rehearsal.scratch_database.startswith("postgresql+asyncpg://")
