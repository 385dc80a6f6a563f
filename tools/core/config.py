"""Project loading: the Alembic configuration (alembic.ini or pyproject ``[tool.alembic]``) and the
``[tool.alembic-mcp]`` settings, overridden by ``ALEMBIC_MCP_*`` environment variables and CLI flags.

Nothing here imports the user's code: the Alembic ``Config`` is read as a file, never executed.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alembic_mcp.tools.core.errors import ProjectError
from alembic_mcp.tools.core.project_files import (
    ENV_PREFIX,
    SETTING_NAMES,
    alembic_config_files,
    alembic_options,
    layered_settings,
    pick_database_url,
    project_root,
    pyproject_settings,
    read_tool_table,
    script_paths,
)
from alembic_mcp.tools.core.url_text import UrlParts, parse_url_parts, sqlite_database_in
from alembic_mcp.tools.core.urls import absolutize_sqlite, parse_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["ENV_PREFIX", "SETTING_NAMES", "Project", "Settings", "load_project", "read_tool_table"]
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


@dataclass
class Project:
    """A loaded project: where things are and what the settings say.

    The target's URL is kept as text and as its parts (``url_text``, a relative SQLite file resolved);
    SQLAlchemy's ``URL`` is built on first use of ``database_url``, so a call that needs only the parts
    (check_heads) never imports SQLAlchemy. The text was checked when the project was loaded.
    """

    root: Path
    settings: Settings
    alembic_ini: Path | None
    toml_file: Path | None
    script_location: Path
    version_locations: list[Path]
    database_url_text: str | None
    database_url_source: str
    extra_env: dict[str, str] = field(default_factory=dict)
    recursive_version_locations: bool = False

    @cached_property
    def database_url_parts(self) -> UrlParts | None:
        parts = parse_url_parts(self.database_url_text) if self.database_url_text else None
        return sqlite_database_in(parts, self.root) if parts is not None else None

    @cached_property
    def database_url(self) -> URL | None:
        if not self.database_url_text:
            return None
        return absolutize_sqlite(parse_url(self.database_url_text), self.root)

    @property
    def masked_database_url(self) -> str | None:
        return self.database_url_parts.masked() if self.database_url_parts is not None else None

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
    root = project_root(project_dir)
    tool_table = read_tool_table(root)
    settings = _layered_settings(root, tool_table, environ, overrides)
    ini, toml_file = alembic_config_files(root, settings.alembic_config, tool_table)
    options = alembic_options(root, settings.alembic_section, ini, tool_table if toml_file else None)
    script_path, versions = script_paths(root, str(options.script_location), options.version_locations)
    url_value, source = pick_database_url(settings.database_url, settings.url_env_vars, environ, options.sqlalchemy_url)
    return Project(
        root=root,
        settings=settings,
        alembic_ini=ini,
        toml_file=toml_file,
        script_location=script_path,
        version_locations=versions,
        database_url_text=_checked_url(url_value),
        database_url_source=source,
        recursive_version_locations=options.recursive_version_locations,
    )


def _checked_url(url: str | None) -> str | None:
    """``url`` when SQLAlchemy can read it; else InvalidArgument, in ``parse_url``'s words."""
    if url and parse_url_parts(url) is None:  # the same grammar: SQLAlchemy refuses it too
        parse_url(url)
    return url or None


def _layered_settings(
    root: Path, tool_table: dict[str, Any], environ: dict[str, str], overrides: dict[str, Any] | None
) -> Settings:
    """pyproject's [tool.alembic-mcp], then ALEMBIC_MCP_* variables, then flags; each layer validated."""
    _validate_settings(pyproject_settings(tool_table), f"{root / 'pyproject.toml'} [tool.alembic-mcp]")
    raw = layered_settings(tool_table, environ, overrides)
    return _validate_settings(raw, "configuration (pyproject, ALEMBIC_MCP_* and flags)")
