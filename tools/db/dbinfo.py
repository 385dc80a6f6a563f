"""Read-only queries against a target database: current Alembic revision(s), row counts, table lists.

PostgreSQL goes through asyncpg; SQLite and MariaDB/MySQL through SQLAlchemy's sync drivers in a
thread. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.errors import DatabaseUnavailable
from alembic_mcp.tools.core.urls import asyncpg_dsn_parts, backend_of, mask_url, parse_url, redact, sync_url

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")
CONNECT_TIMEOUT_S = 10


def _quote_pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified_pg(table: str) -> str:
    if "." in table:
        schema, _, bare = table.partition(".")
        return f"{_quote_pg(schema)}.{_quote_pg(bare)}"
    return _quote_pg(table)


async def pg_connect(url: URL | str) -> asyncpg.Connection:
    import asyncpg

    try:
        return await asyncpg.connect(**asyncpg_dsn_parts(url), timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:
        raise DatabaseUnavailable(
            f"Could not connect to {mask_url(url)}: {redact(str(exc), url)}. "
            "Check that the server runs and the URL (host, port, user, database) is right."
        ) from None


async def with_pg(url: URL | str, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    conn = await pg_connect(url)
    try:
        return await fn(conn)
    finally:
        await conn.close()


def sqlite_file_missing(url: URL | str) -> bool:
    """True for a file-based SQLite URL whose file does not exist (reading must not create it)."""
    parsed = parse_url(url)
    if backend_of(parsed) != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return False
    return not Path(parsed.database).exists()


def _read_only(url: URL | str) -> URL:
    """SQLite opened read-only, so reading a target never creates or changes the file."""
    parsed = sync_url(url)
    if backend_of(parsed) == "sqlite" and parsed.database and parsed.database != ":memory:":
        return parsed.set(database=f"file:{parsed.database}?mode=ro", query={"uri": "true"})
    return parsed


async def with_sync(url: URL | str, fn: Callable[[Connection], T], read_only: bool = False) -> T:
    """Run ``fn(connection)`` in a thread on a short-lived sync engine (SQLite read-only if asked)."""

    def work() -> T:
        target = _read_only(url) if read_only else sync_url(url)
        # SQLite: wait for a busy application's write lock rather than fail after pysqlite's 5 s.
        connect_args = {"timeout": 30} if backend_of(target) == "sqlite" else {}
        engine = create_engine(target, poolclass=NullPool, connect_args=connect_args)
        try:
            try:
                connection = engine.connect()
            except Exception as exc:
                raise DatabaseUnavailable(
                    f"Could not connect to {mask_url(url)}: {redact(str(exc), url)}. "
                    "Check that the server runs and the URL is right."
                ) from None
            with connection:
                return fn(connection)
        finally:
            engine.dispose()

    return await anyio.to_thread.run_sync(work)


async def current_revisions(
    url: URL, version_table: str = "alembic_version", schema: str | None = None
) -> list[str] | None:
    """The revision ids stored in the version table, or None when the table does not exist."""
    if backend_of(url) == "postgresql":

        async def query(conn: asyncpg.Connection) -> list[str] | None:
            exists = await conn.fetchval(
                "SELECT to_regclass($1)", f"{schema}.{version_table}" if schema else _quote_pg(version_table)
            )
            if exists is None:
                return None
            table = f"{_quote_pg(schema)}.{_quote_pg(version_table)}" if schema else _quote_pg(version_table)
            rows = await conn.fetch(f"SELECT version_num FROM {table}")
            return sorted(r["version_num"] for r in rows)

        return await with_pg(url, query)

    def query_sync(conn: Connection) -> list[str] | None:
        if not inspect(conn).has_table(version_table, schema=schema):
            return None
        table = f"{schema}.{version_table}" if schema else version_table
        return sorted(r[0] for r in conn.execute(text(f"SELECT version_num FROM {table}")))

    if sqlite_file_missing(url):
        return None
    return await with_sync(url, query_sync, read_only=True)


async def table_names(url: URL) -> list[str]:
    if backend_of(url) == "postgresql":

        async def query(conn: asyncpg.Connection) -> list[str]:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
            return [r["tablename"] for r in rows]

        return await with_pg(url, query)
    if sqlite_file_missing(url):
        return []
    return await with_sync(url, lambda conn: sorted(inspect(conn).get_table_names()), read_only=True)


async def row_counts(url: URL, tables: list[str], exact_limit: int = 1_000_000) -> dict[str, dict[str, Any]]:
    """``{table: {"rows": n, "exact": bool}}``; missing tables are left out.

    PostgreSQL: exact ``count(*)`` when the planner's estimate is under ``exact_limit``, else the
    estimate (so a huge table costs no full scan). Others: exact counts.
    """
    if not tables:
        return {}
    if backend_of(url) == "postgresql":

        async def query(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for table in tables:
                regclass = await conn.fetchval("SELECT to_regclass($1)", _qualified_pg(table))
                if regclass is None:
                    continue
                estimate = await conn.fetchval(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)", _qualified_pg(table)
                )
                if estimate is not None and estimate > exact_limit:
                    out[table] = {"rows": int(estimate), "exact": False}
                else:
                    count = await conn.fetchval(f"SELECT count(*) FROM {_qualified_pg(table)}")
                    out[table] = {"rows": int(count), "exact": True}
            return out

        return await with_pg(url, query)

    def query_sync(conn: Connection) -> dict[str, dict[str, Any]]:
        existing = set(inspect(conn).get_table_names())
        preparer = conn.dialect.identifier_preparer
        out: dict[str, dict[str, Any]] = {}
        for table in tables:
            if table not in existing:
                continue
            count = conn.execute(text(f"SELECT count(*) FROM {preparer.quote(table)}")).scalar_one()
            out[table] = {"rows": int(count), "exact": True}
        return out

    if sqlite_file_missing(url):
        return {}
    return await with_sync(url, query_sync, read_only=True)
