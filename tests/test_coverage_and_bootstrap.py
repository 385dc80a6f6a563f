"""Summaries state coverage (steps run of planned, revisions reviewed of selected), and the
``bootstrap`` setting gives scratch databases the starting schema a history expects (SQLite)."""

from __future__ import annotations

import anyio
import pytest
from conftest import write_revision
from mcp import Client

from alembic_mcp.server.app import build_server
from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import ProjectError
from alembic_mcp.tools.review.tool import review_migration
from alembic_mcp.tools.roundtrip.tool import test_roundtrip as rehearse

LEGACY_BASE = "op.add_column('legacy', sa.Column('note', sa.String(20)))"


def _legacy_history(project) -> None:
    """A history whose base revision alters a table that only create_all (before stamping) made."""
    write_revision(project, "aa0000000001", None, LEGACY_BASE, "op.drop_column('legacy', 'note')", message="legacy")


def _set_bootstrap(project, value: str) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"bootstrap = {value!r}\n")


def test_base_revision_on_a_missing_table_says_the_history_needs_a_bootstrap(empty_project, sqlite_url):
    _legacy_history(empty_project)
    project = load_project(empty_project, {"database_url": sqlite_url}, environ={})
    result = anyio.run(lambda: rehearse(project, from_revision="base"))
    rules = {f.rule: f for f in result.findings}
    assert result.verdict != "proceed" and "needs-bootstrap" in rules
    assert "bootstrap" in rules["needs-bootstrap"].fix and ".sql" in rules["needs-bootstrap"].fix
    assert "0 of 1 planned revision(s) ran" in result.summary and "survived" not in result.summary


def test_sql_bootstrap_prepares_the_scratch_database(empty_project, sqlite_url):
    _legacy_history(empty_project)
    (empty_project / "base.sql").write_text(
        "CREATE TABLE legacy (id INTEGER PRIMARY KEY);\nCREATE TABLE other (x INT);\n"
    )
    _set_bootstrap(empty_project, "base.sql")
    project = load_project(empty_project, {"database_url": sqlite_url}, environ={})
    result = anyio.run(lambda: rehearse(project, from_revision="base"))
    assert result.failure is None, result.summary  # (the models' tables are drift here: not what is tested)
    assert result.steps_run == result.steps_planned == 1
    assert "1 of 1 planned revision(s)" in result.summary


def test_callable_bootstrap_receives_a_connection(empty_project, sqlite_url):
    _legacy_history(empty_project)
    (empty_project / "legacy_schema.py").write_text(
        "from sqlalchemy import text\n\n\ndef create(connection):\n"
        "    connection.execute(text('CREATE TABLE legacy (id INTEGER PRIMARY KEY)'))\n"
    )
    _set_bootstrap(empty_project, "legacy_schema:create")
    project = load_project(empty_project, {"database_url": sqlite_url}, environ={})
    result = anyio.run(lambda: rehearse(project, from_revision="base"))
    assert result.failure is None and result.steps_run == 1, result.summary


def test_failing_bootstrap_is_reported_and_nothing_claims_to_have_run(empty_project, sqlite_url):
    _legacy_history(empty_project)
    (empty_project / "legacy_schema.py").write_text("def create(connection):\n    raise RuntimeError('no schema')\n")
    _set_bootstrap(empty_project, "legacy_schema:create")
    project = load_project(empty_project, {"database_url": sqlite_url}, environ={})
    result = anyio.run(lambda: rehearse(project, from_revision="base"))
    rules = {f.rule: f for f in result.findings}
    assert result.verdict == "fix" and "no schema" in rules["bootstrap-failed"].message
    assert result.steps_run == 0 and "nothing tested" in result.summary


@pytest.mark.parametrize("value", ["not a callable", "module:", "pkg.mod:func:extra", "schema.txt"])
def test_bad_bootstrap_value_is_a_tool_error(empty_project, value):
    _set_bootstrap(empty_project, value)
    with pytest.raises(ProjectError, match="bootstrap"):
        load_project(empty_project, environ={})

    async def go():
        async with Client(build_server(str(empty_project))) as client:
            return await client.call_tool("test_roundtrip", {})

    result = anyio.run(go)
    assert result.is_error and "module:function" in result.content[0].text


def test_env_py_that_runs_nothing_is_not_called_a_success(example_project, sqlite_url):
    """0 steps ran: the summary says so and the verdict is not proceed."""
    env = example_project / "migrations" / "env.py"
    env.write_text(env.read_text().replace("    run_migrations_online()", "    pass  # forgot to migrate"))
    project = load_project(example_project, {"database_url": sqlite_url}, environ={})
    result = anyio.run(lambda: rehearse(project, from_revision="base"))
    assert result.verdict == "fix" and any(f.rule == "steps-not-run" for f in result.findings)
    assert result.steps_run == 0 and result.steps_planned == 2
    assert "0 of 2 planned revision(s) ran" in result.summary and "survived" not in result.summary


def test_review_summary_states_coverage(example_project):
    project = load_project(example_project, environ={})
    result = anyio.run(lambda: review_migration(project, revision="base:head"))
    assert result.summary.startswith("Reviewed 2 of 2 selected revision(s)")
    assert "rendered SQL checked for" in result.summary and "database facts for" in result.summary


def test_generate_runs_the_bootstrap_on_its_scratch_database(empty_project, sqlite_url):
    from alembic_mcp.tools.generate.tool import generate_migration

    _legacy_history(empty_project)
    project = load_project(empty_project, {"database_url": sqlite_url}, environ={})
    without = anyio.run(lambda: generate_migration(project, message="models", dry_run=True))
    failed = [f for f in without.findings if f.rule == "scratch-upgrade-failed"]
    assert failed and "bootstrap" in failed[0].fix
    assert failed[0].file == "migrations/versions/aa0000000001_legacy.py"  # not the dry run's sandbox copy
    (empty_project / "base.sql").write_text("CREATE TABLE legacy (id INTEGER PRIMARY KEY);\n")
    _set_bootstrap(empty_project, "base.sql")
    project = load_project(empty_project, {"database_url": sqlite_url}, environ={})
    result = anyio.run(lambda: generate_migration(project, message="models", dry_run=True))
    rules = {f.rule for f in result.findings}
    assert not rules & {"scratch-upgrade-failed", "bootstrap-failed"}, result.summary
    assert result.operations, "autogenerate compared the models with the bootstrapped, upgraded scratch database"


def test_merge_rehearsal_runs_the_bootstrap(empty_project, sqlite_url):
    from alembic_mcp.tools.heads.merge import merge_heads

    _legacy_history(empty_project)
    for rev, table in (("bb0000000001", "persons"), ("bb0000000002", "rotations")):
        write_revision(empty_project, rev, "aa0000000001", f"op.create_table({table!r}, sa.Column('id', sa.Integer))")
    (empty_project / "base.sql").write_text("CREATE TABLE legacy (id INTEGER PRIMARY KEY);\n")
    _set_bootstrap(empty_project, "base.sql")
    project = load_project(empty_project, {"database_url": sqlite_url}, environ={})
    result = anyio.run(lambda: merge_heads(project, message="join", dry_run=True))
    assert result.verdict == "proceed", result.summary
    assert result.rehearsal.ran and result.rehearsal.ok, result.rehearsal.error
