"""What a project lets the tools do: ``read_only`` refuses every write, whoever calls.

The MCP server also hides the tools that only write (``backup_db``) when read-only and exposes only the
``tools`` allowlist when one is set; the refusal here holds for the CLI and for a client that calls a
tool anyway.
"""

from __future__ import annotations

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError

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
