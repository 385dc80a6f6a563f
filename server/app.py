"""Builds the MCPServer: instructions plus every tool module's registrations."""

from __future__ import annotations

import os
from typing import Any

from mcp.server.mcpserver import MCPServer

from alembic_mcp import __version__
from alembic_mcp.server import backup_tools, generate_tools, heads_tools, review_tools, roundtrip_tools
from alembic_mcp.server.context import ServerState
from alembic_mcp.server.descriptions import INSTRUCTIONS
from alembic_mcp.tools.worker.interpreter import WorkerPythonNotFound, find_worker_python
from alembic_mcp.tools.worker.prestart import keep_warm

# Each module exposes register(server, state); one module per tool family.
TOOL_MODULES = [heads_tools, generate_tools, review_tools, roundtrip_tools, backup_tools]


def build_server(project_dir: str, overrides: dict[str, Any] | None = None, warm_worker: bool = False) -> MCPServer:
    """The server for one project. ``warm_worker`` keeps an idle worker interpreter ready (``serve``)."""
    state = ServerState(project_dir=str(project_dir), overrides=dict(overrides or {}))
    server = MCPServer(
        name="alembic-mcp",
        title="alembic-mcp: safe Alembic migrations",
        version=__version__,
        instructions=INSTRUCTIONS,
    )
    for module in TOOL_MODULES:
        module.register(server, state)
    if warm_worker:
        try:  # the [tool.alembic-mcp] worker_python is read per call; a mismatch only costs the warm start
            keep_warm(find_worker_python(project_dir, os.environ.get("ALEMBIC_MCP_WORKER_PYTHON")).path)
        except (WorkerPythonNotFound, OSError):
            pass
    return server
