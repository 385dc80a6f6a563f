"""The shared core: configuration loading, URL masking, scratch databases, the worker runner."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import ProjectError, WorkerFailed
from alembic_mcp.tools.core.urls import mask_url, mask_url_text, redact
from alembic_mcp.tools.db import scratch
from alembic_mcp.tools.worker.runner import WorkerError, run_worker

# --- configuration -------------------------------------------------------------------------------


def test_precedence_pyproject_env_flags(example_project, sqlite_url):
    project = load_project(example_project, environ={})
    assert project.settings.protected_tables == ["acgme_*"]
    assert str(project.database_url).endswith("residency/residency.db")  # alembic.ini, made absolute
    project = load_project(
        example_project, environ={"ALEMBIC_MCP_PROTECTED_TABLES": "a_*, b_*", "DATABASE_URL": sqlite_url}
    )
    assert project.settings.protected_tables == ["a_*", "b_*"]
    assert project.database_url_source == "$DATABASE_URL"
    project = load_project(example_project, {"database_url": "sqlite:///flag.db"}, environ={"DATABASE_URL": sqlite_url})
    assert project.database_url.database == str(example_project / "flag.db")


def test_unknown_keys_rejected_by_name(example_project):
    with pytest.raises(ProjectError, match="ALEMBIC_MCP_NOPE"):
        load_project(example_project, environ={"ALEMBIC_MCP_NOPE": "1"})
    pyproject = example_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "colour = 'red'\n")
    with pytest.raises(ProjectError, match="colour"):
        load_project(example_project, environ={})


def test_invalid_setting_values(example_project):
    with pytest.raises(ProjectError, match="large_migration_rows"):
        load_project(example_project, {"large_migration_rows": -5}, environ={})
    with pytest.raises(ProjectError, match="environment"):
        load_project(example_project, {"environment": "prodd"}, environ={})


def test_pyproject_tool_alembic_without_ini(tmp_path):
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    project = load_project(tmp_path, environ={})
    assert project.alembic_ini is None and project.script_location == tmp_path / "migrations"


def test_project_errors(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path / "missing", environ={})
    (tmp_path / "f").write_text("x")
    with pytest.raises(ProjectError, match="is a file"):
        load_project(tmp_path / "f", environ={})
    with pytest.raises(ProjectError, match="No Alembic configuration"):
        load_project(tmp_path, environ={})
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = nowhere\n")
    with pytest.raises(ProjectError, match="script_location"):
        load_project(tmp_path, environ={})


# --- URL masking ---------------------------------------------------------------------------------


def test_mask_and_redact():
    url = "postgresql+asyncpg://app:hunter2@db.example:5432/prod"
    assert mask_url(url) == "postgresql+asyncpg://app:***@db.example:5432/prod"
    text = f"could not connect to {url}: password hunter2 rejected"
    assert "hunter2" not in redact(text, url)
    assert "hunter2" not in redact("mysql://root:hunter2@x/y failed")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("a://b:c@d", "a://b:***@d"),
        ("x a+b.c-d://user:pw@h and e://u:p@h2", "x a+b.c-d://user:***@h and e://u:***@h2"),
        ("a://bc://u:p@h", "a://bc:***@h"),  # the first :// owns the userinfo, as with the URL grammar
        ("1://u:p@h", "1://u:p@h"),  # a scheme starts with a letter
        ("a://u:p q@h", "a://u:p q@h"),  # whitespace ends a password
        ("a://u/p:q@h", "a://u/p:q@h"),  # a slash ends the user name
        ("a://u:p@h://v:q@i", "a://u:***@h://v:***@i"),
        ("://u:p@h", "://u:p@h"),
    ],
)
def test_mask_url_text_cases(text, masked):
    assert mask_url_text(text) == masked


@pytest.mark.parametrize(
    "hostile",
    ["a" * 1_000_000, ("a" * 50 + "://") * 20_000, ("x://u:" + "p" * 10) * 60_000, "a://" + ":" * 1_000_000],
)
def test_mask_url_text_handles_a_megabyte_of_hostile_text(hostile):
    """These shapes made the old regex backtrack for minutes; the scanner visits each character a bounded
    number of times (bench/bench_redact.py shows the linear growth)."""
    assert mask_url_text(hostile + " pg://u:secret@h").endswith(" pg://u:***@h")


# --- scratch databases ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_target(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 't.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url")


def test_scratch_created_and_dropped(any_target):
    async def go():
        async with scratch.scratch_database(any_target) as db:
            names = await scratch.list_scratch(any_target)
            assert db.name in names
            assert db.url.database.endswith(db.name) or db.url.database.endswith(db.name + ".db")
        assert db.dropped
        assert db.name not in await scratch.list_scratch(any_target)

    anyio.run(go)


def test_scratch_dropped_on_error_and_cancel(any_target):
    async def failing():
        async with scratch.scratch_database(any_target) as db:
            names.append(db.name)
            raise RuntimeError("boom")

    async def cancelled():
        with anyio.move_on_after(0.2):
            async with scratch.scratch_database(any_target) as db:
                names.append(db.name)
                await anyio.sleep(5)

    names: list[str] = []
    with pytest.raises(RuntimeError):
        anyio.run(failing)
    anyio.run(cancelled)
    left = anyio.run(scratch.list_scratch, any_target)
    assert not set(names) & set(left)


def test_sweep_drops_orphans_at_once_and_old_ownerless_ones_by_age(any_target):
    async def go():
        live = await scratch.create_scratch(any_target)
        orphan = await scratch.create_scratch(any_target)
        await orphan.owner.release()  # what the owner's death does: its lock goes, the database stays
        orphan.owner = None
        legacy_old = await _ownerless(any_target, f"{scratch.PREFIX}_{int(time.time()) - 90000}_abcd1234")
        legacy_new = await _ownerless(any_target, f"{scratch.PREFIX}_{int(time.time())}_abcd5678")
        before = set(await scratch.list_scratch(any_target))
        dropped = await scratch.sweep_stale(any_target)
        remaining = set(await scratch.list_scratch(any_target))
        await scratch.drop_scratch(live)
        await scratch.drop_scratch(orphan)
        await scratch.drop_scratch(legacy_new)
        await scratch.drop_scratch(legacy_old)
        return live.name, orphan.name, legacy_old.name, legacy_new.name, before, dropped, remaining

    live, orphan, legacy_old, legacy_new, before, dropped, remaining = anyio.run(go)
    assert {live, orphan, legacy_old, legacy_new} <= before
    assert orphan in dropped and legacy_old in dropped
    assert live in remaining and legacy_new in remaining
    assert not {live, orphan, legacy_old, legacy_new} & set(anyio.run(scratch.list_scratch, any_target))
    assert not scratch.live_in_this_process()


async def _ownerless(target, name):
    """A scratch database as versions without owner locks made them."""
    original = scratch.new_name
    scratch.new_name = lambda: name
    try:
        made = await scratch.create_scratch(target)
    finally:
        scratch.new_name = original
    await made.owner.release()
    made.owner = None
    if made.backend == "sqlite":
        (Path(made.url.database).parent / "owner.lock").unlink()
    return made


# --- the worker ----------------------------------------------------------------------------------


def test_worker_reports_user_errors_with_file_and_line(example_project):
    (example_project / "migrations" / "versions" / "zz_bad.py").write_text("revision = 'zz'\nx = 1/0\n")
    env = example_project / "migrations" / "env.py"
    env.write_text(env.read_text() + "\nimport sys\nprint('noise on stdout')\nprint('diag', file=sys.stderr)\n")
    project = load_project(example_project, environ={})
    raw = anyio.run(lambda: run_worker(project, "history", {"check_env": True}))
    err = raw["load_errors"][0]
    assert err["type"] == "ZeroDivisionError" and err["line"] == 2
    with pytest.raises(WorkerError) as info:
        anyio.run(lambda: run_worker(project, "no_such_op", {}))
    assert "no_such_op" in str(info.value)


def test_worker_timeout_kills_the_process(example_project, tmp_path):
    """The hung worker is killed. On a loaded machine env.py may not have started before the timeout,
    so what env.py did is checked only when it wrote its pid: no assertion depends on an idle machine."""
    pid_file = tmp_path / "env.pid"
    env = example_project / "migrations" / "env.py"
    env.write_text(
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('about to hang', file=sys.stderr, flush=True)\n"
        "time.sleep(600)\n"
    )
    project = load_project(example_project, environ={})
    with pytest.raises(WorkerFailed) as info:
        anyio.run(lambda: run_worker(project, "history", {"check_env": True}, timeout_s=3))
    assert info.value.timed_out
    if pid_file.exists() and pid_file.read_text():
        assert "about to hang" in info.value.stderr
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)


def test_worker_crash_keeps_stderr_redacted(example_project):
    env = example_project / "migrations" / "env.py"
    env.write_text(
        "import os, sys\nprint('url=' + os.environ['DATABASE_URL'], file=sys.stderr, flush=True)\nos._exit(7)\n"
    )
    project = load_project(example_project, {"database_url": "postgresql://u:topsecret@127.0.0.1/x"}, environ={})
    with pytest.raises(WorkerFailed) as info:
        anyio.run(
            lambda: run_worker(
                project,
                "history",
                {"check_env": True},
                database_url="postgresql://u:topsecret@127.0.0.1/x_scratch",  # never the target's own URL
            )
        )
    assert "exited with code 7" in str(info.value)
    assert "url=postgresql://u:***@127.0.0.1/x_scratch" in info.value.stderr
    assert "topsecret" not in info.value.stderr and "topsecret" not in str(info.value)
