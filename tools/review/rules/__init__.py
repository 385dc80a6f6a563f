"""The review rules over a migration's operations."""
