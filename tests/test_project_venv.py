"""The six tools on a project whose own virtualenv lacks alembic-mcp (and pydantic, mcp, ...).

The project venv holds the project's SQLAlchemy and Alembic (1.4 with Alembic 1.9, and the newest
releases), psycopg2 and a small local package its models import; the server runs in this test's
interpreter and finds the venv as ``.venv`` in the project folder. Building a venv costs seconds of
pip, so each is built once per test session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from conftest import EXAMPLE, IN_CI, write_revision
from mcp import Client

from alembic_mcp.server.app import build_server

VENVS = {
    "sqlalchemy14": ["sqlalchemy>=1.4,<2", "alembic>=1.9,<1.10", "psycopg2-binary"],
    "newest": ["sqlalchemy>=2", "alembic>=1.16", "psycopg2-binary"],
}
LOCAL_PACKAGE = "shiftkit"


def _pip(venv: Path, *args: str) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        message = f"pip install {' '.join(args)} failed in the test venv: {done.stderr[-1500:]}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _write_local_package(root: Path) -> Path:
    """A tiny installable package the project's models import (absent from the server's interpreter)."""
    source = root / "shiftkit-src"
    (source / LOCAL_PACKAGE).mkdir(parents=True)
    (source / LOCAL_PACKAGE / "__init__.py").write_text('"""Shared column sizes."""\nNAME_LENGTH = 120\n')
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{LOCAL_PACKAGE}"\nversion = "0.1"\n'
    )
    return source


@pytest.fixture(scope="session", params=list(VENVS))
def project_venv(request, tmp_path_factory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(f"venv-{request.param}")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    _pip(venv, *VENVS[request.param])
    _pip(venv, str(_write_local_package(root)))
    return request.param, venv


def _project(tmp_path: Path, venv: Path) -> Path:
    """The example project, its models importing the local package, its venv linked as ``.venv``."""
    dest = tmp_path / "proj"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    models = dest / "residency" / "models.py"
    text = models.read_text().replace(
        "from sqlalchemy.orm import declarative_base\n",
        f"from sqlalchemy.orm import declarative_base\nfrom {LOCAL_PACKAGE} import NAME_LENGTH\n",
    )
    models.write_text(text.replace("name = Column(String(120)", "name = Column(String(NAME_LENGTH)"))
    (dest / ".venv").symlink_to(venv)
    return dest


def _call(server, tool: str, args: dict | None = None) -> dict:
    async def go():
        async with Client(server) as client:
            result = await client.call_tool(tool, args or {})
            assert not result.is_error, result.content[0].text
            return result.structured_content

    return anyio.run(go)


@pytest.mark.slow
@pytest.mark.postgres
def test_six_tools_run_in_the_projects_own_venv(project_venv, pg_url, tmp_path):
    flavour, venv = project_venv
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import alembic_mcp"], capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0, "the project venv must not have alembic-mcp"
    project = _project(tmp_path, venv)
    url = pg_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")  # SQLAlchemy 1.4 has no psycopg 3
    server = build_server(str(project), {"database_url": url})

    heads = _call(server, "check_heads")
    assert heads["verdict"] == "proceed", heads["summary"]
    worker = heads["worker"]
    assert worker["python"] == str(project / ".venv" / "bin" / "python")
    assert worker["chosen_by"].startswith("virtualenv")
    assert worker["sqlalchemy_version"].startswith("1.4." if flavour == "sqlalchemy14" else "2.")

    review = _call(server, "review_migration", {"revision": "base:head", "include_sql": True})
    assert review["verdict"] == "proceed", review["summary"]
    assert all("sql" in r["layers"] and r["sql"] for r in review["revisions"])

    roundtrip = _call(server, "test_roundtrip", {"from_revision": "base"})
    assert roundtrip["verdict"] == "proceed", roundtrip["summary"]
    assert [s["status"] for s in roundtrip["steps"]] == ["ok", "ok"]

    _run_alembic_upgrade(project, venv, url)
    _add_model_column(project)
    generated = _call(server, "generate_migration", {"message": "persons nickname", "rev_id": "c3d4e5f60003"})
    assert generated["verdict"] in ("proceed", "fix"), generated["summary"]
    assert list((project / "migrations" / "versions").glob("c3d4e5f60003_*.py"))

    for rev, table in (("d0000001", "rotations"), ("d0000002", "assignments")):
        up, down = f"op.add_column({table!r}, sa.Column('extra', sa.Integer))", f"op.drop_column({table!r}, 'extra')"
        write_revision(project, rev, "c3d4e5f60003", up, down)
    merged = _call(server, "merge_heads", {"message": "join d heads"})
    assert merged["verdict"] == "proceed", merged["summary"]
    assert _call(server, "check_heads")["heads"][0]["down_revisions"] == ["d0000001", "d0000002"]

    backup = _call(server, "backup_db")
    assert backup["verdict"] == "proceed", backup["summary"]


def _history_with_failures(project: Path) -> None:
    """After the example's head: a broken downgrade, a JSON conversion only seed text breaks, a one-way downgrade."""
    write_revision(
        project,
        "e0000001",
        "b2e1d1ce0002",
        """
        op.create_table("teams", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(40)))
        op.create_table("players", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("team_name", sa.String(40)))
        """,
        'op.drop_index("ix_players_nope", table_name="players")',
    )
    write_revision(
        project,
        "e0000002",
        "e0000001",
        'op.alter_column("players", "team_name", type_=JSONB(), postgresql_using="team_name::jsonb")',
        'op.alter_column("players", "team_name", type_=sa.String(40), postgresql_using="team_name::text")',
        extra_header="from sqlalchemy.dialects.postgresql import JSONB",
    )
    write_revision(project, "e0000003", "e0000002", "pass", 'raise RuntimeError("cannot downgrade past e0000003")')


@pytest.mark.slow
@pytest.mark.postgres
def test_rehearsal_goes_on_past_failures_in_the_projects_own_venv(project_venv, pg_url, tmp_path):
    """Statement probes (savepoints), re-runs without seed rows, rebuilds: on SQLAlchemy 1.4 / Alembic 1.9 too."""
    _, venv = project_venv
    project = _project(tmp_path, venv)
    _history_with_failures(project)
    url = pg_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    roundtrip = _call(
        build_server(str(project), {"database_url": url}), "test_roundtrip", {"from_revision": "b2e1d1ce0002"}
    )
    found = [(f["revision"], f["direction"], f["mode"]) for f in roundtrip["failures"]]
    assert found == [
        ("e0000001", "downgrade", "drop-of-missing-object"),
        ("e0000003", "downgrade", "deliberate-raise"),
    ], roundtrip["summary"]
    # the migration's own line, not SQLAlchemy's inside the project's .venv
    assert (roundtrip["failures"][0]["file"], roundtrip["failures"][0]["line"]) == (
        "migrations/versions/e0000001_rev.py",
        21,
    )
    assert roundtrip["failures"][1]["file"].endswith("e0000003_rev.py") and roundtrip["failures"][1]["line"]
    limits = roundtrip["seed_limitations"]
    assert [(s["revision"], s["phase"], s["mode"]) for s in limits] == [("e0000002", "upgrade", "type-mismatch")], (
        roundtrip
    )
    assert limits[0]["operation"]["op"] == "AlterColumnOp"
    assert [s["status"] for s in roundtrip["steps"]] == ["failed in downgrade", "ok", "failed in downgrade"]
    assert any("cannot downgrade past e0000003" in e["reason"] for e in roundtrip["escalations"])


@pytest.mark.slow
@pytest.mark.postgres
def test_seeds_through_env_pys_own_engine(project_venv, pg_url, tmp_path):
    """env.py that builds its own engine (superset's does) hands Alembic a 1.4 Connection without
    commit()/rollback() on SQLAlchemy 1.4: the seed rows still go in."""
    _, venv = project_venv
    project = _project(tmp_path, venv)
    env = project / "migrations" / "env.py"
    env.write_text(env.read_text().replace('connection = config.attributes.get("connection")', "connection = None"))
    url = pg_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    roundtrip = _call(build_server(str(project), {"database_url": url}), "test_roundtrip", {"from_revision": "base"})
    assert roundtrip["verdict"] == "proceed", roundtrip["summary"]
    assert roundtrip["seed"]["skipped"] == {}, roundtrip["seed"]
    assert set(roundtrip["seed"]["tables"]) >= {"persons", "rotations", "assignments"}


def _run_alembic_upgrade(project: Path, venv: Path, url: str) -> None:
    """The target at head, by the project's own Alembic (so generate compares against a real schema)."""
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "alembic", "upgrade", "head"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )


def _add_model_column(project: Path) -> None:
    models = project / "residency" / "models.py"
    models.write_text(
        models.read_text().replace(
            "    pgy_level = Column(Integer, nullable=True)\n",
            "    pgy_level = Column(Integer, nullable=True)\n    nickname = Column(String(40), nullable=True)\n",
            1,
        )
    )


def test_interpreter_without_alembic_is_a_clear_tool_error(tmp_path, example_project, sqlite_url):
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    (example_project / ".venv").symlink_to(venv)

    async def go(tool: str, args: dict):
        async with Client(build_server(str(example_project), {"database_url": sqlite_url})) as client:
            return await client.call_tool(tool, args)

    for tool, args in (("check_heads", {}), ("test_roundtrip", {}), ("generate_migration", {"message": "x"})):
        result = anyio.run(go, tool, args)
        assert result.is_error, tool
        message = result.content[0].text
        assert ".venv/bin/python" in message, message
        assert "no SQLAlchemy installed" in message and "no Alembic installed" in message
        assert "worker_python" in message and "pip install" in message


def test_bad_worker_python_setting_names_the_fix(example_project):
    async def go():
        server = build_server(str(example_project), {"worker_python": "no/such/python"})
        async with Client(server) as client:
            return await client.call_tool("check_heads", {})

    result = anyio.run(go)
    assert result.is_error
    assert "no/such/python" in result.content[0].text and "worker_python" in result.content[0].text


def test_import_failure_keeps_the_revision_in_the_graph(example_project):
    """A revision whose import fails is an import failure, not a missing parent or an extra head."""
    write_revision(example_project, "c0000001", "b2e1d1ce0002", extra_header="import no_such_dependency_xyz")
    write_revision(example_project, "c0000002", "c0000001")
    heads = _call(build_server(str(example_project)), "check_heads")
    rules = [f["rule"] for f in heads["findings"]]
    assert rules.count("revision-import-error") == 1
    assert "missing-parent" not in rules and "multiple-heads" not in rules
    assert [h["revision"] for h in heads["heads"]] == ["c0000002"] and heads["revision_count"] == 4
    assert "failed to import" in heads["summary"]


def test_unreadable_failing_file_softens_missing_parent(example_project):
    """A failing file whose ids are not literals may declare the missing parent: a warning, not restore advice."""
    path = write_revision(example_project, "c0000001", "b2e1d1ce0002", extra_header="import no_such_dependency_xyz")
    path.write_text(path.read_text().replace("revision = 'c0000001'", "revision = 'c000000' + '1'"))
    write_revision(example_project, "c0000002", "c0000001")
    heads = _call(build_server(str(example_project)), "check_heads")
    missing = [f for f in heads["findings"] if f["rule"] == "missing-parent"]
    assert missing and all(f["severity"] == "warning" for f in missing)
    assert "failed to import" in missing[0]["message"] and "Restore" not in missing[0]["fix"]


def test_worker_side_imports_only_stdlib_alembic_sqlalchemy_and_itself():
    """Everything loaded into the project's interpreter stays inside tools/worker/ (plus alembic, sqlalchemy)."""
    import ast

    worker = Path(__file__).resolve().parent.parent / "tools" / "worker"
    files = [worker / name for name in ("main.py", "protocol.py", "bootstrap.py", "revision_ids.py", "inputs.py")]
    files += sorted((worker / "ops").glob("*.py"))
    allowed_roots = set(sys.stdlib_module_names) | {"alembic", "sqlalchemy", "__future__"}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                ok = name.split(".")[0] in allowed_roots or name.startswith("alembic_mcp.tools.worker")
                assert ok and not name.startswith("alembic_mcp.tools.worker.runner"), f"{path.name} imports {name}"


def test_interpreter_discovery_order(tmp_path, monkeypatch):
    from alembic_mcp.tools.worker.interpreter import SERVER_INTERPRETER, find_worker_python

    def make_venv(folder: Path) -> Path:
        python = folder / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text("#!/bin/sh\n")
        python.chmod(0o755)
        return python

    project = tmp_path / "outer" / "proj"
    project.mkdir(parents=True)
    assert find_worker_python(project, None, {}).source == SERVER_INTERPRETER
    active = make_venv(tmp_path / "active")
    assert find_worker_python(project, None, {"VIRTUAL_ENV": str(tmp_path / "active")}).path == str(active)
    parent = make_venv(tmp_path / "outer" / "venv")
    found = find_worker_python(project, None, {"VIRTUAL_ENV": str(tmp_path / "active")})
    assert found.path == str(parent) and found.source.startswith("virtualenv")
    own = make_venv(project / ".venv")
    assert find_worker_python(project, None, {}).path == str(own)
    uv = make_venv(project / "uvenv")
    assert find_worker_python(project, None, {"UV_PROJECT_ENVIRONMENT": "uvenv"}).path == str(uv)
    assert find_worker_python(project, "uvenv", {}).path == str(uv)  # a venv folder is accepted too
    assert find_worker_python(project, "uvenv/bin/python", {}).source == "worker_python setting"


def test_poetry_environment_is_found_without_running_poetry(tmp_path):
    import base64
    import hashlib

    from alembic_mcp.tools.worker.interpreter import find_worker_python

    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.poetry]\nname = "My App"\n')
    digest = base64.urlsafe_b64encode(hashlib.sha256(str(project.resolve()).encode()).digest()).decode()[:8]
    python = tmp_path / "cache" / "virtualenvs" / f"my_app-{digest}-py3.11" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    found = find_worker_python(project, None, {"POETRY_CACHE_DIR": str(tmp_path / "cache")})
    assert found.path == str(python) and found.source.startswith("poetry environment")


def test_bootstrap_keeps_worker_modules_off_the_top_level():
    """Run by path, the bootstrap drops its own folder from sys.path: tools/worker/*.py never shadow user modules."""
    worker = Path(__file__).resolve().parent.parent / "tools" / "worker"
    code = textwrap.dedent(
        f"""
        import runpy, sys
        sys.path.insert(0, {str(worker)!r})  # what `python bootstrap.py` does
        runpy.run_path({str(worker / "bootstrap.py")!r})["install_worker_packages"]()
        import alembic_mcp.tools.worker.protocol as protocol
        print({str(worker)!r} in sys.path, "protocol" in sys.modules, sorted(protocol.OPS)[0])
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "generate"]


@pytest.mark.parametrize(
    ("alembic", "sqlalchemy", "named"),
    [("1.8.1", "1.4.54", "Alembic 1.8.1"), ("1.13.0", "1.3.24", "SQLAlchemy 1.3.24"), (None, "2.0.1", "no Alembic")],
)
def test_versions_outside_the_supported_range_are_named(alembic, sqlalchemy, named):
    from alembic_mcp.tools.worker.main import UnsupportedEnvironment, check_runtime
    from alembic_mcp.tools.worker.protocol import RuntimeInfo

    runtime = RuntimeInfo(
        python="/p/bin/python", python_version="3.11.7", alembic_version=alembic, sqlalchemy_version=sqlalchemy
    )
    with pytest.raises(UnsupportedEnvironment) as info:
        check_runtime(runtime)
    assert (
        named in str(info.value)
        and "/p/bin/python" in str(info.value)
        and "Supported: Python >= 3.9" in str(info.value)
    )
    check_runtime(RuntimeInfo("/p/bin/python", "3.11.7", "1.9.4", "1.4.54"))  # the oldest supported pair passes


def test_a_venv_made_elsewhere_is_skipped(tmp_path):
    """A mounted project's .venv whose base interpreter is not on this machine is not used."""
    from alembic_mcp.tools.worker.interpreter import SERVER_INTERPRETER, find_worker_python

    project = tmp_path / "proj"
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /nonexistent/python/bin\nversion = 3.12.1\n")
    assert find_worker_python(project, None, {}).source == SERVER_INTERPRETER
    (project / ".venv" / "pyvenv.cfg").write_text(f"home = {tmp_path}\n")
    assert find_worker_python(project, None, {}).path == str(python)
