"""The server's own database access: target facts, scratch databases and copies of the target's data."""
