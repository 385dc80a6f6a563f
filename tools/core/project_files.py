"""What a project's files say, read with the standard library alone: the project folder, pyproject's
``[tool]`` table, the raw ``[tool.alembic-mcp]`` / ``ALEMBIC_MCP_*`` / flag layers, the Alembic
configuration files, the script and version locations, and which database URL applies.

``config.load_project`` validates the settings (pydantic) and parses the URL (SQLAlchemy) on top of
these; a cold check_heads reads them first, without either import, to start its worker at once
(``heads/cold.py``). Both go through these functions, so they read the same files the same way.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from alembic_mcp.tools.core.alembic_ini import AlembicOptions, read_alembic_options
from alembic_mcp.tools.core.errors import InvalidArgument, ProjectError

ENV_PREFIX = "ALEMBIC_MCP_"
# The keys of ``config.Settings``, known without importing pydantic (a test keeps the two equal).
SETTING_NAMES = frozenset(
    {
        "alembic_config",
        "alembic_section",
        "app_check_command",
        "app_check_timeout_s",
        "audit_tables",
        "backup_dir",
        "backup_retention_days",
        "backup_timeout_s",
        "bootstrap",
        "database_url",
        "environment",
        "exact_count_limit",
        "large_migration_rows",
        "max_workers",
        "production_hosts",
        "protected_tables",
        "read_only",
        "scratch_credentials",
        "scratch_url",
        "target_read_only_url",
        "tools",
        "url_env_vars",
        "version_table",
        "version_table_schema",
        "worker_python",
        "worker_timeout_s",
    }
)


def project_root(project_dir: str | Path) -> Path:
    if project_dir is None or str(project_dir).strip() == "":
        raise InvalidArgument("No project directory given. Pass --project DIR (the folder holding alembic.ini).")
    root = Path(project_dir).expanduser()
    if not root.exists():
        raise ProjectError(f"Project directory {root} does not exist. Pass the folder that holds alembic.ini.")
    if not root.is_dir():
        raise ProjectError(f"Project path {root} is a file, not a directory. Pass the folder holding alembic.ini.")
    return root.resolve()


def _read_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path} is not valid TOML: {exc}. Fix the file and call again.") from None


def read_tool_table(root: Path) -> dict[str, Any]:
    """pyproject.toml's [tool] table ({} without the file); ProjectError when the file does not parse."""
    pyproject = _read_pyproject(root)
    return pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}


def env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """The ``ALEMBIC_MCP_*`` variables as settings; ProjectError names an unknown one."""
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in SETTING_NAMES:
            raise ProjectError(
                f"Unknown environment variable {key}: alembic-mcp has no setting {name!r}. "
                f"Known settings: {', '.join(sorted(SETTING_NAMES))}."
            )
        out[name] = value
    return out


def pyproject_settings(tool_table: dict[str, Any]) -> dict[str, Any]:
    """``[tool.alembic-mcp]`` as given (not yet validated)."""
    return dict(tool_table.get("alembic-mcp", {}) or {})


def layered_settings(
    tool_table: dict[str, Any], environ: dict[str, str], overrides: dict[str, Any] | None
) -> dict[str, Any]:
    """pyproject's [tool.alembic-mcp], then ALEMBIC_MCP_* variables, then flags (not yet validated)."""
    raw = pyproject_settings(tool_table)
    raw.update(env_overrides(environ))
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return raw


def alembic_config_files(
    root: Path, alembic_config: str | None, tool_table: dict[str, Any]
) -> tuple[Path | None, Path | None]:
    """alembic.ini (or the configured file) and pyproject.toml when it has a [tool.alembic] table."""
    ini_candidate = root / (alembic_config or "alembic.ini")
    toml_file = root / "pyproject.toml" if "alembic" in tool_table else None
    if not ini_candidate.is_file() and alembic_config:
        raise ProjectError(f"alembic_config points at {ini_candidate}, which does not exist.")
    ini = ini_candidate if ini_candidate.is_file() else None
    if ini is None and toml_file is None:
        raise ProjectError(
            f"No Alembic configuration in {root}: expected alembic.ini or a [tool.alembic] table in "
            "pyproject.toml. Run `alembic init migrations` there, or pass the right --project."
        )
    return ini, toml_file


def alembic_options(root: Path, section: str, ini: Path | None, tool_table: dict[str, Any] | None) -> AlembicOptions:
    try:
        options = read_alembic_options(ini, tool_table.get("alembic") if tool_table else None, section, root)
    except Exception as exc:  # configparser errors from a hand-edited file
        raise ProjectError(f"Could not read the Alembic configuration of {root}: {exc}") from None
    if not options.script_location:
        raise ProjectError(
            f"The Alembic configuration of {root} has no script_location. Add "
            "`script_location = %(here)s/migrations` (alembic.ini) or [tool.alembic] script_location."
        )
    return options


def script_paths(root: Path, script_location: str, version_locations: list[str] | None) -> tuple[Path, list[Path]]:
    script_path = Path(script_location)
    if not script_path.is_absolute():
        script_path = (root / script_path).resolve()
    if not script_path.is_dir():
        raise ProjectError(f"script_location {script_path} does not exist; run `alembic init` or fix the path.")
    versions = [Path(v) if Path(v).is_absolute() else (root / v).resolve() for v in (version_locations or [])]
    return script_path, versions or [script_path / "versions"]


def pick_database_url(
    database_url: str | None, url_env_vars: list[str], environ: dict[str, str], alembic_url: str | None
) -> tuple[str | None, str]:
    """The target's URL text and where it came from: the setting, the first URL variable set, alembic's."""
    if database_url:
        return database_url, "alembic-mcp settings"
    for name in url_env_vars:
        if environ.get(name):
            return environ[name], f"${name}"
    if alembic_url and "driver://" not in alembic_url:
        return alembic_url, "alembic sqlalchemy.url"
    return None, "none"
