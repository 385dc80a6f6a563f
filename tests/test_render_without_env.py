"""An env.py that refuses offline mode: the review still reads SQL, rendered by Alembic without env.py."""

from __future__ import annotations

import pytest
from test_review_migration import HEAD, review


def refuse_offline(project, how: str) -> None:
    """Replace env.py's offline path: ``raise`` (dagster's: no connection) or ``return`` (runs nothing)."""
    env = project / "migrations" / "env.py"
    body = "raise Exception('No connection set in alembic config')" if how == "raise" else "return None"
    source = env.read_text()
    start = source.index("def run_migrations_offline() -> None:")
    end = source.index("def do_run_migrations")
    env.write_text(source[:start] + f"def run_migrations_offline() -> None:\n    {body}\n\n\n" + source[end:])


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
@pytest.mark.parametrize("how", ["raise", "return"])
def test_sql_is_rendered_without_env_py_and_the_review_says_so(example_project, request, backend, how):
    url = request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")
    refuse_offline(example_project, how)
    result = review(example_project, url, revision=HEAD, include_sql=True)
    [revision] = result.revisions
    assert "CREATE TABLE audit_log" in revision.sql
    assert "alembic_version" in revision.sql  # Alembic's own bookkeeping, as `--sql` writes it
    rules = {f.rule: f for f in result.findings}
    assert "offline-unsafe" not in rules and "render-failed" not in rules
    note = rules["rendered-without-env"]
    assert note.severity == "info" and note.file == "migrations/env.py"
    assert f"without env.py, for the {backend} dialect" in note.message
    if how == "raise":
        assert "No connection set in alembic config" in note.message
    if backend == "postgresql":
        assert "sql" in revision.layers  # squawk read the rendered SQL


def test_a_working_env_py_renders_as_before(example_project, sqlite_url):
    result = review(example_project, sqlite_url, revision=HEAD, include_sql=True)
    assert "CREATE TABLE audit_log" in result.revisions[0].sql
    assert "rendered-without-env" not in {f.rule for f in result.findings}
