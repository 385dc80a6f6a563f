"""Scratch databases for rehearsals: created per call, always dropped, orphans swept at once.

PostgreSQL and MariaDB/MySQL: ``CREATE DATABASE amcp_scratch_<epoch>_<random>_owned`` on the scratch
server (default: the target's server). SQLite: a file in a fresh temporary folder. Each scratch holds a
lock tied to its owner's life (``scratch_owner``) until it is dropped: any later sweep, by any server,
drops every scratch whose lock is free, so a server killed mid-rehearsal leaves nothing behind for long.
Names without the ``_owned`` suffix (older versions) are dropped only once older than ``stale_after_s``.

Credentials: user code (the worker) never gets the credentials the server was given. Each server-side
scratch gets its own login role (PostgreSQL) or user (MariaDB/MySQL), with a random password, that owns
or is granted only that database (``scratch_roles``); the server keeps the admin connection (``url``)
for creating, copying, checking and dropping. When the server's user may not create roles, the scratch
falls back to the server's credentials and says so (``shares_credentials``, a warning finding).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import text
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.errors import DatabaseUnavailable
from alembic_mcp.tools.core.urls import backend_of, mask_url, parse_url
from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.db import scratch_owner as owners
from alembic_mcp.tools.db import scratch_roles as roles
from alembic_mcp.tools.db.dbinfo import with_pg, with_sync

PREFIX = "amcp_scratch"
OWNED_SUFFIX = "_owned"
NAME_PATTERN = re.compile(rf"^{PREFIX}_(\d+)_[0-9a-f]+$")  # older versions: no owner lock, swept by age
OWNED_PATTERN = re.compile(rf"^{PREFIX}_(\d+)_[0-9a-f]+{OWNED_SUFFIX}$")
SQLITE_DIR_PREFIX = "amcp-scratch-"
DEFAULT_STALE_AFTER_S = 6 * 3600

_live_here: set[str] = set()  # scratch databases this process created and has not dropped yet


@dataclass
class ScratchDatabase:
    """``url`` is the server's own (admin) connection; ``worker_url`` the scratch role's, for user code."""

    url: URL
    name: str
    backend: str
    dropped: bool = False
    pending: bool = False  # being dropped in the background (``scratch_later``)
    owner: Any = field(default=None, repr=False)
    role: str | None = None
    worker_url: URL | None = field(default=None, repr=False)
    shares_credentials: bool = False
    credentials_note: str = ""

    @property
    def url_string(self) -> str:
        """The URL handed to user code: the scratch role's when there is one, else the server's own,
        with the password the server takes from PGPASSWORD or MYSQL_PWD written in (workers start
        without those variables: ``worker/prestart.py``)."""
        return (self.worker_url or _with_environment_password(self.url)).render_as_string(hide_password=False)

    @property
    def masked_url(self) -> str:
        return mask_url(self.worker_url or self.url)


ENVIRONMENT_PASSWORDS = {"postgresql": "PGPASSWORD", "mysql": "MYSQL_PWD"}


def _with_environment_password(url: URL) -> URL:
    """``url`` with the password its driver would read from the environment, when it names none."""
    variable = ENVIRONMENT_PASSWORDS.get(backend_of(url))
    password = os.environ.get(variable) if variable and url.password is None else None
    return url.set(password=password) if password else url


def scratch_notes(scratch: ScratchDatabase, failure_text: str = "") -> list[Finding]:
    """Findings about the rehearsal environment: shared credentials, or a failure only its role explains."""
    notes: list[Finding] = []
    if scratch.shares_credentials:
        notes.append(roles.shared_credentials_finding(scratch.credentials_note))
    limit = roles.privilege_limit_finding(failure_text) if scratch.role and failure_text else None
    if limit is not None:
        notes.append(limit)
    return notes


def new_name() -> str:
    return f"{PREFIX}_{int(time.time())}_{secrets.token_hex(4)}{OWNED_SUFFIX}"


def live_in_this_process() -> set[str]:
    """Names of the scratch databases this process holds right now (the test suite checks it ends empty)."""
    return set(_live_here)


def _server_url(target: URL, scratch_server: URL | None, maintenance_db: str) -> URL:
    base = scratch_server or target
    return base.set(database=maintenance_db)


async def create_scratch(
    target_url: URL | str, scratch_server_url: URL | str | None = None, credentials: str = roles.OWN_ROLE
) -> ScratchDatabase:
    """Create a scratch database whose owner lock this process holds until ``drop_scratch``.

    ``credentials``: ``"role"`` gives user code a role of its own (falling back, flagged, when the server's
    user cannot create one); ``"target"`` hands it the server's credentials (the old behaviour).
    """
    target = parse_url(target_url)
    server = parse_url(scratch_server_url) if scratch_server_url else None
    backend = backend_of(target)
    name = new_name()
    if backend == "sqlite":
        scratch = _create_sqlite(target, name)
    elif backend in ("postgresql", "mysql"):
        scratch = await _create_on_server(target, server, backend, name)
        await _give_own_credentials(scratch, credentials)
    else:
        raise DatabaseUnavailable(f"Scratch databases are not supported for the {backend!r} backend.")
    _live_here.add(name)
    return scratch


def _create_sqlite(target: URL, name: str) -> ScratchDatabase:
    folder = Path(tempfile.mkdtemp(prefix=SQLITE_DIR_PREFIX))
    owner = owners.hold_sqlite(folder)
    path = folder / f"{name}.db"
    sqlite3.connect(path).close()
    return ScratchDatabase(url=target.set(database=str(path)), name=name, backend="sqlite", owner=owner)


async def _create_on_server(target: URL, server: URL | None, backend: str, name: str) -> ScratchDatabase:
    """Take the owner lock first, then create: a sweeper never sees the database without a live lock."""
    base = server or target
    owner: owners.PgOwner | owners.MysqlOwner
    try:
        if backend == "postgresql":
            owner = await owners.hold_pg(_server_url(target, server, "postgres"), name)
            create = f'CREATE DATABASE "{name}"'
        else:
            owner = await owners.hold_mysql(_server_url(target, server, ""), name)
            create = f"CREATE DATABASE `{name}`"
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        raise _cannot_create(base, backend, exc) from None
    try:
        await owner.execute(create)
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await owner.release()
        if isinstance(exc, Exception):
            raise _cannot_create(base, backend, exc) from None
        raise
    return ScratchDatabase(url=base.set(database=name), name=name, backend=backend, owner=owner)


async def _give_own_credentials(scratch: ScratchDatabase, credentials: str) -> None:
    """Create the scratch's role and hand the database over to it; on refusal, keep (and flag) the admin's."""
    if credentials != roles.OWN_ROLE:
        scratch.shares_credentials = True
        scratch.credentials_note = "scratch_credentials = 'target' is set"
        return
    try:
        granted = await roles.create_role(scratch.owner, scratch.backend, scratch.name)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await drop_scratch(scratch)
        raise
    if isinstance(granted, str):
        scratch.shares_credentials = True
        scratch.credentials_note = f"the server's user may not create roles ({granted})"
        return
    role, password = granted
    scratch.role = role
    scratch.worker_url = scratch.url.set(username=role, password=password)


def _cannot_create(base: URL, backend: str, exc: Exception) -> DatabaseUnavailable:
    how = (
        "The user needs CREATEDB, or set scratch_url to a server where it has it."
        if backend == "postgresql"
        else "Grant CREATE/DROP, or set scratch_url to a server where the user has them."
    )
    return DatabaseUnavailable(
        f"Could not create a scratch database on {mask_url(base.set(database=None))}: {exc}. {how}"
    )


async def drop_scratch(scratch: ScratchDatabase) -> None:
    """Drop the database (through its owner connection when there is one), then release the owner lock;
    nothing when it is dropped already or being dropped in the background (``scratch_later``)."""
    if scratch.dropped or scratch.pending:
        return
    await drop_now(scratch)


async def drop_now(scratch: ScratchDatabase) -> None:
    """``drop_scratch`` without its checks (the background drop runs this)."""
    try:
        if scratch.backend == "sqlite":
            shutil.rmtree(Path(str(scratch.url.database)).parent, ignore_errors=True)
        elif scratch.backend == "postgresql":
            await _owner_or_fresh_pg(scratch, f'DROP DATABASE IF EXISTS "{scratch.name}" WITH (FORCE)')
            if scratch.role:
                await _owner_or_fresh_pg(scratch, roles.pg_drop_sql(scratch.role))
        elif scratch.backend == "mysql":
            await _owner_or_fresh_mysql(scratch, f"DROP DATABASE IF EXISTS `{scratch.name}`")
            if scratch.role:
                for sql in roles.mysql_drop_sql(scratch.role):
                    await _owner_or_fresh_mysql(scratch, sql)
    finally:
        if scratch.owner is not None:
            owner, scratch.owner = scratch.owner, None
            await owner.release()
        _live_here.discard(scratch.name)
    scratch.dropped = True


async def _owner_or_fresh_pg(scratch: ScratchDatabase, sql: str) -> None:
    if scratch.owner is not None and not scratch.owner.conn.is_closed():
        await scratch.owner.execute(sql)
    else:
        await with_pg(scratch.url.set(database="postgres"), lambda conn: conn.execute(sql))


async def _owner_or_fresh_mysql(scratch: ScratchDatabase, sql: str) -> None:
    if scratch.owner is not None:
        try:
            await scratch.owner.execute(sql)
            return
        except Exception:  # the owner connection broke: drop through a fresh one
            pass
    await with_sync(scratch.url.set(database=""), lambda conn: conn.execute(text(sql)))


@asynccontextmanager
async def scratch_database(
    target_url: URL | str, scratch_server_url: URL | str | None = None, credentials: str = roles.OWN_ROLE
) -> AsyncIterator[ScratchDatabase]:
    """Create a scratch database; drop it on exit, also on error, cancellation or timeout.

    Orphans (owner gone) and old ownerless leftovers on the same server are swept meanwhile, best effort:
    the new database is locked by its owner before it exists, so the sweep never takes it for an orphan.
    """
    created: list[ScratchDatabase] = []
    failed: list[Exception] = []

    async def create() -> None:  # its error is raised below as itself, not inside an ExceptionGroup
        try:
            created.append(await create_scratch(target_url, scratch_server_url, credentials))
        except Exception as error:
            failed.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(_sweep_quietly, target_url, scratch_server_url)
        await create()
    if failed:
        raise failed[0]
    scratch = created[0]
    try:
        yield scratch
    finally:
        with anyio.CancelScope(shield=True):
            await drop_scratch(scratch)


async def _sweep_quietly(target_url: URL | str, scratch_server_url: URL | str | None) -> None:
    try:
        await sweep_stale(target_url, scratch_server_url)
    except Exception:  # sweeping is housekeeping: never fail the caller's rehearsal for it
        pass


def _is_scratch_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name) or OWNED_PATTERN.match(name))


def _is_stale(name: str, now: float, stale_after_s: float) -> bool:
    match = NAME_PATTERN.match(name)
    return match is not None and now - int(match.group(1)) > stale_after_s


async def sweep_stale(
    target_url: URL | str,
    scratch_server_url: URL | str | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> list[str]:
    """Drop scratch databases whose owner is gone, and ownerless ones older than ``stale_after_s``.

    Returns the names dropped. A live scratch (its owner holds the lock) is never touched.
    """
    target = parse_url(target_url)
    server = parse_url(scratch_server_url) if scratch_server_url else target
    backend = backend_of(target)
    now = time.time()
    if backend == "sqlite":
        return _sweep_sqlite(now, stale_after_s)
    if backend == "postgresql":
        return await with_pg(server.set(database="postgres"), lambda conn: _sweep_pg(conn, now, stale_after_s))
    if backend == "mysql":
        return await with_sync(server.set(database=""), lambda conn: _sweep_mysql(conn, now, stale_after_s))
    return []


def _sweep_sqlite(now: float, stale_after_s: float) -> list[str]:
    dropped: list[str] = []
    for folder in Path(tempfile.gettempdir()).glob(f"{SQLITE_DIR_PREFIX}*"):
        gone = owners.sqlite_owner_gone(folder)
        for db in folder.glob(f"{PREFIX}_*.db"):
            if gone or (gone is None and _is_stale(db.stem, now, stale_after_s)):
                shutil.rmtree(folder, ignore_errors=True)
                dropped.append(db.stem)
    return dropped


async def _sweep_pg(conn: Any, now: float, stale_after_s: float) -> list[str]:
    dropped: list[str] = []
    rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PREFIX}_%")
    for name in (row["datname"] for row in rows):
        if OWNED_PATTERN.match(name):
            if not await owners.pg_owner_gone(conn, name):
                continue
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await owners.pg_release(conn, name)
        elif _is_stale(name, now, stale_after_s):
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            continue
        dropped.append(name)
    await roles.sweep_pg_roles(conn)
    return dropped


def _sweep_mysql(conn: Any, now: float, stale_after_s: float) -> list[str]:
    dropped: list[str] = []
    for name in [r[0] for r in conn.execute(text("SHOW DATABASES"))]:
        if OWNED_PATTERN.match(name):
            if not owners.mysql_owner_gone(conn, name):
                continue
            try:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            finally:
                owners.mysql_release(conn, name)
        elif _is_stale(name, now, stale_after_s):
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        else:
            continue
        dropped.append(name)
    roles.sweep_mysql_users(conn)
    return dropped


async def orphaned(target_url: URL | str, scratch_server_url: URL | str | None = None) -> list[str]:
    """Names of scratch databases on the server whose owner is gone (nothing is dropped)."""
    target = parse_url(target_url)
    server = parse_url(scratch_server_url) if scratch_server_url else target
    backend = backend_of(target)
    if backend == "postgresql":

        async def check(conn: Any) -> list[str]:
            gone = []
            for name in await list_scratch(server):
                if OWNED_PATTERN.match(name) and await owners.pg_owner_gone(conn, name):
                    await owners.pg_release(conn, name)
                    gone.append(name)
            return gone

        return await with_pg(server.set(database="postgres"), check)
    if backend == "mysql":
        names = await list_scratch(server)

        def check_sync(conn: Any) -> list[str]:
            gone = [n for n in names if OWNED_PATTERN.match(n) and owners.mysql_owner_gone(conn, n)]
            for name in gone:
                owners.mysql_release(conn, name)
            return gone

        return await with_sync(server.set(database=""), check_sync)
    return []


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
        lambda conn: [r[0] for r in conn.execute(text("SHOW DATABASES")) if _is_scratch_name(r[0])],
    )
