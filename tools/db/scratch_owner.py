"""Ties each scratch database to its live owner, so a killed server's scratch databases go at once.

The creating process holds a lock for the scratch's whole life, on something that dies with it:
PostgreSQL a session-level advisory lock keyed by the database name, on a connection to the server's
``postgres`` database (which also creates and drops it); MariaDB/MySQL a named lock (``GET_LOCK``) on its
own connection; SQLite an exclusive ``flock`` on a file in the scratch folder. The database server or
the kernel releases the lock when the owner's connection or process ends, however it ends (SIGKILL
too), so a sweeper that can take the lock knows the owner is gone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.urls import sync_url
from alembic_mcp.tools.db.dbinfo import pg_connect

try:
    import fcntl
except ImportError:  # Windows: SQLite scratch folders fall back to the age rule
    fcntl = None  # type: ignore[assignment]

ADVISORY_CLASS = 0x616D6370  # "amcp": first key of the two-key advisory lock; the second is hashtext(name)
SQLITE_LOCK_FILE = "owner.lock"


@dataclass
class PgOwner:
    """An open connection to the ``postgres`` database holding the advisory lock for ``name``."""

    conn: Any
    name: str

    async def execute(self, sql: str) -> None:
        await self.conn.execute(sql)

    async def release(self) -> None:
        await self.conn.close()  # ending the session releases the lock


async def hold_pg(maintenance_url: URL, name: str) -> PgOwner:
    conn = await pg_connect(maintenance_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", ADVISORY_CLASS, name)
    except BaseException:
        await conn.close()
        raise
    return PgOwner(conn, name)


async def pg_owner_gone(conn: Any, name: str) -> bool:
    """Take the lock of ``name`` if its owner is gone (the caller drops, then ``pg_release``)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", ADVISORY_CLASS, name))


async def pg_release(conn: Any, name: str) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", ADVISORY_CLASS, name)


@dataclass
class MysqlOwner:
    """An open connection holding ``GET_LOCK(name)``."""

    engine: Any
    conn: Connection
    name: str

    async def execute(self, sql: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.conn.execute(text(sql)))

    async def release(self) -> None:
        def close() -> None:
            try:
                self.conn.close()
            finally:
                self.engine.dispose()

        await anyio.to_thread.run_sync(close)


async def hold_mysql(server_url: URL, name: str) -> MysqlOwner:
    def connect() -> MysqlOwner:
        engine = create_engine(sync_url(server_url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            conn = engine.connect()
            if conn.execute(text("SELECT GET_LOCK(:n, 10)"), {"n": name}).scalar() != 1:
                conn.close()
                raise RuntimeError(f"could not take the owner lock of {name}")
        except BaseException:
            engine.dispose()
            raise
        return MysqlOwner(engine, conn, name)

    return await anyio.to_thread.run_sync(connect)


def mysql_owner_gone(conn: Connection, name: str) -> bool:
    """Take the lock of ``name`` if its owner is gone (the caller drops, then ``mysql_release``)."""
    return conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1


def mysql_release(conn: Connection, name: str) -> None:
    conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})


@dataclass
class SqliteOwner:
    """The open, exclusively locked ``owner.lock`` file of a scratch folder."""

    fd: int

    async def release(self) -> None:
        os.close(self.fd)


def hold_sqlite(folder: Path) -> SqliteOwner | None:
    if fcntl is None:
        return None
    fd = os.open(folder / SQLITE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return SqliteOwner(fd)


def sqlite_owner_gone(folder: Path) -> bool | None:
    """True when nobody holds the folder's lock, False when its owner lives, None when it has no lock file."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder / SQLITE_LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
