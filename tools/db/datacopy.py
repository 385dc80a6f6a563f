"""Copy a target database into a scratch database, reading the target only.

PostgreSQL: ``pg_dump --format=custom`` of the target, ``pg_restore`` into the scratch database.
SQLite: the sqlite3 backup API from the target file opened read-only (``mode=ro``).
MariaDB/MySQL: ``mariadb-dump --single-transaction --skip-lock-tables`` (a consistent read, no
locks) loaded with the ``mariadb`` client. Passwords travel in the environment, never on a command line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import anyio
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.errors import DatabaseUnavailable
from alembic_mcp.tools.core.urls import asyncpg_dsn_parts, backend_of, mask_url, redact


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise DatabaseUnavailable(
        f"{' or '.join(names)} is not installed, so the target's data cannot be copied. Install the "
        "database client tools, or call test_roundtrip with data_from='seed'."
    )


async def _run(
    cmd: list[str],
    env: dict[str, str],
    what: str,
    *urls: URL,
    stdin_path: Path | None = None,
    stdout_path: Path | None = None,
) -> None:
    stdin = open(stdin_path, "rb") if stdin_path else None  # noqa: SIM115
    stdout = open(stdout_path, "wb") if stdout_path else None  # noqa: SIM115
    try:
        result = await anyio.run_process(cmd, env={**os.environ, **env}, check=False, stdin=stdin, stdout=stdout)
    finally:
        for fh in (stdin, stdout):
            if fh:
                fh.close()
    if result.returncode != 0:
        err = redact(result.stderr.decode(errors="replace"), *urls)[-1500:]
        raise DatabaseUnavailable(f"{what} failed (exit {result.returncode}): {err.strip()}")


async def copy_database(source: URL, dest: URL, owner_role: str | None = None) -> None:
    """Copy schema and data of ``source`` into the (empty) database ``dest``.

    ``owner_role``: PostgreSQL restores as that role (``--role``), so the scratch's own role owns the copy.
    MariaDB/MySQL need nothing: the scratch user's grants cover the whole database.
    """
    backend = backend_of(source)
    if backend == "sqlite":
        await anyio.to_thread.run_sync(_copy_sqlite, source, dest)
        return
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-copy-") as tmp:
        dump = Path(tmp) / "dump"
        if backend == "postgresql":
            await _copy_pg(source, dest, dump, owner_role)
        elif backend == "mysql":
            await _copy_mysql(source, dest, dump)
        else:
            raise DatabaseUnavailable(f"Copying a {backend} database is not supported; use data_from='seed'.")


def _copy_sqlite(source: URL, dest: URL) -> None:
    path = source.database
    if not path or path == ":memory:" or not Path(path).is_file():
        raise DatabaseUnavailable(f"The target SQLite database {mask_url(source)} is not a file that exists.")
    src = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(str(dest.database))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    parts = asyncpg_dsn_parts(url)
    env = {"PGCONNECT_TIMEOUT": "10"}
    if parts.get("password"):
        env["PGPASSWORD"] = parts["password"]
    return [
        "-h",
        str(parts["host"]),
        "-p",
        str(parts["port"]),
        "-U",
        parts["user"],
        "-d",
        parts["database"],
    ], env


async def _copy_pg(source: URL, dest: URL, dump: Path, owner_role: str | None) -> None:
    src_args, src_env = _pg_args(source)
    await _run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "-f", str(dump), *src_args],
        src_env,
        f"pg_dump of {mask_url(source)}",
        source,
    )
    dst_args, dst_env = _pg_args(dest)
    await _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            *([f"--role={owner_role}"] if owner_role else []),
            *dst_args,
            str(dump),
        ],
        dst_env,
        "pg_restore into the scratch database",
        dest,
    )


def _my_args(url: URL) -> tuple[list[str], dict[str, str]]:
    args = ["-h", url.host or "127.0.0.1", "-P", str(url.port or 3306), "-u", url.username or "root"]
    env = {"MYSQL_PWD": str(url.password)} if url.password else {}
    return args, env


async def _copy_mysql(source: URL, dest: URL, dump: Path) -> None:
    src_args, src_env = _my_args(source)
    await _run(
        [
            _tool("mariadb-dump", "mysqldump"),
            "--single-transaction",
            "--skip-lock-tables",
            "--routines",
            "--triggers",
            "--hex-blob",
            "--no-tablespaces",
            *src_args,
            source.database or "",
        ],
        src_env,
        f"mariadb-dump of {mask_url(source)}",
        source,
        stdout_path=dump,
    )
    dst_args, dst_env = _my_args(dest)
    await _run(
        [_tool("mariadb", "mysql"), *dst_args, dest.database or ""],
        dst_env,
        "loading the dump into the scratch database",
        dest,
        stdin_path=dump,
    )
