"""Test helpers: login roles with a password on the test servers (read-only ones, target owners)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def run_sql(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for sql in statements:
                conn.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def read_only_role(url: str) -> Iterator[str]:
    """A role that can only read the database of ``url`` (its tables as they are now); yields its URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        yield url
        return
    role, password = f"amcp_test_ro_{secrets.token_hex(4)}", secrets.token_hex(12)
    db = parsed.database
    if parsed.get_backend_name() == "postgresql":
        run_sql(
            url,
            f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
            f'GRANT CONNECT ON DATABASE "{db}" TO {role}',
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        )
        drop = (f"DROP OWNED BY {role}", f"DROP ROLE IF EXISTS {role}")
    else:
        run_sql(
            url,
            *(f"CREATE USER '{role}'@'{h}' IDENTIFIED BY '{password}'" for h in ("%", "localhost")),
            *(f"GRANT SELECT ON `{db}`.* TO '{role}'@'{h}'" for h in ("%", "localhost")),
        )
        drop = tuple(f"DROP USER IF EXISTS '{role}'@'{h}'" for h in ("%", "localhost"))
    try:
        yield parsed.set(username=role, password=password).render_as_string(hide_password=False)
    finally:
        run_sql(url, *drop)
