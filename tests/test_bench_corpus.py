"""bench/corpus: a wheel's migrations become a working Alembic project; the roundtrip carries on correctly."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "corpus"))

import fetch
import run

REVISION = '''"""{rev}"""
revision = "{rev}"
down_revision = {down!r}

def upgrade():
    pass

def downgrade():
    pass
'''


def make_wheel(path: Path) -> Path:
    """A wheel-shaped zip holding app/migrations with two revisions, a cache file and an app module."""
    wheel = path / "app-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("app/__init__.py", "")
        archive.writestr("app/migrations/env.py", "from app.models import Base  # the app's own env.py\n")
        archive.writestr("app/migrations/versions/a1_first.py", REVISION.format(rev="a1", down=None))
        archive.writestr("app/migrations/versions/b2_second.py", REVISION.format(rev="b2", down="a1"))
        archive.writestr("app/migrations/versions/__pycache__/a1_first.cpython-311.pyc", b"\0")
    return wheel


ENTRY = {"name": "app", "dist": "app", "version": "1.0", "migrations": "app/migrations", "env": "minimal"}


def test_a_wheels_migrations_become_an_alembic_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    count = fetch.extract_migrations(make_wheel(tmp_path), ENTRY, project)
    fetch.write_env(ENTRY, project, "minimal")
    notes = fetch.ensure_script_template(project)
    fetch.write_config(ENTRY, project, "minimal")

    assert count == 2
    assert not (project / "migrations" / "versions" / "__pycache__").exists()
    assert "target_metadata = None" in (project / "migrations" / "env.py").read_text()
    assert "from app.models" in (project / "migrations" / "env_upstream.py").read_text()
    assert notes and (project / "migrations" / "script.py.mako").is_file()
    script = ScriptDirectory.from_config(Config(str(project / "alembic.ini")))
    assert script.get_heads() == ["b2"]


def test_the_flask_adapter_and_the_app_config_are_written(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    fetch.extract_migrations(make_wheel(tmp_path), ENTRY, project)
    entry = {**ENTRY, "env": "adapter", "adapter_app": "app.web:make_app", "adapter_setup": "app.extra = 1",
             "app_config": "HOME = '{home}'\n", "app_config_file": "app.conf", "url_env_vars": ["APP_DB"]}  # fmt: skip
    fetch.write_env(entry, project, "adapter")
    fetch.write_config(entry, project, "adapter")

    adapter = (project / "migrations" / "env.py").read_text()
    compile(adapter, "env.py", "exec")
    assert '"app.web:make_app"' in adapter and "    app.extra = 1\n" in adapter
    assert (project / "app.conf").read_text() == f"HOME = '{project / '.app-home'}'\n"
    assert 'url_env_vars = ["APP_DB"]' in (project / "pyproject.toml").read_text()


def call(start: str, *failures: tuple[str, str], revisions: list[str] | None = None) -> dict:
    found = [{"revision": revision, "phase": phase} for revision, phase in failures]
    return {"from": start, "failures": found, "revisions": revisions or []}


ORDER = ["r1", "r2", "r3", "r4"]


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([call("base", revisions=ORDER)], None),
        ([call("base", ("r2", "downgrade"), revisions=ORDER)], "r2"),
        ([call("base", ("r2", "upgrade"), revisions=ORDER)], "r2"),
        ([call("base", ("r2", "upgrade"), revisions=ORDER), call("r2", ("r2", "prepare"))], None),
        ([call("base", ("r2", "re-upgrade"), revisions=ORDER), call("r2", ("r2", "downgrade"))], None),
        ([call("base", ("r4", "downgrade"), revisions=ORDER)], None),
        ([call("base", revisions=ORDER) | {"error": "timeout"}], None),
    ],
    ids=["no failure", "downgrade", "upgrade", "start unreachable", "no progress", "last revision", "no answer"],
)
def test_the_roundtrip_carries_on_only_forward(calls, expected):
    assert run.resume_point(calls) == expected
