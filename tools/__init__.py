"""The domain of alembic-mcp: one module per tool plus the shared core. Imports nothing from mcp."""
