"""Project loading: the Alembic configuration (alembic.ini or pyproject ``[tool.alembic]``) and the
``[tool.alembic-mcp]`` settings, overridden by ``ALEMBIC_MCP_*`` environment variables and CLI flags.

Nothing here imports the user's code: the Alembic ``Config`` is read as a file, never executed.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.alembic_ini import AlembicOptions, read_alembic_options
from alembic_mcp.tools.core.errors import InvalidArgument, ProjectError
from alembic_mcp.tools.core.urls import absolutize_sqlite, mask_url, parse_url

ENV_PREFIX = "ALEMBIC_MCP_"
BOOTSTRAP_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class Settings(BaseModel):
    """``[tool.alembic-mcp]``: every key alembic-mcp understands. Unknown keys are rejected by name."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(default=None, description="Target database; default: Alembic's url.")
    scratch_url: str | None = Field(
        default=None, description="Server on which scratch databases are created; default: the target's."
    )
    scratch_credentials: Literal["role", "target"] = Field(
        default="role",
        description="role: user code gets a login owning only its scratch database; target: the server's own "
        "credentials (user code can then reach the target's server: only for a server you can lose).",
    )
    target_read_only_url: str | None = Field(
        default=None,
        description="generate_migration(against='target'): a URL of the target whose role can only read.",
    )
    alembic_config: str | None = Field(default=None, description="Path to alembic.ini, relative to the project.")
    alembic_section: str = "alembic"
    backup_dir: str = ".alembic-mcp/backups"
    backup_retention_days: int = Field(default=30, ge=0)
    backup_timeout_s: float = Field(default=3600.0, gt=0)
    protected_tables: list[str] = Field(default_factory=list)
    audit_tables: list[str] = Field(default_factory=lambda: ["*audit*"])
    large_migration_rows: int = Field(default=100_000, ge=1)
    environment: Literal["development", "test", "staging", "production"] | None = None
    production_hosts: list[str] = Field(default_factory=list)
    read_only: bool = Field(default=False, description="Refuse every write: migrations, merges, backups.")
    tools: list[str] | None = Field(default=None, description="MCP: expose only these tools; default all.")
    url_env_vars: list[str] = Field(default_factory=lambda: ["DATABASE_URL"])
    version_table: str = "alembic_version"
    version_table_schema: str | None = None
    worker_python: str | None = None
    bootstrap: str | None = Field(
        default=None,
        description="Starting schema for scratch databases, run before the base revision: `module:function` "
        "(called with a SQLAlchemy connection, the project importable) or a .sql file relative to the project.",
    )
    worker_timeout_s: float = Field(default=300.0, gt=0)
    app_check_command: str | None = Field(
        default=None,
        description="test_roundtrip runs it at head on the scratch database (e.g. `python -m pytest -x tests/api`): "
        "split like a shell line, run without a shell in the project directory, DATABASE_URL and url_env_vars "
        "set to the scratch database.",
    )
    app_check_timeout_s: float = Field(default=300.0, gt=0)
    max_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=256,
        description="Worker interpreters running at once (one warm spare comes on top); default: the cores.",
    )
    exact_count_limit: int = Field(default=1_000_000, ge=0)

    @field_validator("bootstrap")
    @classmethod
    def _bootstrap_form(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower().endswith(".sql") or BOOTSTRAP_CALLABLE.match(value.strip()):
            return value.strip() if value else value
        raise ValueError(
            f"{value!r} is neither `module:function` (e.g. myapp.db:create_base_schema) nor a .sql file path"
        )

    @field_validator("app_check_command")
    @classmethod
    def _app_check_form(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} cannot be split like a shell line ({exc}); balance its quotes") from None
        if not argv:
            raise ValueError("it is empty; give a command such as `python -m pytest -x tests/api`, or leave it unset")
        return value.strip()

    @field_validator("protected_tables", "audit_tables", "production_hosts", "url_env_vars", "tools", mode="before")
    @classmethod
    def _split_strings(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


SETTING_NAMES = frozenset(Settings.model_fields)


@dataclass
class Project:
    """A loaded project: where things are and what the settings say."""

    root: Path
    settings: Settings
    alembic_ini: Path | None
    toml_file: Path | None
    script_location: Path
    version_locations: list[Path]
    database_url: URL | None
    database_url_source: str
    extra_env: dict[str, str] = field(default_factory=dict)
    recursive_version_locations: bool = False

    @property
    def masked_database_url(self) -> str | None:
        return mask_url(self.database_url) if self.database_url is not None else None

    @property
    def backup_dir(self) -> Path:
        path = Path(self.settings.backup_dir)
        return path if path.is_absolute() else self.root / path

    @property
    def state_dir(self) -> Path:
        return self.root / ".alembic-mcp"

    def relative(self, path: str | Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def _read_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path} is not valid TOML: {exc}. Fix the file and call again.") from None


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
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


def _validate_settings(raw: dict[str, Any], origin: str) -> Settings:
    unknown = sorted(set(raw) - SETTING_NAMES)
    if unknown:
        raise ProjectError(
            f"Unknown key{'s' if len(unknown) > 1 else ''} in {origin}: {', '.join(unknown)}. "
            f"Known keys: {', '.join(sorted(SETTING_NAMES))}."
        )
    try:
        return Settings(**raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ProjectError(f"Invalid alembic-mcp settings ({origin}): {problems}.") from None


def load_project(
    project_dir: str | Path,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Project:
    """Load the project at ``project_dir``; ``overrides`` are CLI flags (highest precedence)."""
    environ = dict(os.environ if environ is None else environ)
    root = _project_root(project_dir)
    tool_table = _tool_table(root)
    settings = _layered_settings(root, tool_table, environ, overrides)
    ini, toml_file = _alembic_config_files(root, settings, tool_table)
    options = _alembic_options(root, settings, ini, tool_table if toml_file else None)
    script_path, versions = _script_paths(root, str(options.script_location), options.version_locations)
    url_value, source = _pick_database_url(settings, environ, options.sqlalchemy_url)
    return Project(
        root=root,
        settings=settings,
        alembic_ini=ini,
        toml_file=toml_file,
        script_location=script_path,
        version_locations=versions,
        database_url=absolutize_sqlite(parse_url(url_value), root) if url_value else None,
        database_url_source=source,
        recursive_version_locations=options.recursive_version_locations,
    )


def _project_root(project_dir: str | Path) -> Path:
    if project_dir is None or str(project_dir).strip() == "":
        raise InvalidArgument("No project directory given. Pass --project DIR (the folder holding alembic.ini).")
    root = Path(project_dir).expanduser()
    if not root.exists():
        raise ProjectError(f"Project directory {root} does not exist. Pass the folder that holds alembic.ini.")
    if not root.is_dir():
        raise ProjectError(f"Project path {root} is a file, not a directory. Pass the folder holding alembic.ini.")
    return root.resolve()


def read_tool_table(root: Path) -> dict[str, Any]:
    """pyproject.toml's [tool] table ({} without the file); ProjectError when the file does not parse."""
    return _tool_table(root)


def _tool_table(root: Path) -> dict[str, Any]:
    pyproject = _read_pyproject(root)
    return pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}


def _layered_settings(
    root: Path, tool_table: dict[str, Any], environ: dict[str, str], overrides: dict[str, Any] | None
) -> Settings:
    """pyproject's [tool.alembic-mcp], then ALEMBIC_MCP_* variables, then flags; each layer validated."""
    raw: dict[str, Any] = dict(tool_table.get("alembic-mcp", {}) or {})
    _validate_settings(raw, f"{root / 'pyproject.toml'} [tool.alembic-mcp]")
    raw.update(_env_overrides(environ))
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return _validate_settings(raw, "configuration (pyproject, ALEMBIC_MCP_* and flags)")


def _alembic_config_files(
    root: Path, settings: Settings, tool_table: dict[str, Any]
) -> tuple[Path | None, Path | None]:
    """alembic.ini (or the configured file) and pyproject.toml when it has a [tool.alembic] table."""
    ini_candidate = root / (settings.alembic_config or "alembic.ini")
    toml_file = root / "pyproject.toml" if "alembic" in tool_table else None
    if not ini_candidate.is_file() and settings.alembic_config:
        raise ProjectError(f"alembic_config points at {ini_candidate}, which does not exist.")
    ini = ini_candidate if ini_candidate.is_file() else None
    if ini is None and toml_file is None:
        raise ProjectError(
            f"No Alembic configuration in {root}: expected alembic.ini or a [tool.alembic] table in "
            "pyproject.toml. Run `alembic init migrations` there, or pass the right --project."
        )
    return ini, toml_file


def _alembic_options(
    root: Path, settings: Settings, ini: Path | None, tool_table: dict[str, Any] | None
) -> AlembicOptions:
    try:
        options = read_alembic_options(
            ini, tool_table.get("alembic") if tool_table else None, settings.alembic_section, root
        )
    except Exception as exc:  # configparser errors from a hand-edited file
        raise ProjectError(f"Could not read the Alembic configuration of {root}: {exc}") from None
    if not options.script_location:
        raise ProjectError(
            f"The Alembic configuration of {root} has no script_location. Add "
            "`script_location = %(here)s/migrations` (alembic.ini) or [tool.alembic] script_location."
        )
    return options


def _script_paths(root: Path, script_location: str, version_locations: list[str] | None) -> tuple[Path, list[Path]]:
    script_path = Path(script_location)
    if not script_path.is_absolute():
        script_path = (root / script_path).resolve()
    if not script_path.is_dir():
        raise ProjectError(f"script_location {script_path} does not exist; run `alembic init` or fix the path.")
    versions = [Path(v) if Path(v).is_absolute() else (root / v).resolve() for v in (version_locations or [])]
    return script_path, versions or [script_path / "versions"]


def _pick_database_url(settings: Settings, environ: dict[str, str], alembic_url: str | None) -> tuple[str | None, str]:
    if settings.database_url:
        return settings.database_url, "alembic-mcp settings"
    for name in settings.url_env_vars:
        if environ.get(name):
            return environ[name], f"${name}"
    if alembic_url and "driver://" not in alembic_url:
        return alembic_url, "alembic sqlalchemy.url"
    return None, "none"
