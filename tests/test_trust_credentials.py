"""Credentials that hide: a password in the URL's query string, an unescaped ``@`` in the password, the
target's password in the worker's starting environment (``/proc/self/environ``), and target URLs that
differ only by a default port written out or the host's case.

Regression tests for a hostile review of main; the CLI runs against the real PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from conftest import EXAMPLE, PG_SERVER
from sqlalchemy.engine import make_url

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.isolation import is_target, worker_environment
from alembic_mcp.tools.core.url_text import parse_url_parts
from alembic_mcp.tools.core.urls import mask_url, mask_url_text, redact
from alembic_mcp.tools.worker.prestart import starting_environment

QUERY_PW_URL = "postgresql://postgres@127.0.0.1:1/postgres?password=hunter2"  # port 1: nothing listens
TARGET_WITH_PASSWORD = "postgresql://postgres:hunter2@127.0.0.1:5432/postgres"  # the server trusts: any password


def _project(tmp_path: Path, env_py_prefix: str = "") -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    env_py = dest / "migrations" / "env.py"
    env_py.write_text(env_py_prefix + env_py.read_text())
    return dest


def _check_heads(project: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "alembic_mcp.server", "check-heads", "--project", str(project), "--json", *flags]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------ masking


@pytest.mark.parametrize("key", ["password", "sslpassword", "passwd", "PASSWORD"])
def test_a_query_string_password_is_masked(key, tmp_path):
    url = f"postgresql://postgres@127.0.0.1:1/postgres?sslmode=require&{key}=hunter2"
    assert "hunter2" not in mask_url(url)
    assert "hunter2" not in mask_url(make_url(url))
    assert "sslmode=require" in mask_url(url)
    assert "hunter2" not in mask_url_text(f"could not connect to {url}: refused")
    assert "hunter2" not in redact("failed: password hunter2 rejected", url)
    assert "hunter2" not in redact("failed: password hunter2 rejected", make_url(url))
    project = load_project(_project(tmp_path), None, {"DATABASE_URL": url})
    assert "hunter2" not in (project.masked_database_url or "")


def test_a_keyword_dsn_password_in_free_text_is_masked():
    assert mask_url_text("connect(host=db user=app password=hunter2 dbname=x)") == (
        "connect(host=db user=app password=*** dbname=x)"
    )


@pytest.mark.parametrize(
    "url", ["postgresql://bob:p@ss@db.internal/app", "postgresql://bob:a@b@c@db.internal:5432/app?x=1"]
)
def test_an_unescaped_at_in_the_password_is_not_partly_shown(url):
    for masked in (mask_url(url), mask_url(make_url(url)), mask_url_text(f"see {url} now")):
        userinfo_end = masked.index("***") + 3
        assert masked[userinfo_end:].startswith("@db.internal"), masked
        assert "ss@" not in masked and "b@c" not in masked, masked


@pytest.mark.subprocess
def test_check_heads_output_does_not_show_a_query_string_password(tmp_path):
    out = _check_heads(_project(tmp_path), {**os.environ, "DATABASE_URL": QUERY_PW_URL})
    assert "127.0.0.1:1" in out.stdout + out.stderr  # the URL (or the error naming it) is shown, masked
    assert "hunter2" not in out.stdout + out.stderr


# ------------------------------------------------------------------ the worker's environment


def test_a_query_string_password_is_scrubbed_from_the_worker_environment():
    target = parse_url_parts("postgresql://bob@db.internal/app?password=hunter2")
    assert target is not None
    environ = {"PGPASSWORD": "hunter2", "NOTE": "pw is hunter2", "HOME": "/home/bob"}
    _, removed = worker_environment(target, "postgresql://", ["DATABASE_URL"], environ)
    assert removed == ["NOTE", "PGPASSWORD"]  # DATABASE_URL is set, to the dialect-only URL
    as_sqlalchemy = make_url("postgresql://bob@db.internal/app?password=hunter2")
    assert worker_environment(as_sqlalchemy, "postgresql://", ["DATABASE_URL"], environ)[1] == removed


def test_the_starting_environment_carries_no_credential():
    environ = {
        "DATABASE_URL": "postgresql://app:hunter2@db/app",
        "PGPASSWORD": "hunter2",
        "PGPASSFILE": "/home/app/.pgpass",
        "MYSQL_PWD": "other-secret",
        "APP_DSN": "host=db dbname=app user=app password=hunter3",
        "REPLICA": "mysql+pymysql://app@replica/app?passwd=hunter4",
        "PLAIN_COPY": "hunter2",
        "COPY_OF_DSN_PASSWORD": "x-hunter3-x",
        "HOME": "/home/app",
        "PATH": "/usr/bin:/bin",
        "PGHOST": "db",
    }
    assert starting_environment(environ) == {"HOME": "/home/app", "PATH": "/usr/bin:/bin", "PGHOST": "db"}


def test_a_one_letter_password_does_not_empty_the_environment():
    environ = {"DATABASE_URL": "postgresql://app:a@db/app", "PASSWORD_COPY": "a", "PATH": "/usr/bin:/bin"}
    assert starting_environment(environ) == {"PATH": "/usr/bin:/bin"}


def _environ_logging_env_py(log: Path) -> str:
    return (
        f"with open('/proc/self/environ', 'rb') as _src, open({str(log)!r}, 'ab') as _dst:\n"
        "    _dst.write(_src.read() + b'\\n')\n"
    )


@pytest.mark.subprocess
def test_user_code_cannot_read_the_target_password_from_proc_environ(tmp_path):
    log = tmp_path / "proc.txt"
    project = _project(tmp_path, _environ_logging_env_py(log))
    env = {
        **os.environ,
        "DATABASE_URL": TARGET_WITH_PASSWORD,
        "PGPASSWORD": "hunter2",
        "APP_DSN": "host=127.0.0.1 dbname=postgres user=postgres password=hunter2",
        "APP_SECRET": "hunter2",
    }
    out = _check_heads(project, env)
    assert json.loads(out.stdout)["revision_count"] > 0, out.stderr  # env.py ran in the worker
    assert log.exists() and b"hunter2" not in log.read_bytes()
    assert b"HOME=" in log.read_bytes()  # the rest of the environment is still there


@pytest.mark.subprocess
def test_a_password_only_the_flag_names_never_reaches_a_worker(tmp_path):
    """The pre-started worker cannot know the target (it comes from a flag): it started with APP_SECRET,
    so it is not used; the request's own worker starts without it."""
    log = tmp_path / "proc.txt"
    project = _project(tmp_path, _environ_logging_env_py(log))
    env = {**os.environ, "APP_SECRET": "hunter2-from-elsewhere"}
    env.pop("DATABASE_URL", None)
    url = "postgresql://postgres:hunter2-from-elsewhere@127.0.0.1:5432/postgres"
    out = _check_heads(project, env, "--database-url", url)
    assert json.loads(out.stdout)["revision_count"] > 0, out.stderr
    assert log.exists() and b"hunter2" not in log.read_bytes()


# ------------------------------------------------------------------ is_target


def test_the_default_port_written_out_is_still_the_target():
    target = parse_url_parts("postgresql://bob:pw@db.internal/app")
    assert is_target("postgresql://bob@db.internal:5432/app", target)
    assert is_target("postgresql://bob@DB.INTERNAL/app", target)
    assert is_target("postgresql+asyncpg://bob@db.internal/app", parse_url_parts("postgresql://x@Db.Internal:5432/app"))
    assert is_target("mariadb://root@db:3306/app", make_url("mysql+pymysql://root@DB/app"))
    assert not is_target("postgresql://bob@db.internal:5433/app", target)
    assert not is_target("mysql://bob@db.internal:5432/app", parse_url_parts("mysql://bob@db.internal/app"))


# ------------------------------------------------------------------ scratch access without PGPASSWORD


@pytest.mark.postgres
def test_shared_scratch_credentials_carry_the_password_the_worker_no_longer_inherits(monkeypatch):
    """With scratch_credentials = "target", user code logs in as the server does: the password the server
    reads from PGPASSWORD is written into the scratch URL, since workers start without PGPASSWORD."""
    from alembic_mcp.tools.db.scratch import scratch_database

    monkeypatch.setenv("PGPASSWORD", "from-the-environment")

    async def scratch_urls() -> tuple[str, str]:
        async with scratch_database(PG_SERVER, None, "target") as shared:
            shared_url = shared.url_string
        async with scratch_database(PG_SERVER) as own:
            own_url = own.url_string
        return shared_url, own_url

    shared_url, own_url = anyio.run(scratch_urls)
    assert make_url(shared_url).password == "from-the-environment"
    assert make_url(own_url).password not in (None, "from-the-environment")  # the scratch role's own


@pytest.mark.subprocess
def test_a_spare_worker_is_used_only_when_it_started_without_what_the_request_removes(monkeypatch):
    from alembic_mcp.tools.worker import prestart

    monkeypatch.setenv("APP_DB_NAME", "appdb")  # the request removes it: it names the target's database
    taken = []
    try:
        prestart.prestart(sys.executable)  # started before the request is known: it holds APP_DB_NAME
        assert prestart.take_prestarted(sys.executable, ["APP_DB_NAME"]) is None
        prestart.prestart(sys.executable)  # the next spare starts without it
        taken.append(prestart.take_prestarted(sys.executable, ["APP_DB_NAME"]))
        assert taken[0] is not None
        assert b"APP_DB_NAME" not in Path(f"/proc/{taken[0].pid}/environ").read_bytes()
        prestart.prestart(sys.executable)  # a request that keeps APP_DB_NAME does not get a spare without it
        assert prestart.take_prestarted(sys.executable, []) is None
    finally:
        for process in taken:
            if process is not None:
                prestart.kill_group(process.pid)
                process.wait()
        prestart.stop_workers()
