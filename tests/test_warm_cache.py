"""Warm calls reuse what has not changed: parsed files by content, worker replies while nothing the worker
read has changed (check_heads' import check, review's render), squawk results by SQL. Counted, never timed.

Files the tests write are aged past the two-second window in which an edit could share a timestamp
(inputs.RACY_NS): replies whose inputs are that fresh are, by design, never kept.
"""

from __future__ import annotations

import os
import time

import anyio
import pytest

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.heads.check import check_heads
from alembic_mcp.tools.history import cache, files
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.review import squawk
from alembic_mcp.tools.review.tool import review_migration
from alembic_mcp.tools.worker import inputs, reply_cache
from tests.conftest import write_revision

pytestmark = pytest.mark.subprocess


@pytest.fixture(autouse=True)
def fresh_caches():
    reply_cache.enable()  # as a serving process has it
    cache.clear()
    files.clear()
    yield
    reply_cache.enable(False)
    cache.clear()
    files.clear()


@pytest.fixture
def worker_starts(monkeypatch) -> list[str]:
    """The ops the reply cache actually ran in a worker (the real runner, counted)."""
    started: list[str] = []
    real = reply_cache.run_worker_reply

    async def counting(project, op, *args, **kwargs):
        started.append(op)
        return await real(project, op, *args, **kwargs)

    monkeypatch.setattr(reply_cache, "run_worker_reply", counting)
    return started


def _age() -> None:
    """Let every file written so far leave the window where an edit could share its timestamp."""
    time.sleep(inputs.RACY_NS / 1e9 + 0.2)


def _check(project_dir):
    return anyio.run(check_heads, load_project(project_dir, {}))


def _edit(path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_second_check_heads_on_unchanged_history_starts_no_worker(example_project, worker_starts):
    _age()
    first = _check(example_project)
    second = _check(example_project)
    assert worker_starts == ["history"]
    assert second.model_dump() == first.model_dump()
    assert second.worker is not None and second.worker.python  # the interpreter of the kept import check


@pytest.mark.parametrize(
    "changed",
    ["migrations/env.py", "residency/models.py", "migrations/versions/a1f0c0de0001_initial_schema.py"],
)
def test_a_changed_input_runs_the_import_check_again(example_project, worker_starts, changed):
    _age()
    _check(example_project)
    _edit(example_project / changed, "\n# edited\n")
    _check(example_project)
    assert worker_starts == ["history", "history"]


def test_a_module_added_on_the_path_runs_the_import_check_again(example_project, worker_starts):
    """A new module in a folder the import system searched could shadow one env.py imports."""
    _age()
    _check(example_project)
    (example_project / "residency_extra.py").write_text("x = 1\n")
    _check(example_project)
    assert worker_starts == ["history", "history"]


def test_a_failed_import_check_is_never_kept(empty_project, worker_starts):
    write_revision(empty_project, "aaa", None, extra_header="import no_such_module_here")
    _age()
    first = _check(empty_project)
    _check(empty_project)
    assert any(f.rule == "revision-import-error" for f in first.findings)
    assert worker_starts == ["history", "history"]


def test_a_fresh_edit_is_caught_without_waiting(example_project, worker_starts):
    """An edit right after a kept check: the signature moved, so the worker runs and sees the new graph."""
    _age()
    _check(example_project)
    write_revision(example_project, "c3c3c3c3c3c3", "b2e1d1ce0002")
    result = _check(example_project)
    assert [h.revision for h in result.heads] == ["c3c3c3c3c3c3"]
    assert worker_starts == ["history", "history"]


def test_the_graph_reparses_exactly_the_changed_file(empty_project):
    paths = [write_revision(empty_project, f"r{i}", f"r{i - 1}" if i else None) for i in range(5)]
    project = load_project(empty_project, {})
    history_from_files(project)
    parses = cache.stats["parses"]
    history_from_files(project)
    assert cache.stats["parses"] == parses  # nothing changed: nothing parsed

    _edit(paths[2], "\n# a comment\n")
    history, parsed = history_from_files(project)
    assert cache.stats["parses"] == parses + 1
    assert "# a comment" in parsed["r2"].source

    paths[3].write_text(paths[3].read_text())  # rewritten, same content: the hash vouches for it
    history_from_files(project)
    assert cache.stats["parses"] == parses + 1
    assert history.heads == ["r4"]


def test_the_graph_is_built_again_only_when_a_file_changed(empty_project):
    """An unchanged history hands out the graph built last time (a copy the caller may change); an edit
    to one file parses that file alone and builds the graph again."""
    paths = [write_revision(empty_project, f"r{i}", f"r{i - 1}" if i else None) for i in range(4)]
    paths.append(write_revision(empty_project, "orphan", "missing"))  # a finding: the parent is not there
    project = load_project(empty_project, {})
    first, _ = history_from_files(project)
    built, reused, parses = files.stats["graph_built"], files.stats["graph_reused"], cache.stats["parses"]
    first.findings.clear()
    first.heads.append("not-a-head")
    second, parsed = history_from_files(project)
    assert (files.stats["graph_built"], files.stats["graph_reused"]) == (built, reused + 1)
    assert cache.stats["parses"] == parses
    assert [f.rule for f in second.findings] == ["missing-parent"] and "not-a-head" not in second.heads
    parsed.clear()  # the caller's own dict
    assert set(history_from_files(project)[1]) == {"r0", "r1", "r2", "r3", "orphan"}

    write_revision(empty_project, "r4", "r3")
    third, _ = history_from_files(project)
    assert cache.stats["parses"] == parses + 1  # the new file only
    assert files.stats["graph_built"] == built + 1
    assert sorted(third.heads) == ["orphan", "r4"]

    paths[4].write_text(paths[4].read_text().replace("down_revision = 'missing'", "down_revision = 'r4'"))
    fourth, _ = history_from_files(project)
    assert cache.stats["parses"] == parses + 2  # the edited file only
    assert files.stats["graph_built"] == built + 2
    assert fourth.heads == ["orphan"] and fourth.findings == []


def test_a_renamed_revision_id_is_seen(empty_project):
    path = write_revision(empty_project, "aaa", None)
    project = load_project(empty_project, {})
    history_from_files(project)
    path.write_text(path.read_text().replace("revision = 'aaa'", "revision = 'bbb'"))
    history, _ = history_from_files(project)
    assert list(history.nodes) == ["bbb"]


def test_second_review_reuses_the_render(example_project, worker_starts):
    _age()
    project = load_project(example_project, {})
    first = anyio.run(lambda: review_migration(project, revision="head", include_sql=True))
    second = anyio.run(lambda: review_migration(project, revision="head", include_sql=True))
    assert worker_starts == ["render_sql"]
    assert second.revisions[0].sql and second.revisions[0].sql == first.revisions[0].sql
    assert second.model_dump() == first.model_dump()

    _edit(example_project / "migrations" / "versions" / "b2e1d1ce0002_audit_log_and_acgme_compliance.py", "\n#\n")
    anyio.run(lambda: review_migration(project, revision="head", include_sql=True))
    assert worker_starts == ["render_sql", "render_sql"]


def test_squawk_lints_only_sql_it_has_not_seen(monkeypatch):
    if squawk.squawk_binary() is None:
        pytest.skip("squawk is not installed")
    linted: list[set[str]] = []
    real = squawk._run_squawk

    async def counting(binary, sql_by_revision, pg_version):
        linted.append(set(sql_by_revision))
        return await real(binary, sql_by_revision, pg_version)

    monkeypatch.setattr(squawk, "_run_squawk", counting)
    sql = {"a": "ALTER TABLE t ADD COLUMN c integer NOT NULL;\n", "b": "CREATE INDEX ix ON t (c);\n"}
    first = anyio.run(squawk.run_squawk, sql)
    second = anyio.run(squawk.run_squawk, {**sql, "c": "DROP TABLE t;\n"})
    assert linted == [{"a", "b"}, {"c"}]
    assert second["a"] == first["a"] and second["b"] == first["b"] and second["c"]


def test_inputs_record_files_opened_and_folders_listed(tmp_path):
    source = tmp_path / "read_me.txt"
    source.write_text("x")
    inputs.start()
    source.read_text()
    os.listdir(tmp_path)
    recorded = inputs.stop()
    assert recorded["files"][str(source)] == inputs.signature(str(source))
    assert recorded["dirs"][str(tmp_path)] == inputs.listing(str(tmp_path))
    assert str(source) in recorded["racy"]  # written a moment ago
    assert not recorded["overflow"]
    assert inputs.stop()["overflow"]  # not recording: nothing vouches for anything


def test_the_parse_cache_is_bounded(empty_project, monkeypatch):
    paths = [write_revision(empty_project, f"r{i}", f"r{i - 1}" if i else None) for i in range(4)]
    monkeypatch.setattr(cache, "MAX_FILES", 2)
    for path in paths:
        cache.parsed(path)
    assert list(cache._files) == [str(paths[2]), str(paths[3])]  # the least recently used went first
    monkeypatch.setattr(cache, "MAX_SOURCE_BYTES", len(paths[0].read_text()) + 1)
    cache.parsed(paths[0])
    assert list(cache._files) == [str(paths[0])]
    parses = cache.stats["parses"]
    cache.parsed(paths[0])
    assert cache.stats["parses"] == parses


def test_a_one_shot_process_keeps_no_reply(example_project, worker_starts):
    """Without a server (the CLI), nothing is tracked or kept: every call imports the files again."""
    reply_cache.enable(False)
    _age()
    _check(example_project)
    _check(example_project)
    assert worker_starts == ["history", "history"]


def test_a_server_keeps_replies(example_project):
    from alembic_mcp.server.app import build_server

    reply_cache.enable(False)
    build_server(str(example_project))
    assert reply_cache._enabled


def test_another_setting_for_the_worker_is_another_entry(example_project, worker_starts):
    _age()
    anyio.run(check_heads, load_project(example_project, {}))
    anyio.run(check_heads, load_project(example_project, {"url_env_vars": ["OTHER_DATABASE_URL"]}))
    anyio.run(check_heads, load_project(example_project, {}))
    assert worker_starts == ["history", "history"]
