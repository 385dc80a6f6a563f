"""Verifying an archive: ``list`` (is it readable and does it hold every table) and ``restore`` (load it
into a scratch database and compare per-table row counts with the manifest). Never touches the target.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import anyio
from sqlalchemy.engine import URL

from alembic_mcp.tools.backup.dump_commands import (
    BackupFailed,
    describe_exit,
    find_mysql_tool,
    find_pg_tool,
    mysql_client_argv,
    pg_candidates,
    pg_major_from_server_num,
    pg_restore_argv,
    run_program,
)
from alembic_mcp.tools.backup.engines import pg_count, pg_user_tables, sqlite_file_url
from alembic_mcp.tools.backup.manifest import Verification
from alembic_mcp.tools.backup.mysql_dump_parse import parse_mysql_dump
from alembic_mcp.tools.core.errors import ProjectError
from alembic_mcp.tools.db.dbinfo import pg_connect, row_counts
from alembic_mcp.tools.db.scratch import scratch_database


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    """One line per table whose count differs (or that is missing) after a restore."""
    out = []
    for table, rows in sorted(expected.items()):
        if table not in actual:
            out.append(f"{table}: {rows} rows in the manifest, table missing after restore")
        elif actual[table] != rows:
            out.append(f"{table}: {rows} rows in the manifest, {actual[table]} restored")
    return out


# ------------------------------------------------------------------------------------------- list


def _pg_toc_has(toc: str, table: str) -> bool:
    schema, _, name = table.rpartition(".")
    for line in toc.splitlines():
        _, found, rest = line.partition(" TABLE DATA ")
        if not found:
            continue
        if schema and rest.startswith(f"{schema} {name} "):
            return True
        if not schema and rest.split(" ", 1)[-1].startswith(f"{name} "):
            return True
    return False


async def _list_postgresql(archive: Path, tables: dict[str, int], timeout_s: float) -> Verification:
    candidates = await anyio.to_thread.run_sync(pg_candidates, "pg_restore")
    if not candidates:
        raise ProjectError(
            "pg_restore was not found on PATH. Install the PostgreSQL client "
            "(Debian/Ubuntu: apt-get install postgresql-client)."
        )
    tool = max(candidates, key=lambda c: c.major)  # the newest reads every older archive
    outcome = await run_program(
        [tool.path, "--list", str(archive)],
        {},
        timeout_s=timeout_s,
        what="pg_restore --list",
        capture_stdout=True,
    )
    if outcome.returncode != 0:
        return Verification(
            mode="list",
            ok=False,
            detail=describe_exit("pg_restore --list", outcome)
            + ": the archive is not a readable pg_dump custom-format file.",
        )
    missing = [t for t in tables if not _pg_toc_has(outcome.stdout, t)]
    entries = sum(1 for line in outcome.stdout.splitlines() if line and not line.startswith(";"))
    if missing:
        return Verification(
            mode="list",
            ok=False,
            mismatches=[f"{t}: no TABLE DATA entry" for t in missing],
            detail=f"pg_restore --list read {entries} entries but found no data for {', '.join(missing)}.",
        )
    return Verification(
        mode="list",
        ok=True,
        detail=f"pg_restore --list read the archive: {entries} entries, data for all {len(tables)} tables.",
    )


def _list_mysql_sync(archive: Path, tables: dict[str, int]) -> Verification:
    parsed = parse_mysql_dump(archive)
    if not parsed.ok:
        return Verification(mode="list", ok=False, detail="The dump cannot be read: " + "; ".join(parsed.problems[:5]))
    mismatches = compare_counts(tables, parsed.counts)
    if mismatches:
        return Verification(
            mode="list",
            ok=False,
            mismatches=mismatches,
            detail="The dump parses but does not hold the rows the manifest lists.",
        )
    return Verification(
        mode="list",
        ok=True,
        detail=f"The dump parses ({parsed.header or 'dump header'} ... "
        f"'-- Dump completed'); CREATE TABLE and {sum(parsed.counts.values())} rows for all "
        f"{len(tables)} tables.",
    )


def _sqlite_check_sync(path: Path, tables: dict[str, int], mode: str) -> Verification:
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            counts = {
                t: conn.execute(f'SELECT count(*) FROM "{t.replace(chr(34), chr(34) * 2)}"').fetchone()[0]
                for t in tables
                if t in existing
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Verification(mode=mode, ok=False, detail=f"The file is not a readable SQLite database: {exc}.")
    if result != ["ok"]:
        return Verification(mode=mode, ok=False, detail="PRAGMA integrity_check: " + "; ".join(result[:5]))
    mismatches = compare_counts(tables, counts)
    if mismatches:
        return Verification(
            mode=mode,
            ok=False,
            mismatches=mismatches,
            detail="integrity_check is ok but the row counts differ from the manifest.",
        )
    return Verification(
        mode=mode,
        ok=True,
        detail=f"PRAGMA integrity_check: ok; row counts of all {len(tables)} tables equal the manifest.",
    )


async def verify_list(backend: str, archive: Path, tables: dict[str, int], timeout_s: float) -> Verification:
    if backend == "postgresql":
        return await _list_postgresql(archive, tables, timeout_s)
    if backend == "mysql":
        return await anyio.to_thread.run_sync(_list_mysql_sync, archive, tables)
    return await anyio.to_thread.run_sync(_sqlite_check_sync, archive, tables, "list")


# ---------------------------------------------------------------------------------------- restore


async def _restore_postgresql(
    archive: Path, scratch: URL, tables: dict[str, int], timeout_s: float, partial: bool
) -> Verification:
    """``partial``: the archive holds only some tables, so pg_restore may report errors for objects
    pointing outside it (foreign keys to tables not in the backup); then the row counts decide."""
    conn = await pg_connect(scratch)
    try:
        server_num = int(await conn.fetchval("SHOW server_version_num"))
        server_version = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    tool = await anyio.to_thread.run_sync(
        find_pg_tool, "pg_restore", pg_major_from_server_num(server_num), server_version
    )
    argv, env = pg_restore_argv(tool, scratch, archive, clean=False)
    outcome = await run_program(argv, env, timeout_s=timeout_s, what="pg_restore", secrets=(scratch,))
    skipped, errors = outside_backup(outcome.stderr, set(tables)) if partial else ([], [])
    if outcome.returncode != 0 and not (partial and outcome.returncode > 0 and skipped and not errors):
        detail = describe_exit("pg_restore", outcome)
        if errors:
            detail += f"; {len(errors)} error(s) not explained by the partial backup: {errors[0][:300]}"
        return Verification(mode="restore", ok=False, detail=detail + ".")
    conn = await pg_connect(scratch)
    try:
        available = await pg_user_tables(conn)
        counts = await pg_count(conn, {k: v for k, v in available.items() if k in tables})
    finally:
        await conn.close()
    check = _restored(tables, counts, "pg_restore")
    if skipped:
        check.detail += (
            " Not restored, as expected of a partial backup (they reference tables outside it; the restore "
            f"command skips them too): {'; '.join(skipped[:5])}"
            + (f" (+{len(skipped) - 5} more)." if len(skipped) > 5 else ".")
        )
    return check


_ERROR = re.compile(r"^pg_restore: error: ", re.M)
_MISSING = re.compile(r'relation "(?:[^"]*\.)?([^".]+)" does not exist')
_FOREIGN_KEY = re.compile(r"ADD CONSTRAINT (\S+) FOREIGN KEY .*? REFERENCES (?:\S+\.)?(\w+)\(", re.S)


def outside_backup(stderr: str, tables: set[str]) -> tuple[list[str], list[str]]:
    """pg_restore's errors split in two: foreign keys to a table the partial backup does not hold (the
    table is missing, so the constraint cannot be made: expected), and every other error."""
    skipped: list[str] = []
    errors: list[str] = []
    for chunk in _ERROR.split(stderr or "")[1:]:
        chunk = chunk.split("\npg_restore: warning:")[0].strip()
        missing, key = _MISSING.search(chunk), _FOREIGN_KEY.search(chunk)
        if missing and key and key.group(2) == missing.group(1) and missing.group(1) not in tables:
            skipped.append(f"foreign key {key.group(1)} to {missing.group(1)}")
        else:
            errors.append(" ".join(chunk.split()))
    return skipped, errors


async def _restore_mysql(archive: Path, scratch: URL, tables: dict[str, int], timeout_s: float) -> Verification:
    tool = await anyio.to_thread.run_sync(find_mysql_tool, "client")
    argv, env = mysql_client_argv(tool, scratch)
    with archive.open("rb") as stdin:
        outcome = await run_program(
            argv, env, timeout_s=timeout_s, what=Path(tool.path).name, stdin=stdin, secrets=(scratch,)
        )
    if outcome.returncode != 0:
        return Verification(mode="restore", ok=False, detail=describe_exit(Path(tool.path).name, outcome) + ".")
    counts = {t: v["rows"] for t, v in (await row_counts(scratch, list(tables))).items()}
    return _restored(tables, counts, Path(tool.path).name)


async def _restore_sqlite(archive: Path, scratch: URL, tables: dict[str, int]) -> Verification:
    target = Path(str(scratch.database))
    await anyio.to_thread.run_sync(shutil.copyfile, archive, target)
    check = await anyio.to_thread.run_sync(_sqlite_check_sync, target, tables, "restore")
    if not check.ok:
        return check
    counts = {t: v["rows"] for t, v in (await row_counts(sqlite_file_url(target), list(tables))).items()}
    return _restored(tables, counts, "a copy of the archive")


def _restored(tables: dict[str, int], counts: dict[str, int], how: str) -> Verification:
    mismatches = compare_counts(tables, counts)
    if mismatches:
        return Verification(
            mode="restore",
            ok=False,
            mismatches=mismatches,
            detail=f"Restored with {how}, but {len(mismatches)} table(s) differ from the manifest.",
        )
    return Verification(
        mode="restore",
        ok=True,
        detail=f"Restored with {how} into a scratch database: all {len(tables)} table(s), "
        f"{sum(counts.values())} rows, equal to the manifest.",
    )


async def verify_restore(
    backend: str,
    archive: Path,
    target: URL,
    scratch_server: str | None,
    tables: dict[str, int],
    timeout_s: float,
    partial: bool = False,
) -> Verification:
    """Restore into a scratch database (dropped afterwards, also on error) and compare row counts.
    ``partial``: the archive was restricted to some tables."""
    try:
        async with scratch_database(target, scratch_server) as scratch:
            if backend == "postgresql":
                check = await _restore_postgresql(archive, scratch.url, tables, timeout_s, partial)
            elif backend == "mysql":
                check = await _restore_mysql(archive, scratch.url, tables, timeout_s)
            else:
                check = await _restore_sqlite(archive, scratch.url, tables)
            masked = scratch.masked_url
    except BackupFailed as exc:
        return Verification(mode="restore", ok=False, detail=str(exc))
    check.detail += f" Scratch database {masked} was dropped."
    return check
