"""One dump routine per backend, each writing a complete archive to a temp path and saying what is in it.

- PostgreSQL: ``pg_dump --format=custom`` on a snapshot exported from our own REPEATABLE READ
  transaction, so the row counts and the Alembic revision read in that transaction describe exactly
  the data in the archive. The counts run while pg_dump dumps.
- MariaDB/MySQL: ``mariadb-dump``/``mysqldump --single-transaction``; the row counts are read from the
  dump itself (INSERT tuples per table), so they describe exactly what the archive holds.
- SQLite: the online backup API (a consistent copy while the app writes), then counted and read from
  the copy.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import anyio
import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL

from alembic_mcp.tools.backup.dump_commands import (
    BackupFailed,
    describe_exit,
    find_mysql_tool,
    find_pg_tool,
    mysql_dump_argv,
    pg_dump_argv,
    pg_major_from_server_num,
    run_program,
)
from alembic_mcp.tools.backup.mysql_dump_parse import parse_mysql_dump
from alembic_mcp.tools.core.errors import DatabaseUnavailable, InvalidArgument
from alembic_mcp.tools.core.urls import redact
from alembic_mcp.tools.db.dbinfo import current_revisions, pg_connect, row_counts, table_names, with_sync

Poll = Callable[[], Awaitable[None]]
SQLITE_PAGES_PER_STEP = 16384  # 64 MB at 4 KiB pages

PG_TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, current_schema() AS current
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


@dataclass
class DumpOutcome:
    counts: dict[str, int]
    revisions: list[str] | None
    tool_versions: dict[str, str]
    counts_source: str
    selected: list[str] | None = None
    server_version: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def resolve_tables(requested: list[str] | None, available: list[str], backend: str) -> list[str] | None:
    """Map the caller's ``tables`` onto existing tables; unknown ones are an error naming them."""
    if requested is None:
        return None
    if not isinstance(requested, list) or not all(isinstance(t, str) and t.strip() for t in requested):
        raise InvalidArgument('tables must be a list of table names, e.g. ["residents", "faculty"], or omitted.')
    if not requested:
        raise InvalidArgument("tables is an empty list; omit it to back up the whole database.")
    lookup = {name: name for name in available}
    if backend == "postgresql":
        for name in available:
            if "." not in name:
                lookup.setdefault(f"public.{name}", name)
    chosen: list[str] = []
    unknown: list[str] = []
    for raw in requested:
        name = raw.strip()
        if name in lookup:
            if lookup[name] not in chosen:
                chosen.append(lookup[name])
        else:
            unknown.append(name)
    if unknown:
        shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
        raise InvalidArgument(
            f"Unknown table{'s' if len(unknown) > 1 else ''} {', '.join(repr(u) for u in unknown)}: "
            f"not in the target database. Existing tables: {shown or 'none'}."
        )
    return chosen


# ------------------------------------------------------------------------------------ PostgreSQL


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def pg_user_tables(conn: asyncpg.Connection) -> dict[str, tuple[str, str]]:
    """``{key: (schema, name)}``; key is the bare name in the current schema, else schema.name."""
    rows = await conn.fetch(PG_TABLES_SQL)
    out: dict[str, tuple[str, str]] = {}
    for row in rows:
        key = row["name"] if row["schema"] == row["current"] else f"{row['schema']}.{row['name']}"
        out[key] = (row["schema"], row["name"])
    return out


async def pg_count(conn: asyncpg.Connection, tables: dict[str, tuple[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, (schema, name) in tables.items():
        counts[key] = int(await conn.fetchval(f"SELECT count(*) FROM {_pg_ident(schema)}.{_pg_ident(name)}"))
    return counts


async def _pg_revisions(conn: asyncpg.Connection, version_table: str, schema: str | None) -> list[str] | None:
    qualified = f"{_pg_ident(schema)}.{_pg_ident(version_table)}" if schema else _pg_ident(version_table)
    if await conn.fetchval("SELECT to_regclass($1)", qualified) is None:
        return None
    return sorted(r["version_num"] for r in await conn.fetch(f"SELECT version_num FROM {qualified}"))


async def dump_postgresql(
    url: URL,
    temp: Path,
    tables: list[str] | None,
    *,
    timeout_s: float,
    poll: Poll,
    version_table: str,
    version_schema: str | None,
) -> DumpOutcome:
    conn = await pg_connect(url)
    clean = False
    try:
        server_num = int(await conn.fetchval("SHOW server_version_num"))
        server_version = str(await conn.fetchval("SHOW server_version"))
        tool = await anyio.to_thread.run_sync(
            find_pg_tool, "pg_dump", pg_major_from_server_num(server_num), server_version
        )
        available = await pg_user_tables(conn)
        selected = resolve_tables(tables, list(available), "postgresql")
        to_count = {k: available[k] for k in (selected if selected is not None else available)}
        transaction = conn.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        revisions = await _pg_revisions(conn, version_table, version_schema)
        argv, env = pg_dump_argv(
            tool, url, temp, [available[k] for k in selected] if selected is not None else None, snapshot
        )
        counts: dict[str, int] = {}

        count_error: list[BaseException] = []

        async def count() -> None:
            try:
                counts.update(await pg_count(conn, to_count))
            except Exception as exc:  # re-raised below, outside the task group (no ExceptionGroup)
                count_error.append(
                    BackupFailed(f"Counting the rows in the dump's snapshot failed: {redact(str(exc), url)}")
                )

        outcome = None
        async with anyio.create_task_group() as group:
            group.start_soon(count)
            try:
                outcome = await run_program(argv, env, timeout_s=timeout_s, what="pg_dump", poll=poll, secrets=(url,))
            except Exception as exc:  # re-raised below, outside the task group (no ExceptionGroup)
                count_error.insert(0, exc)
            if outcome is None or outcome.returncode != 0:
                group.cancel_scope.cancel()  # do not wait for the counting
        if outcome is not None and outcome.returncode != 0:
            raise BackupFailed(describe_exit("pg_dump", outcome) + ". Nothing was kept.")
        if count_error:
            raise count_error[0]
        await transaction.rollback()
        clean = True
        return DumpOutcome(
            counts=counts,
            revisions=revisions,
            selected=selected,
            server_version=server_version,
            tool_versions={"pg_dump": tool.version, "server": f"PostgreSQL {server_version}"},
            counts_source="count(*) in the snapshot pg_dump used (exactly the archived rows)",
        )
    finally:
        if clean:
            with anyio.CancelScope(shield=True):
                await conn.close()
        else:
            conn.terminate()


# ------------------------------------------------------------------------------------ MariaDB/MySQL


async def dump_mysql(
    url: URL,
    temp: Path,
    tables: list[str] | None,
    *,
    timeout_s: float,
    poll: Poll,
    version_table: str,
    version_schema: str | None,
) -> DumpOutcome:
    available = await table_names(url)
    selected = resolve_tables(tables, available, "mysql")
    server_version = await with_sync(url, lambda c: str(c.execute(text("SELECT VERSION()")).scalar_one()))
    tool = await anyio.to_thread.run_sync(find_mysql_tool, "dump")
    revisions = await current_revisions(url, version_table, version_schema)
    argv, env = mysql_dump_argv(tool, url, temp, selected)
    outcome = await run_program(argv, env, timeout_s=timeout_s, what=Path(tool.path).name, poll=poll, secrets=(url,))
    if outcome.returncode != 0:
        raise BackupFailed(describe_exit(Path(tool.path).name, outcome) + ". Nothing was kept.")
    parsed = await anyio.to_thread.run_sync(parse_mysql_dump, temp)
    if not parsed.ok:
        raise BackupFailed(f"{Path(tool.path).name} produced an unreadable dump: {'; '.join(parsed.problems)}.")
    wanted = selected if selected is not None else available
    missing = [t for t in wanted if t not in parsed.counts]
    if missing:
        raise BackupFailed(f"The dump lacks table(s) {', '.join(missing)}; nothing was kept.")
    return DumpOutcome(
        counts={t: parsed.counts[t] for t in wanted},
        revisions=revisions,
        selected=selected,
        server_version=server_version,
        tool_versions={Path(tool.path).name: tool.version, "server": server_version},
        counts_source="rows in the dump's INSERT statements (exactly the archived rows)",
    )


# ------------------------------------------------------------------------------------------ SQLite


def sqlite_file_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path))


async def dump_sqlite(
    url: URL,
    temp: Path,
    tables: list[str] | None,
    *,
    timeout_s: float,
    poll: Poll,
    version_table: str,
    version_schema: str | None,
) -> DumpOutcome:
    """Copy the file with SQLite's online backup API (consistent under writers), then count the copy."""
    source = _sqlite_source(url)
    available = await table_names(url)
    selected = resolve_tables(tables, available, "sqlite")
    stop = threading.Event()
    await _copy_until_deadline(lambda: _copy_sqlite(source, temp, available, selected, stop), stop, timeout_s, poll)
    copy = sqlite_file_url(temp)
    wanted = selected if selected is not None else available
    counts = {t: v["rows"] for t, v in (await row_counts(copy, wanted, exact_limit=2**62)).items()}
    return DumpOutcome(
        counts=counts,
        revisions=await current_revisions(copy, version_table, version_schema),
        selected=selected,
        server_version=sqlite3.sqlite_version,
        tool_versions={"sqlite": sqlite3.sqlite_version, "method": "sqlite3 online backup API"},
        counts_source="count(*) on the backup copy (exactly the archived rows)",
    )


def _sqlite_source(url: URL) -> str:
    source = url.database
    if not source or source == ":memory:" or source.startswith("file:"):
        raise InvalidArgument(f"Cannot back up the SQLite database {source!r}: give a file path.")
    if not Path(source).is_file():
        raise DatabaseUnavailable(
            f"SQLite database file {source} does not exist. Check the URL (sqlite:///relative/path.db is "
            "relative to the project) or create the database with `alembic upgrade head`."
        )
    return source


def _copy_sqlite(
    source: str, temp: Path, available: list[str], selected: list[str] | None, stop: threading.Event
) -> None:
    """In a thread: the backup API's copy, stopping at its next step once ``stop`` is set."""
    src = sqlite3.connect(f"file:{quote(source)}?mode=ro", uri=True)
    dst = sqlite3.connect(temp)
    try:

        def step(status: int, remaining: int, total: int) -> None:
            if stop.is_set():
                raise BackupFailed("SQLite backup stopped")

        # Big steps: a write by another connection between steps restarts the copy (that is how
        # the API stays consistent), so few steps keep a busy database from restarting it forever.
        src.backup(dst, pages=SQLITE_PAGES_PER_STEP, progress=step)
        if selected is not None:
            dst.execute("PRAGMA foreign_keys=OFF")
            for name in available:
                if name not in selected:
                    dst.execute(f'DROP TABLE "{name.replace(chr(34), chr(34) * 2)}"')
            dst.commit()
            dst.execute("VACUUM")
    finally:
        dst.close()
        src.close()


async def _copy_until_deadline(work: Callable[[], None], stop: threading.Event, timeout_s: float, poll: Poll) -> None:
    """Run ``work`` in a thread while polling progress; past the deadline or on cancel, set ``stop``."""
    deadline = anyio.current_time() + timeout_s
    timed_out = False

    async def poller() -> None:
        nonlocal timed_out
        try:
            while not stop.is_set():
                await anyio.sleep(0.1)
                if anyio.current_time() > deadline:
                    timed_out = True
                    return
                await poll()
        finally:
            stop.set()  # also when cancelled: the copying thread stops at its next step

    failure: list[BaseException] = []
    async with anyio.create_task_group() as group:
        group.start_soon(poller)
        try:
            await anyio.to_thread.run_sync(work)
        except (BackupFailed, sqlite3.Error) as exc:  # re-raised below, outside the task group
            failure.append(exc)
        finally:
            group.cancel_scope.cancel()
    if not failure:
        return
    if timed_out:
        raise BackupFailed(
            f"The SQLite backup did not finish within {timeout_s:g} s and was stopped; nothing was kept. "
            "Raise backup_timeout_s ([tool.alembic-mcp] or ALEMBIC_MCP_BACKUP_TIMEOUT_S)."
        )
    await anyio.lowlevel.checkpoint()  # stopped because the caller was cancelled: let that through
    if isinstance(failure[0], sqlite3.Error):
        raise BackupFailed(f"The SQLite backup failed: {failure[0]}. Nothing was kept.")
    raise failure[0]


ENGINES = {"postgresql": dump_postgresql, "mysql": dump_mysql, "sqlite": dump_sqlite}
