"""The cold check_heads path: the CLI sends the worker its request before loading the project the usual way.

What is checked here: the early request is exactly the one the usual path builds (or none is sent), the
settings errors and URL errors are still the usual path's, and the CLI answers the same with and without
it (verdicts, findings, masked URLs, exit codes). No timing: the benchmark measures speed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import typing
from pathlib import Path

import pytest
from conftest import EXAMPLE

from alembic_mcp.server import cli
from alembic_mcp.tools.core.config import Settings, load_project
from alembic_mcp.tools.core.errors import AlembicMcpError, ProjectError
from alembic_mcp.tools.core.project_files import SETTING_NAMES
from alembic_mcp.tools.heads import cold
from alembic_mcp.tools.history.graph import history_worker_url
from alembic_mcp.tools.worker.protocol import HistoryArgs
from alembic_mcp.tools.worker.runner import build_request, worker_python

CLI_FLAGS = {"database_url": None, "scratch_url": None, "read_only": None, "tools": None}


@pytest.fixture
def project_files(tmp_path) -> Path:
    """A copy of the example's files (this fixture starts no interpreter)."""
    dest = tmp_path / "proj"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    return dest


def _usual_request(project_dir: Path, overrides: dict, environ: dict):
    project = load_project(project_dir, overrides, environ)
    url = history_worker_url(project)
    return build_request(project, "history", HistoryArgs(check_env=True), url, None, False, "", environ)


def _with_settings(project: Path, lines: str) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + lines)


ENVIRON = {
    "HOME": "/home/someone",
    "SITE_URL": "https://example.com/app",
    "DATABASE_URL": "postgresql+asyncpg://app:s3cr%40t@db.internal:5433/appdb",
    "PGDATABASE": "appdb",
    "NOTE": "the password is s3cr@t",
    "OTHER": "mysql://x@elsewhere/appdb",
}


@pytest.mark.parametrize(
    "settings, overrides, environ",
    [
        ("", {}, {}),
        ("", {}, ENVIRON),
        ('version_table = "vt"\nenvironment = "production"\nproduction_hosts = ["db.internal"]\n', {}, ENVIRON),
        ('url_env_vars = ["APP_DB"]\n', {}, {"APP_DB": "sqlite:///data/app.db", "X": "data"}),
        ("", {"database_url": "postgresql://u:p@h/db", "read_only": True}, {"PGPASSWORD": "p"}),
        ("", {}, {"DATABASE_URL": "postgresql://u@h/db?password=hunter2", "APP_PW": "xhunter2x", "HOME": "/h"}),
        ('database_url = "mariadb+pymysql://root@[::1]:3306/x?charset=utf8mb4"\n', {}, {}),
        ('worker_python = "' + sys.executable + '"\n', {}, {}),
    ],
)
def test_the_early_request_is_the_one_the_usual_path_builds(project_files, settings, overrides, environ):
    _with_settings(project_files, settings)
    python, request = cold.history_request(project_files, {**CLI_FLAGS, **overrides}, environ)
    assert request == _usual_request(project_files, {**CLI_FLAGS, **overrides}, environ)
    assert python == worker_python(load_project(project_files, overrides, environ)).path


def test_the_early_request_scrubs_the_environment_it_is_given(project_files):
    _, request = cold.history_request(project_files, CLI_FLAGS, ENVIRON)
    # NOTE holds the password, PGDATABASE names the database; OTHER is another host, SITE_URL no database
    assert request.unset_env == ["NOTE", "PGDATABASE"]
    assert request.env == {"DATABASE_URL": "postgresql+asyncpg://"}
    query_password = {"DATABASE_URL": "postgresql://u@h/db?password=hunter2", "PGPASSWORD": "hunter2", "HOME": "/h"}
    _, request = cold.history_request(project_files, CLI_FLAGS, query_password)
    assert request.unset_env == ["PGPASSWORD"]


def test_no_url_and_a_toml_configuration_give_the_same_request(project_files):
    ini = (project_files / "alembic.ini").read_text()
    (project_files / "alembic.ini").unlink()
    _with_settings(project_files, '\n[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    assert "driver://" not in ini
    _, request = cold.history_request(project_files, CLI_FLAGS, {})
    assert request == _usual_request(project_files, CLI_FLAGS, {})
    assert request.database_url is None and request.unset_env == ["DATABASE_URL"]


@pytest.mark.parametrize(
    "settings, environ",
    [
        ("max_workers = 2\n", {}),  # a number with bounds: validated by the usual path only
        ('bootstrap = "schema.sql"\n', {}),  # a validated setting
        ('environment = "prod"\n', {}),  # not one of the words: the usual path refuses it
        ("production_hosts = 3\n", {}),
        ("", {"ALEMBIC_MCP_URL_ENV_VARS": "A,B"}),  # a string the usual path splits
        ("", {"ALEMBIC_MCP_READ_ONLY": "true"}),  # a string the usual path converts
        ('database_url = "notaurl"\n', {}),
        ('worker_python = "/no/such/python"\n', {}),
    ],
)
def test_nothing_is_sent_when_the_usual_path_must_decide(project_files, settings, environ):
    _with_settings(project_files, settings)
    assert cold.history_request(project_files, CLI_FLAGS, environ) is None


def test_settings_errors_are_still_the_usual_paths(project_files, monkeypatch):
    _with_settings(project_files, "bogus_key = 1\n")
    assert cold.history_request(project_files, CLI_FLAGS, {}) is None
    with pytest.raises(ProjectError, match=r"Unknown key in .*bogus_key.*Known keys"):
        load_project(project_files, CLI_FLAGS, {})
    monkeypatch.setenv("ALEMBIC_MCP_NO_SUCH", "1")
    with pytest.raises(ProjectError, match="Unknown environment variable ALEMBIC_MCP_NO_SUCH"):
        cold.history_request(project_files, CLI_FLAGS)
    assert cold.send_history_request(project_files, CLI_FLAGS) is False


def test_a_link_out_of_the_project_is_never_sent(project_files, tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("revision = 'x'\ndown_revision = None\n")
    os.symlink(outside, project_files / "migrations" / "versions" / "x_link.py")
    assert cold.history_request(project_files, CLI_FLAGS, {}) is None


def test_the_settings_the_early_path_takes_as_given_validate_unchanged():
    assert frozenset(Settings.model_fields) == SETTING_NAMES
    for name in cold.STRING_SETTINGS:
        assert getattr(Settings(**{name: " any text:// "}), name) == " any text:// ", name
    for name in cold.STRING_LIST_SETTINGS:
        assert getattr(Settings(**{name: ["a", " b,c "]}), name) == ["a", " b,c "], name
    for name, words in cold.WORD_SETTINGS.items():
        assert _literal_words(Settings.model_fields[name].annotation) == words, name
        for word in words:
            assert getattr(Settings(**{name: word}), name) == word
    for name in cold.BOOL_SETTINGS:
        assert getattr(Settings(**{name: True}), name) is True


def _literal_words(annotation) -> frozenset[str]:
    """The words of a ``Literal`` annotation, also inside ``Optional``."""
    if typing.get_origin(annotation) is typing.Literal:
        return frozenset(typing.get_args(annotation))
    return frozenset().union(*(_literal_words(arg) for arg in typing.get_args(annotation)))


# ------------------------------------------------------------------ the CLI, with and without the early request


def _run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _both_ways(argv: list[str], capsys, monkeypatch) -> tuple[tuple, tuple, list[bool]]:
    """The CLI's answer without the early request, then with it, and whether each early worker was adopted."""
    from alembic_mcp.tools.worker import reply_cache, runner

    monkeypatch.setattr(reply_cache, "_enabled", False)
    with monkeypatch.context() as patch:
        patch.setattr(cold, "send_history_request", lambda *args, **kwargs: False)
        usual = _run_cli(argv, capsys)
    adopted: list[bool] = []
    real_adopt = runner.adopt

    def spy(request):
        early = real_adopt(request)
        adopted.append(early is not None)
        return early

    monkeypatch.setattr(runner, "adopt", spy)
    return usual, _run_cli(argv, capsys), adopted


@pytest.mark.subprocess
def test_the_cli_answers_the_same_on_a_healthy_history(example_project, capsys, monkeypatch):
    argv = ["check-heads", "--project", str(example_project), "--json"]
    usual, early, adopted = _both_ways(argv, capsys, monkeypatch)
    assert early == usual and usual[0] == 0
    assert adopted == [True]
    assert json.loads(usual[1])["worker"]["python"]


@pytest.mark.subprocess
def test_the_cli_reports_the_same_broken_files_and_env_py(example_project, capsys, monkeypatch):
    versions = example_project / "migrations" / "versions"
    (versions / "zz_broken.py").write_text("import no_such_module\nrevision = 'zz'\ndown_revision = 'b2e1d1ce0002'\n")
    env_py = example_project / "migrations" / "env.py"
    env_py.write_text("raise RuntimeError('env.py is broken')\n" + env_py.read_text())
    usual, early, adopted = _both_ways(
        ["check-heads", "--project", str(example_project), "--json"], capsys, monkeypatch
    )
    assert early == usual and adopted == [True]
    rules = {finding["rule"] for finding in json.loads(usual[1])["findings"]}
    assert {"revision-import-error", "env-py-error"} <= rules and usual[0] == 1


@pytest.mark.subprocess
def test_the_cli_masks_the_password_the_same_way(example_project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone:pw-9a8b7c@127.0.0.1:1/nowhere")
    usual, early, adopted = _both_ways(
        ["check-heads", "--project", str(example_project), "--json"], capsys, monkeypatch
    )
    assert early == usual and adopted == [True]
    data = json.loads(usual[1])
    assert data["database"]["status"] == "unreachable" and data["database"]["url"].startswith(
        "postgresql://someone:***@"
    )
    assert "pw-9a8b7c" not in usual[1] + usual[2]


@pytest.mark.subprocess
def test_the_cli_refuses_bad_settings_and_urls_in_the_same_words(example_project, capsys, monkeypatch):
    _with_settings(example_project, "bogus_key = 1\n")
    usual, early, adopted = _both_ways(["check-heads", "--project", str(example_project)], capsys, monkeypatch)
    assert early == usual and usual[0] == 3 and "Unknown key" in usual[2] and adopted == []
    (example_project / "pyproject.toml").write_text(
        (example_project / "pyproject.toml").read_text().replace("bogus_key = 1\n", "")
    )
    argv = ["check-heads", "--project", str(example_project), "--database-url", "postgresql://u:pw-1x2y@h:port/db"]
    usual, early, adopted = _both_ways(argv, capsys, monkeypatch)
    assert early == usual and usual[0] == 3 and "Could not parse database URL" in usual[2] and adopted == []
    assert "pw-1x2y" not in usual[2]


@pytest.mark.subprocess
def test_an_early_worker_running_another_request_is_stopped_not_read(example_project, capsys, monkeypatch):
    from alembic_mcp.tools.worker import early, reply_cache

    monkeypatch.setattr(reply_cache, "_enabled", False)
    python, request = cold.history_request(example_project, CLI_FLAGS)
    other = dataclasses.replace(request, args=HistoryArgs(check_env=False))
    assert early.send(python, other)
    sent = early._sent
    assert sent is not None
    with monkeypatch.context() as patch:
        patch.setattr(cold, "send_history_request", lambda *args, **kwargs: False)
        code, out, _ = _run_cli(["check-heads", "--project", str(example_project), "--json"], capsys)
    assert sent.process.poll() is not None and not Path(sent.folder.name).exists()
    assert code == 0 and json.loads(out)["verdict"] == "proceed"
    assert not early.pending()


@pytest.mark.subprocess
def test_the_early_module_imports_neither_pydantic_nor_sqlalchemy():
    import subprocess

    probe = (
        "import sys; import alembic_mcp.tools.heads.cold, alembic_mcp.server.cli; "
        "print(sorted(m for m in ('pydantic', 'sqlalchemy', 'anyio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_errors_of_the_early_path_never_escape(monkeypatch, tmp_path):
    def boom(*args, **kwargs):
        raise AlembicMcpError("unreadable")

    monkeypatch.setattr(cold, "history_request", boom)
    assert cold.send_history_request(tmp_path, CLI_FLAGS) is False
