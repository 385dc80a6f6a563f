"""generate_migration: autogenerate against a scratch database, with its blind spots as findings."""
