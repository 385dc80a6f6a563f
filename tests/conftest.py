"""Shared fixtures: real database servers (PostgreSQL, MariaDB), SQLite, and throwaway project copies.

A test that needs a server it cannot reach fails when CI=true and is skipped with the reason elsewhere.
Markers come from the fixtures a test uses (see ``pytest_collection_modifyitems``): ``postgres``,
``mariadb``, ``subprocess`` (it starts interpreters), and ``slow`` for all of those, so
``pytest -m "not slow"`` is the quick loop over rule cases and pure functions.
"""

from __future__ import annotations

import os
import secrets
import shutil
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "residency"
PG_SERVER = os.environ.get("AMCP_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MARIADB_SERVER = os.environ.get("AMCP_TEST_MARIADB_SERVER", "mysql+pymysql://root@127.0.0.1:3306/")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


SERVER_FIXTURES = {"pg_url": "postgres", "pg_async_url": "postgres", "mariadb_url": "mariadb"}
# The tools run a project's env.py and migrations in worker interpreters.
SUBPROCESS_FIXTURES = {"example_project", "empty_project"}
PARAM_SERVERS = {"postgres": {"postgres", "postgresql"}, "mariadb": {"mariadb", "mysql"}}
SLOW_MARKERS = ("postgres", "mariadb", "subprocess")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the servers and interpreters its fixtures bring in; all of those are slow."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in SERVER_FIXTURES.items():
            if fixture in names:
                item.add_marker(marker)
        # Fixtures parametrised over backends (e.g. ``any_target``) name the server in their parameter.
        params = {str(value) for value in getattr(getattr(item, "callspec", None), "params", {}).values()}
        for marker, backend_names in PARAM_SERVERS.items():
            if params & backend_names:
                item.add_marker(marker)
        if names & SUBPROCESS_FIXTURES:
            item.add_marker("subprocess")
        if any(item.get_closest_marker(marker) for marker in SLOW_MARKERS):
            item.add_marker("slow")


def _unavailable(what: str, exc: Exception):
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(message + "; CI=true requires it", pytrace=False)
    pytest.skip(message)


def _make_database(server_url: str, kind: str) -> str:
    name = f"amcp_test_{secrets.token_hex(5)}"
    engine = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' if kind == "pg" else f"CREATE DATABASE `{name}`"))
    except Exception as exc:
        _unavailable("PostgreSQL" if kind == "pg" else "MariaDB", exc)
    finally:
        engine.dispose()
    return name


def _drop_database(server_url: str, kind: str, name: str) -> None:
    engine = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                if kind == "pg"
                else f"DROP DATABASE IF EXISTS `{name}`"
            )
        )
    engine.dispose()


def _scratch_names(server_url: str) -> set[str] | None:
    """Scratch databases on a server now; None when the server cannot be reached."""
    import anyio

    from alembic_mcp.tools.db import scratch

    try:
        return set(anyio.run(scratch.list_scratch, server_url))
    except Exception:
        return None


@pytest.fixture(scope="session", autouse=True)
def no_leaked_scratch_databases():
    """Fails the session if it leaves a scratch database behind: one this process still holds, or one on
    the PostgreSQL or MariaDB server that appeared during the session and whose owner is gone."""
    import anyio

    from alembic_mcp.tools.db import scratch

    before = {server: _scratch_names(server) for server in (PG_SERVER, MARIADB_SERVER)}
    yield
    from alembic_mcp.tools.db.scratch_later import wait_for_drops

    wait_for_drops()  # the drops left running after a result (they may fail: then the owner is gone, below)
    leaked = scratch.live_in_this_process()
    for server, known in before.items():
        if known is not None:
            leaked |= {name for name in anyio.run(scratch.orphaned, server) if name not in known}
    if leaked:
        pytest.fail(f"the test session leaked scratch databases: {', '.join(sorted(leaked))}", pytrace=False)


@pytest.fixture
def pg_url():
    """URL (sync psycopg driver) of a fresh, empty PostgreSQL database, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = _make_database(PG_SERVER, "pg")
    yield make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    _drop_database(PG_SERVER, "pg", name)


@pytest.fixture
def pg_async_url(pg_url):
    """The same fresh PostgreSQL database through asyncpg."""
    return pg_url.replace("postgresql+psycopg://", "postgresql+asyncpg://")


@pytest.fixture
def mariadb_url():
    """URL (pymysql) of a fresh, empty MariaDB database, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = _make_database(MARIADB_SERVER, "mariadb")
    yield make_url(MARIADB_SERVER).set(database=name).render_as_string(hide_password=False)
    _drop_database(MARIADB_SERVER, "mariadb", name)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'target.db'}"


@pytest.fixture
def example_project(tmp_path) -> Path:
    """A private copy of examples/residency (its migrations, env.py and models)."""
    dest = tmp_path / "residency"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    return dest


def write_revision(
    project: Path,
    revision: str,
    down: str | tuple | None,
    upgrade: str = "pass",
    downgrade: str = "pass",
    message: str | None = None,
    versions: str = "migrations/versions",
    extra_header: str = "",
) -> Path:
    """Write a migration file; ``upgrade``/``downgrade`` are function bodies (dedented)."""
    body_up = textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    ")
    body_down = textwrap.indent(textwrap.dedent(downgrade).strip() or "pass", "    ")
    path = project / versions / f"{revision}_{(message or 'rev').replace(' ', '_')}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'"""{message or "revision " + revision}\n\nRevision ID: {revision}\n"""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n"
        f"{extra_header}\n"
        f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body_up}\n\n\ndef downgrade() -> None:\n{body_down}\n"
    )
    return path


@pytest.fixture
def empty_project(tmp_path) -> Path:
    """The example project with its versions folder emptied (same env.py and models)."""
    dest = tmp_path / "proj"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    for f in (dest / "migrations" / "versions").glob("*.py"):
        f.unlink()
    return dest


@pytest.fixture
def anyio_backend():
    return "asyncio"
