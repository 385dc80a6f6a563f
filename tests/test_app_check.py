"""The application check: test_roundtrip runs ``app_check_command`` (here a tiny pytest suite written into
the example project) at head on the scratch database, never the target, on SQLite and PostgreSQL."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import anyio
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import ProjectError
from alembic_mcp.tools.roundtrip.tool import test_roundtrip as run_roundtrip

APP_TEST = """
import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

TARGET_DATABASE = {target!r}


def test_app_reads_the_migrated_schema():
    url = os.environ["DATABASE_URL"]
    assert make_url(url).database != TARGET_DATABASE, "the app check must never see the target"
    assert all(value != url for name, value in os.environ.items() if name.startswith("ALEMBIC_MCP_"))
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()
    assert count >= 0
    print("APP-CHECK-RAN against", make_url(url).database)
"""


def write_app_tests(project: Path, target_url: str, table: str) -> str:
    """A one-test suite in the project's copy; returns the app_check_command that runs it."""
    tests = project / "written_app_tests"
    tests.mkdir()
    (tests / "test_app.py").write_text(APP_TEST.format(target=make_url(target_url).database, table=table))
    return f"{shlex.quote(sys.executable)} -m pytest -q -x -s -p no:cacheprovider written_app_tests"


def rehearse(project_dir: Path, url: str, command: str, **settings):
    project = load_project(project_dir, {"database_url": url, "app_check_command": command, **settings})
    return anyio.run(lambda: run_roundtrip(project))


def tables_of(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_app_check_passes_on_the_scratch_database(example_project, backend, request):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    result = rehearse(example_project, url, write_app_tests(example_project, url, "acgme_compliance"))
    assert result.app_check is not None, result.summary
    assert result.app_check.passed, result.app_check.output_tail
    assert "APP-CHECK-RAN" in result.app_check.output_tail
    assert "1 passed" in result.app_check.output_tail
    assert any(f.rule == "app-check-passed" for f in result.findings)
    assert result.verdict == "proceed", [f.message for f in result.findings if f.severity == "error"]
    assert result.scratch_database.dropped
    assert "acgme_compliance" not in tables_of(url)  # the target was never migrated


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_failing_app_check_reports_its_output(example_project, backend, request):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    result = rehearse(example_project, url, write_app_tests(example_project, url, "no_such_table"))
    assert result.app_check is not None and not result.app_check.passed
    assert result.app_check.exit_code == 1
    assert "no_such_table" in result.app_check.output_tail
    failed = [f for f in result.findings if f.rule == "app-check-failed"]
    assert failed and failed[0].severity == "error" and "no_such_table" in failed[0].message
    assert result.verdict == "fix"
    assert result.scratch_database.dropped


def test_app_check_timeout_is_reported(example_project, sqlite_url):
    command = f"{shlex.quote(sys.executable)} -c 'import time; print(\"started\", flush=True); time.sleep(60)'"
    result = rehearse(example_project, sqlite_url, command, app_check_timeout_s=1)
    assert result.app_check is not None and result.app_check.timed_out and not result.app_check.passed
    assert "started" in result.app_check.output_tail
    assert any(f.rule == "app-check-failed" and "did not finish" in f.message for f in result.findings)


def test_without_the_setting_no_app_check_runs(example_project, sqlite_url):
    result = anyio.run(lambda: run_roundtrip(load_project(example_project, {"database_url": sqlite_url})))
    assert result.app_check is None
    assert not any(f.rule.startswith("app-check") for f in result.findings)


@pytest.mark.parametrize("bad", ["pytest 'unbalanced", "   "])
def test_a_bad_app_check_command_is_refused_by_name(example_project, bad):
    with pytest.raises(ProjectError) as caught:
        load_project(example_project, {"app_check_command": bad})
    assert "app_check_command" in str(caught.value)


def test_the_example_projects_own_suite_runs_on_the_scratch_database(example_project, sqlite_url):
    """The example ships its own app tests (examples/residency/app_tests): they pass at head."""
    command = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider app_tests"
    result = rehearse(example_project, sqlite_url, command)
    assert result.app_check is not None and result.app_check.passed, result.app_check
    assert "passed" in result.app_check.output_tail
    assert not Path(make_url(sqlite_url).database).exists(), "the target is never migrated by a rehearsal"
