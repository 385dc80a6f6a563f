"""A small residency-scheduling app: the example project alembic-mcp's demo and tests run on."""
