"""What a project lets the tools do: ``read_only`` refuses every write, whoever calls.

The MCP server also hides the tools that only write (``backup_db``) when read-only and exposes only the
``tools`` allowlist when one is set; the refusal here holds for the CLI and for a client that calls a
tool anyway. A server reads both once, at start (``access_at_start``), and keeps them for its life: the
agent it serves can edit pyproject.toml, so an edit must not switch them off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alembic_mcp.tools.core.config import ENV_PREFIX, Project, Settings, read_tool_table
from alembic_mcp.tools.core.errors import AlembicMcpError, ProjectError

# Tools that write in every call; generate_migration and merge_heads write unless dry_run.
ALWAYS_WRITE = frozenset({"backup_db"})


class ReadOnlyRefusal(AlembicMcpError):
    """A write was asked of a project configured read-only."""


def refuse_if_read_only(project: Project, action: str, instead: str) -> None:
    """Raise ReadOnlyRefusal when the project is read-only. ``action`` says what would have been written."""
    if project.settings.read_only:
        raise ReadOnlyRefusal(
            f"Refused: this server is read-only (read_only = true, --read-only or ALEMBIC_MCP_READ_ONLY), "
            f"so it does not {action}. {instead}"
        )


@dataclass(frozen=True)
class StartAccess:
    """``read_only`` and the ``tools`` allowlist as they stood when the server started."""

    read_only: bool
    tools: list[str] | None


def access_at_start(
    project_dir: str | Path, overrides: dict[str, Any], environ: dict[str, str] | None = None
) -> StartAccess:
    """Read ``read_only`` and ``tools`` (pyproject, ALEMBIC_MCP_*, flags) now, whatever else is wrong.

    Another bad setting is reported per call as before; a pyproject.toml that does not parse, or a bad
    value of these two, stops the server from starting: it cannot know what it was meant to refuse.
    """
    environ = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {}
    root = Path(project_dir).expanduser()
    if root.is_dir():
        table = read_tool_table(root).get("alembic-mcp", {}) or {}
        raw.update({k: v for k, v in table.items() if k in ("read_only", "tools")})
    for name in ("read_only", "tools"):
        if f"{ENV_PREFIX}{name.upper()}" in environ:
            raw[name] = environ[f"{ENV_PREFIX}{name.upper()}"]
        if overrides.get(name) is not None:
            raw[name] = overrides[name]
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ProjectError(f"Invalid read_only/tools setting, so the server does not start: {problems}.") from None
    return StartAccess(read_only=settings.read_only, tools=settings.tools)
