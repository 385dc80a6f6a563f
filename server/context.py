"""What every tool handler shares: the project it serves, error translation and progress plumbing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from alembic_mcp.tools.core.config import Project, load_project
from alembic_mcp.tools.core.errors import AlembicMcpError
from alembic_mcp.tools.core.progress import Progress, status_note
from alembic_mcp.tools.core.urls import redact

T = TypeVar("T")


@dataclass
class ServerState:
    """The project directory and the CLI overrides; the project is re-read on every call."""

    project_dir: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def project(self) -> Project:
        return load_project(self.project_dir, self.overrides)


def progress_of(ctx: Context | None) -> Progress:
    """The client's progress reporter for this call; also the call's ``status_note`` (a wait for a worker
    deep inside the tool is reported at the progress already reached)."""
    reached: dict[str, Any] = {"done": 0.0, "total": None}

    async def report(done: float, total: float | None, message: str) -> None:
        reached.update(done=done, total=total)
        if ctx is not None:
            try:
                await ctx.report_progress(done, total, message)
            except Exception:  # a client that went away must not fail the tool
                pass

    async def note(message: str) -> None:
        await report(reached["done"], reached["total"], message)

    status_note.set(note)
    return report


async def run_tool(state: ServerState, fn: Callable[[Project], Awaitable[T]]) -> T:
    """Load the project and run ``fn``; domain errors become ToolError with the password masked."""
    project = None
    try:
        project = state.project()
        return await fn(project)
    except AlembicMcpError as exc:
        url = project.database_url if project is not None else None
        raise ToolError(redact(str(exc), url)) from None
