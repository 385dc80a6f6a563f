"""The MCP surface of alembic-mcp: tool registration, descriptions, transports and the CLI.

No Alembic logic lives here; every tool delegates to ``alembic_mcp.tools``.
"""
