"""The revision graph, read from the migration files' source text without importing them."""
