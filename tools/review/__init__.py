"""review_migration: the static, rendered-SQL and data-context layers of a migration review."""
