"""The domain of alembic-mcp, in packages by concern (ARCHITECTURE.md has the map). Imports nothing from mcp."""
