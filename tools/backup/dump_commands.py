"""The external dump/restore programs: finding them, checking their versions, building their command
lines, and running them with a timeout, progress polling and a process-group kill.

Passwords never go on a command line: PostgreSQL tools get ``PGPASSWORD``, MariaDB/MySQL tools get
``MYSQL_PWD``, both only in the child's environment.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio
from sqlalchemy.engine import URL

from alembic_mcp.tools.core.errors import AlembicMcpError, ProjectError
from alembic_mcp.tools.core.urls import asyncpg_dsn_parts, parse_url, redact
from alembic_mcp.tools.worker.prestart import kill_group

STDERR_TAIL = 2000
POLL_INTERVAL_S = 0.1

# Where PostgreSQL client binaries of several major versions live, besides $PATH.
PG_BIN_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql@*/bin",  # macOS Homebrew (arm)
    "/usr/local/opt/postgresql@*/bin",  # macOS Homebrew (intel)
)


class BackupFailed(AlembicMcpError):
    """A dump or restore program failed, was killed, or timed out; nothing was published."""


@dataclass(frozen=True)
class ToolBinary:
    path: str
    version: str  # the program's own --version line
    major: tuple[int, ...]  # (15,) or (9, 6)


# ----------------------------------------------------------------------------------------- versions

_PG_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def pg_major_from_version_text(text: str) -> tuple[int, ...] | None:
    """``pg_dump (PostgreSQL) 15.20 (Debian ...)`` -> ``(15,)``; ``9.6.24`` -> ``(9, 6)``."""
    match = _PG_VERSION.search(text)
    if not match:
        return None
    first = int(match.group(1))
    if first >= 10:
        return (first,)
    return (first, int(match.group(2) or 0))


def pg_major_from_server_num(version_num: int) -> tuple[int, ...]:
    """``server_version_num`` 150020 -> ``(15,)``; 90624 -> ``(9, 6)``."""
    if version_num >= 100000:
        return (version_num // 10000,)
    return (version_num // 10000, (version_num // 100) % 100)


def pg_major_text(major: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in major)


def pg_client_can_dump(client: tuple[int, ...], server: tuple[int, ...]) -> bool:
    """pg_dump reads servers of its own major version and older, never newer ones."""
    return client >= server


def _version_of(path: str) -> str | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def pg_candidates(name: str) -> list[ToolBinary]:
    """Every ``name`` (pg_dump, pg_restore) found on $PATH and in the usual versioned folders."""
    paths: list[str] = []
    on_path = shutil.which(name)
    if on_path:
        paths.append(on_path)
    for pattern in PG_BIN_GLOBS:
        for folder in sorted(glob.glob(pattern)):
            candidate = os.path.join(folder, name)
            if os.access(candidate, os.X_OK) and candidate not in paths:
                paths.append(candidate)
    found: list[ToolBinary] = []
    seen: set[str] = set()
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        text = _version_of(path)
        major = pg_major_from_version_text(text or "")
        if text and major:
            found.append(ToolBinary(path=path, version=text, major=major))
    return found


def find_pg_tool(name: str, server_major: tuple[int, ...], server_version: str) -> ToolBinary:
    """The ``name`` binary able to handle a server of ``server_major``: the one on $PATH when new
    enough, else the oldest installed version that is. A clear error says which version is needed."""
    candidates = pg_candidates(name)
    if not candidates:
        raise ProjectError(
            f"{name} was not found on PATH. Install the PostgreSQL client, version "
            f"{pg_major_text(server_major)} or newer (Debian/Ubuntu: apt-get install postgresql-client-"
            f"{pg_major_text(server_major)}; RHEL: dnf install postgresql{server_major[0]}; macOS: brew "
            f"install postgresql@{server_major[0]})."
        )
    on_path = shutil.which(name)
    good = [c for c in candidates if pg_client_can_dump(c.major, server_major)]
    for c in good:
        if c.path == on_path:
            return c
    if good:
        return min(good, key=lambda c: c.major)
    newest = max(candidates, key=lambda c: c.major)
    raise ProjectError(
        f"{name} {pg_major_text(newest.major)} ({newest.path}) is older than the database server "
        f"(PostgreSQL {server_version}); {name} cannot read a newer server. Install {name} version "
        f"{pg_major_text(server_major)} or newer (Debian/Ubuntu: apt-get install postgresql-client-"
        f"{pg_major_text(server_major)}) and put it first on PATH."
    )


def find_mysql_tool(kind: str) -> ToolBinary:
    """``kind`` "dump": mariadb-dump or mysqldump; "client": mariadb or mysql."""
    names = ("mariadb-dump", "mysqldump") if kind == "dump" else ("mariadb", "mysql")
    for name in names:
        path = shutil.which(name)
        if path:
            return ToolBinary(path=path, version=_version_of(path) or name, major=())
    raise ProjectError(
        f"Neither {names[0]} nor {names[1]} is on PATH. Install the MariaDB client "
        "(Debian/Ubuntu: apt-get install mariadb-client; or mysql-client for MySQL servers)."
    )


# ----------------------------------------------------------------------------------- command lines


def _query_value(url: URL, key: str) -> str | None:
    value = url.query.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else value[0]


def pg_connection(url: URL | str) -> tuple[list[str], dict[str, str]]:
    """``(argv part, env)`` to reach the database of ``url`` with libpq tools; the password is env."""
    parsed = parse_url(url)
    parts = asyncpg_dsn_parts(parsed)
    args = [
        "--host",
        str(parts["host"]),
        "--port",
        str(parts["port"]),
        "--username",
        str(parts["user"]),
        "--dbname",
        str(parts["database"]),
    ]
    env = {"PGCONNECT_TIMEOUT": "10"}
    if parts.get("password"):
        env["PGPASSWORD"] = str(parts["password"])
    sslmode = _query_value(parsed, "sslmode")
    if sslmode:
        env["PGSSLMODE"] = sslmode
    return args, env


def mysql_connection(url: URL | str) -> tuple[list[str], dict[str, str]]:
    """``(argv part without the database, env)`` for mariadb/mysql tools; the password is env."""
    parsed = parse_url(url)
    args: list[str] = []
    socket = _query_value(parsed, "unix_socket")
    if socket:
        args += ["--socket", socket]
    else:
        args += ["--protocol=TCP", "--host", parsed.host or "127.0.0.1", "--port", str(parsed.port or 3306)]
    args += ["--user", parsed.username or "root"]
    env: dict[str, str] = {}
    if parsed.password:
        env["MYSQL_PWD"] = str(parsed.password)
    return args, env


def pg_dump_argv(
    tool: ToolBinary, url: URL, out_file: Path, tables: list[tuple[str, str]] | None, snapshot: str | None
) -> tuple[list[str], dict[str, str]]:
    """``tables``: (schema, name) pairs; each becomes an exact, quoted ``--table`` argument."""
    conn, env = pg_connection(url)
    argv = [tool.path, "--format=custom", "--no-password", "--file", str(out_file), *conn]
    if snapshot:
        argv += ["--snapshot", snapshot]
    for schema, name in tables or []:
        argv += ["--table", pg_table_pattern(schema, name)]
    return argv, env


def pg_table_pattern(schema: str, name: str) -> str:
    """An exact (non-pattern) ``--table`` argument: both parts double-quoted."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in (schema, name))


def pg_restore_argv(tool: ToolBinary, url: URL, archive: Path, *, clean: bool) -> tuple[list[str], dict[str, str]]:
    conn, env = pg_connection(url)
    argv = [tool.path, "--no-password", "--no-owner", "--no-acl", *conn]
    if clean:
        argv += ["--clean", "--if-exists", "--single-transaction"]
    return [*argv, str(archive)], env


def mysql_dump_argv(
    tool: ToolBinary, url: URL, out_file: Path, tables: list[str] | None
) -> tuple[list[str], dict[str, str]]:
    conn, env = mysql_connection(url)
    parsed = parse_url(url)
    argv = [
        tool.path,
        *conn,
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--hex-blob",
        "--default-character-set=utf8mb4",
        f"--result-file={out_file}",
        "--",
        parsed.database or "",
    ]
    return [*argv, *(tables or [])], env


def mysql_client_argv(tool: ToolBinary, url: URL) -> tuple[list[str], dict[str, str]]:
    conn, env = mysql_connection(url)
    return [tool.path, *conn, "--batch", "--", parse_url(url).database or ""], env


# ------------------------------------------------------------------------------- restore commands


def restore_command(backend: str, url: URL, archive: Path) -> str:
    """The exact shell command that restores ``archive`` into the database of ``url`` (no password)."""
    parsed = parse_url(url)
    if backend == "postgresql":
        conn, _ = pg_connection(parsed)
        argv = [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *conn,
            str(archive),
        ]
        return shlex.join(argv)
    if backend == "mysql":
        conn, _ = mysql_connection(parsed)
        tool = "mariadb" if shutil.which("mariadb") or not shutil.which("mysql") else "mysql"
        return shlex.join([tool, *conn, parsed.database or ""]) + " < " + shlex.quote(str(archive))
    return shlex.join(["sqlite3", str(parsed.database), f".restore {_sqlite_quote(str(archive))}"])


def _sqlite_quote(text: str) -> str:
    """A sqlite3 dot-command argument: double-quoted, backslash escapes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -------------------------------------------------------------------------------------- running

Poll = Callable[[], Awaitable[None]]


@dataclass
class Outcome:
    returncode: int
    stderr: str
    stdout: str = ""


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


async def run_program(
    argv: list[str],
    env: dict[str, str],
    *,
    timeout_s: float,
    what: str,
    poll: Poll | None = None,
    stdin: IO[bytes] | None = None,
    capture_stdout: bool = False,
    secrets: tuple[str | URL | None, ...] = (),
) -> Outcome:
    """Run ``argv`` in its own process group; call ``poll`` every 0.1 s while it runs.

    On timeout or cancellation the whole group is killed. stderr goes to a temporary file (no pipe to
    fill up); its tail comes back with the password removed.
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        try:
            process = await anyio.open_process(
                argv,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=out if capture_stdout else subprocess.DEVNULL,
                stderr=err,
                env=child_env(env),
                start_new_session=True,
            )
        except OSError as exc:
            raise BackupFailed(f"Could not start {what} ({argv[0]}): {exc}.") from None
        timed_out = False
        try:
            with anyio.move_on_after(timeout_s) as scope:
                while process.returncode is None:
                    with anyio.move_on_after(POLL_INTERVAL_S):
                        await process.wait()
                    if process.returncode is None and poll is not None:
                        await poll()
            if scope.cancelled_caught:
                timed_out = True
        finally:
            with anyio.CancelScope(shield=True):
                if process.returncode is None:
                    kill_group(process.pid)
                    await process.wait()
                await process.aclose()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        stdout = ""
        if capture_stdout:
            out.seek(0)
            stdout = out.read().decode(errors="replace")
    stderr = redact(stderr, *secrets)[-STDERR_TAIL:].strip()
    if timed_out:
        raise BackupFailed(
            f"{what} did not finish within {timeout_s:g} s and was killed; nothing was kept. Raise "
            "backup_timeout_s ([tool.alembic-mcp] or ALEMBIC_MCP_BACKUP_TIMEOUT_S), or check for a "
            "long-held lock on the tables (pg_stat_activity / SHOW PROCESSLIST)."
        )
    return Outcome(returncode=process.returncode or 0, stderr=stderr, stdout=redact(stdout, *secrets))


def describe_exit(what: str, outcome: Outcome) -> str:
    code = outcome.returncode
    how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    detail = f": {outcome.stderr}" if outcome.stderr else ""
    return f"{what} {how}{detail}"
