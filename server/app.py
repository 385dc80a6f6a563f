"""Builds the MCPServer: instructions plus every tool module's registrations."""

from __future__ import annotations

import os
from typing import Any

from mcp.server.mcpserver import MCPServer

from alembic_mcp import __version__
from alembic_mcp.server import (
    backup_tools,
    generate_tools,
    heads_tools,
    prompts,
    resources,
    review_tools,
    roundtrip_tools,
)
from alembic_mcp.server.arguments import make_arguments_strict
from alembic_mcp.server.context import ServerState
from alembic_mcp.server.descriptions import INSTRUCTIONS
from alembic_mcp.server.schemas import publish_lean_schemas
from alembic_mcp.tools.core.access import ALWAYS_WRITE, StartAccess, access_at_start
from alembic_mcp.tools.core.errors import ProjectError
from alembic_mcp.tools.worker import reply_cache
from alembic_mcp.tools.worker.interpreter import WorkerPythonNotFound, find_worker_python
from alembic_mcp.tools.worker.prestart import keep_warm

# Each module exposes register(server, state); one module per tool family.
TOOL_MODULES = [heads_tools, generate_tools, review_tools, roundtrip_tools, backup_tools]


def build_server(project_dir: str, overrides: dict[str, Any] | None = None, warm_worker: bool = False) -> MCPServer:
    """The server for one project. ``warm_worker`` keeps an idle worker interpreter ready (``serve``)."""
    state = ServerState(project_dir=str(project_dir), overrides=dict(overrides or {}))
    reply_cache.enable()  # a serving process answers many calls over a mostly unchanged project
    access = access_at_start(project_dir, state.overrides)
    if access.read_only:  # pinned for the server's life: flags win over pyproject and the environment
        state.overrides["read_only"] = True
    server = MCPServer(
        name="alembic-mcp",
        title="alembic-mcp: safe Alembic migrations",
        version=__version__,
        instructions=INSTRUCTIONS,
    )
    for module in TOOL_MODULES:
        module.register(server, state)
    make_arguments_strict(server)
    publish_lean_schemas(server)
    _expose_only_allowed(server, access)
    resources.register(server, state)  # after the allowlist: the reference covers the exposed tools
    prompts.register(server)
    if warm_worker:
        try:  # the [tool.alembic-mcp] worker_python is read per call; a mismatch only costs the warm start
            keep_warm(find_worker_python(project_dir, os.environ.get("ALEMBIC_MCP_WORKER_PYTHON")).path)
        except (WorkerPythonNotFound, OSError):
            pass
    return server


def _expose_only_allowed(server: MCPServer, access: StartAccess) -> None:
    """Drop the tools the ``tools`` allowlist leaves out and, when read-only, the ones that only write.

    Both come from the server's start (``access_at_start``); a write on a read-only project is also
    refused in every call, and read_only stays pinned on through the overrides.
    """
    registered = [tool.name for tool in server._tool_manager.list_tools()]
    if access.tools is not None:
        unknown = sorted(set(access.tools) - set(registered))
        if unknown:
            raise ProjectError(
                f"The tools setting names unknown tool(s): {', '.join(unknown)}. Known tools: {', '.join(registered)}."
            )
    hidden = {name for name in registered if access.tools is not None and name not in access.tools}
    if access.read_only:
        hidden |= ALWAYS_WRITE
    for name in sorted(hidden & set(registered)):
        server.remove_tool(name)
