"""alembic-mcp: the namespace that holds the MCP surface (``server``) and the domain (``tools``)."""

__version__ = "0.1.0"
