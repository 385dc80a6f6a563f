"""A cold check_heads (a fresh CLI process) starts its worker's work before its own heavy imports.

The worker is pre-started and has imported Alembic long before the CLI, importing pydantic (settings)
and SQLAlchemy (the URL), could send it anything. Here the ``history`` request is built from the
project files with the standard library alone, through the same readers ``config.load_project`` uses
(``project_files``, ``url_text``, ``isolation``, ``containment``), and sent at once (``worker/early``).
The usual path then runs unchanged: it validates everything and builds its own request, and the early
worker is used only when that request is the same one. Whenever this module cannot be certain what the
usual path would send (a setting that needs validating, a URL SQLAlchemy would refuse, a file that
must not be imported), it sends nothing, and the call runs as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic_mcp.tools.core.containment import unsafe_migration_files
from alembic_mcp.tools.core.errors import AlembicMcpError
from alembic_mcp.tools.core.isolation import child_environment
from alembic_mcp.tools.core.project_files import (
    alembic_config_files,
    alembic_options,
    layered_settings,
    pick_database_url,
    project_root,
    pyproject_settings,
    read_tool_table,
    script_paths,
)
from alembic_mcp.tools.core.url_text import dialect_only, parse_url_parts, sqlite_database_in
from alembic_mcp.tools.worker import early
from alembic_mcp.tools.worker.interpreter import WorkerPythonNotFound, find_worker_python
from alembic_mcp.tools.worker.protocol import HistoryArgs, ProjectSpec, WorkerRequest

# Settings validation takes as given, by the shape of their value: any string (``str`` or ``str | None``
# with no validator), a list of strings (``list[str]``; a string would be split), one of the listed
# words (``Literal``), a bool (``bool``). Any other key or shape (numbers with bounds, validated
# commands) leaves the request to the usual path, which validates it.
STRING_SETTINGS = frozenset(
    {
        "alembic_config",
        "alembic_section",
        "backup_dir",
        "database_url",
        "scratch_url",
        "target_read_only_url",
        "version_table",
        "version_table_schema",
        "worker_python",
    }
)
STRING_LIST_SETTINGS = frozenset({"audit_tables", "production_hosts", "protected_tables", "tools", "url_env_vars"})
WORD_SETTINGS = {
    "environment": frozenset({"development", "test", "staging", "production"}),
    "scratch_credentials": frozenset({"role", "target"}),
}
BOOL_SETTINGS = frozenset({"read_only"})
DEFAULTS: dict[str, Any] = {
    "alembic_config": None,
    "alembic_section": "alembic",
    "database_url": None,
    "url_env_vars": ["DATABASE_URL"],
    "worker_python": None,
}


@dataclass(frozen=True)
class Layout:
    """Where the migrations are, as ``containment`` reads a project."""

    root: Path
    script_location: Path
    version_locations: list[Path]
    recursive_version_locations: bool


def send_history_request(
    project_dir: str | Path, overrides: dict[str, Any] | None, environ: dict[str, str] | None = None
) -> bool:
    """Send check_heads' worker request now when it can be built without validation; whether it was sent."""
    try:
        planned = history_request(project_dir, overrides, environ)
    except (AlembicMcpError, OSError, ValueError):  # the usual path reports it, in its own words
        return False
    return planned is not None and early.send(*planned)


def history_request(
    project_dir: str | Path, overrides: dict[str, Any] | None, environ: dict[str, str] | None = None
) -> tuple[str, WorkerRequest] | None:
    """The interpreter and the request ``load_history`` would send for this project, or None when unsure.

    Its ``result_path`` is empty: ``early.send`` gives it one.
    """
    environ = dict(os.environ if environ is None else environ)
    root = project_root(project_dir)
    tool_table = read_tool_table(root)
    raw = layered_settings(tool_table, environ, overrides)
    if not (_plain(pyproject_settings(tool_table)) and _plain(raw)):
        return None
    settings = {**DEFAULTS, **raw}
    ini, toml_file = alembic_config_files(root, settings["alembic_config"], tool_table)
    options = alembic_options(root, settings["alembic_section"], ini, tool_table if toml_file else None)
    script_path, versions = script_paths(root, str(options.script_location), options.version_locations)
    if unsafe_migration_files(Layout(root, script_path, versions, options.recursive_version_locations)):
        return None
    url_text, _ = pick_database_url(settings["database_url"], settings["url_env_vars"], environ, options.sqlalchemy_url)
    parts = parse_url_parts(url_text) if url_text else None
    if url_text and parts is None:
        return None  # SQLAlchemy would refuse it: the usual path says why
    target = sqlite_database_in(parts, root) if parts else None
    try:
        python = find_worker_python(root, settings["worker_python"]).path
    except WorkerPythonNotFound:
        return None
    worker_url = dialect_only(target.drivername) if target else None
    set_env, unset_env = child_environment(target, worker_url, settings["url_env_vars"], environ=environ)
    spec = ProjectSpec(
        project_dir=str(root),
        alembic_ini=str(ini) if ini else None,
        toml_file=str(toml_file) if toml_file else None,
        ini_section=settings["alembic_section"],
        url_env_vars=list(settings["url_env_vars"]),
    )
    request = WorkerRequest(
        op="history",
        project=spec,
        result_path="",
        args=HistoryArgs(check_env=True),
        database_url=worker_url,
        cwd=str(root),
        sys_path=[str(root)],
        env=set_env,
        unset_env=unset_env,
    )
    return python, request


def _plain(raw: dict[str, Any]) -> bool:
    """Every setting has a shape validation keeps exactly as given (see ``STRING_SETTINGS``)."""
    return all(_plain_value(name, value) for name, value in raw.items())


def _plain_value(name: str, value: Any) -> bool:
    if name in STRING_SETTINGS:
        return isinstance(value, str) and _encodable(value)
    if name in STRING_LIST_SETTINGS:
        return isinstance(value, list) and all(isinstance(item, str) and _encodable(item) for item in value)
    if name in WORD_SETTINGS:
        return isinstance(value, str) and value in WORD_SETTINGS[name]
    return name in BOOL_SETTINGS and isinstance(value, bool)


def _encodable(value: str) -> bool:
    """False for a string with lone surrogates (an undecodable environment byte), which validation may refuse."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
