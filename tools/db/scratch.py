"""Scratch databases for rehearsals: created per call, always dropped, stale ones swept.

PostgreSQL and MariaDB/MySQL: ``CREATE DATABASE amcp_scratch_<epoch>_<random>`` on the scratch server
(default: the target's server). SQLite: a file in a fresh temporary folder. The epoch in the name
lets a sweep drop only leftovers older than ``stale_after_s``, never another call's live database.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy import text
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.errors import DatabaseUnavailable
from alembic_mcp.tools.core.urls import backend_of, mask_url, parse_url
from alembic_mcp.tools.db.dbinfo import with_pg, with_sync

PREFIX = "amcp_scratch"
NAME_PATTERN = re.compile(rf"^{PREFIX}_(\d+)_[0-9a-f]+$")
SQLITE_DIR_PREFIX = "amcp-scratch-"
DEFAULT_STALE_AFTER_S = 6 * 3600


@dataclass
class ScratchDatabase:
    url: URL
    name: str
    backend: str
    dropped: bool = False

    @property
    def url_string(self) -> str:
        return self.url.render_as_string(hide_password=False)

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)


def new_name() -> str:
    return f"{PREFIX}_{int(time.time())}_{secrets.token_hex(4)}"


def _server_url(target: URL, scratch_server: URL | None, maintenance_db: str) -> URL:
    base = scratch_server or target
    return base.set(database=maintenance_db)


async def create_scratch(target_url: URL | str, scratch_server_url: URL | str | None = None) -> ScratchDatabase:
    target = parse_url(target_url)
    server = parse_url(scratch_server_url) if scratch_server_url else None
    backend = backend_of(target)
    name = new_name()
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=SQLITE_DIR_PREFIX))
        path = folder / f"{name}.db"
        sqlite3.connect(path).close()
        return ScratchDatabase(url=target.set(database=str(path)), name=name, backend=backend)
    base = server or target
    if backend == "postgresql":

        async def create(conn) -> None:
            await conn.execute(f'CREATE DATABASE "{name}"')

        try:
            await with_pg(_server_url(target, server, "postgres"), create)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            raise DatabaseUnavailable(
                f"Could not create a scratch database on {mask_url(base.set(database=None))}: {exc}. "
                "The user needs CREATEDB, or set scratch_url to a server where it has it."
            ) from None
        return ScratchDatabase(url=base.set(database=name), name=name, backend=backend)
    if backend == "mysql":

        def create_sync(conn) -> None:
            conn.execute(text(f"CREATE DATABASE `{name}`"))

        try:
            await with_sync(_server_url(target, server, ""), create_sync)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            raise DatabaseUnavailable(
                f"Could not create a scratch database on {mask_url(base.set(database=None))}: {exc}. "
                "Grant CREATE/DROP, or set scratch_url to a server where the user has them."
            ) from None
        return ScratchDatabase(url=base.set(database=name), name=name, backend=backend)
    raise DatabaseUnavailable(f"Scratch databases are not supported for the {backend!r} backend.")


async def drop_scratch(scratch: ScratchDatabase) -> None:
    if scratch.dropped:
        return
    if scratch.backend == "sqlite":
        shutil.rmtree(Path(str(scratch.url.database)).parent, ignore_errors=True)
    elif scratch.backend == "postgresql":

        async def drop(conn) -> None:
            await conn.execute(f'DROP DATABASE IF EXISTS "{scratch.name}" WITH (FORCE)')

        await with_pg(scratch.url.set(database="postgres"), drop)
    elif scratch.backend == "mysql":
        await with_sync(
            scratch.url.set(database=""), lambda conn: conn.execute(text(f"DROP DATABASE IF EXISTS `{scratch.name}`"))
        )
    scratch.dropped = True


@asynccontextmanager
async def scratch_database(
    target_url: URL | str, scratch_server_url: URL | str | None = None
) -> AsyncIterator[ScratchDatabase]:
    """Create a scratch database; drop it on exit, also on error, cancellation or timeout.

    Leftovers of killed earlier runs (older than DEFAULT_STALE_AFTER_S) are swept first, best effort.
    """
    try:
        await sweep_stale(target_url, scratch_server_url)
    except Exception:  # sweeping is housekeeping: never fail the caller's rehearsal for it
        pass
    scratch = await create_scratch(target_url, scratch_server_url)
    try:
        yield scratch
    finally:
        with anyio.CancelScope(shield=True):
            await drop_scratch(scratch)


def _is_stale(name: str, now: float, stale_after_s: float) -> bool:
    match = NAME_PATTERN.match(name)
    return match is not None and now - int(match.group(1)) > stale_after_s


async def sweep_stale(
    target_url: URL | str,
    scratch_server_url: URL | str | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> list[str]:
    """Drop scratch databases with our prefix older than ``stale_after_s``; return their names."""
    target = parse_url(target_url)
    server = parse_url(scratch_server_url) if scratch_server_url else target
    backend = backend_of(target)
    now = time.time()
    dropped: list[str] = []
    if backend == "sqlite":
        for folder in Path(tempfile.gettempdir()).glob(f"{SQLITE_DIR_PREFIX}*"):
            for db in folder.glob(f"{PREFIX}_*.db"):
                if _is_stale(db.stem, now, stale_after_s):
                    shutil.rmtree(folder, ignore_errors=True)
                    dropped.append(db.stem)
        return dropped
    if backend == "postgresql":

        async def sweep(conn) -> None:
            rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PREFIX}_%")
            for row in rows:
                if _is_stale(row["datname"], now, stale_after_s):
                    await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
                    dropped.append(row["datname"])

        await with_pg(server.set(database="postgres"), sweep)
    elif backend == "mysql":

        def sweep_sync(conn) -> None:
            names = [r[0] for r in conn.execute(text("SHOW DATABASES"))]
            for name in names:
                if _is_stale(name, now, stale_after_s):
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                    dropped.append(name)

        await with_sync(server.set(database=""), sweep_sync)
    return dropped


async def list_scratch(target_url: URL | str, scratch_server_url: URL | str | None = None) -> list[str]:
    """Names of every scratch database with our prefix on the server (for tests and sweeps)."""
    target = parse_url(target_url)
    server = parse_url(scratch_server_url) if scratch_server_url else target
    backend = backend_of(target)
    if backend == "sqlite":
        return [db.stem for db in Path(tempfile.gettempdir()).glob(f"{SQLITE_DIR_PREFIX}*/{PREFIX}_*.db")]
    if backend == "postgresql":

        async def query(conn) -> list[str]:
            rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PREFIX}_%")
            return [r["datname"] for r in rows]

        return await with_pg(server.set(database="postgres"), query)
    return await with_sync(
        server.set(database=""),
        lambda conn: [r[0] for r in conn.execute(text("SHOW DATABASES")) if NAME_PATTERN.match(r[0])],
    )
