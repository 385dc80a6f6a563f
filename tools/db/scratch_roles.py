"""A login of its own for each scratch database, so user code never holds the server's credentials.

PostgreSQL: ``CREATE ROLE amcp_r_<ts>_<hex> LOGIN PASSWORD '<random>'`` without any attribute, the
scratch database handed to it (``OWNER``), ``CONNECT`` on it revoked from PUBLIC and granted to the role.
MariaDB/MySQL: ``CREATE USER 'amcp_r_<ts>_<hex>'@'%'`` (and ``@'localhost'``, which an anonymous
``''@'localhost'`` would otherwise shadow) with ``ALL`` on the scratch database only. The role is
dropped with its database; a sweep drops roles whose database is gone and whose owner lock is free.

Not an isolation under trust or peer authentication, where a role name alone logs in: there, only a
separate scratch server (``scratch_url``) keeps user code away from the target.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.db import scratch_owner as owners

OWN_ROLE = "role"
SHARED = "target"
CREDENTIAL_MODES = (OWN_ROLE, SHARED)
ROLE_PREFIX = "amcp_r"
ROLE_PATTERN = re.compile(rf"^{ROLE_PREFIX}_(\d+)_([0-9a-f]+)$")
SCRATCH_NAME = re.compile(r"^amcp_scratch_(\d+)_([0-9a-f]+)(?:_owned)?$")  # what scratch.new_name() makes
# Errors a migration meets when it needs more than a database owner has (superuser, another owner).
PRIVILEGE_ERRORS = re.compile(
    r"permission denied|must be superuser|must be owner|must be a member|access denied|command denied",
    re.IGNORECASE,
)


def role_for(database: str) -> str:
    """amcp_scratch_<ts>_<hex>_owned -> amcp_r_<ts>_<hex> (short enough for MySQL's 32 characters)."""
    match = SCRATCH_NAME.match(database)
    if match is None:
        raise ValueError(f"{database!r} is not a scratch database name")
    return f"{ROLE_PREFIX}_{match.group(1)}_{match.group(2)}"


def database_of(role: str) -> str | None:
    match = ROLE_PATTERN.match(role)
    return f"amcp_scratch_{match.group(1)}_{match.group(2)}_owned" if match else None


async def create_role(owner: Any, backend: str, database: str) -> tuple[str, str] | str:
    """Create the scratch's role and hand it the database: ``(role, password)``, or why it was refused."""
    role, password = role_for(database), secrets.token_hex(24)
    if backend == "postgresql":
        statements = _pg_create(role, password, database)
    else:
        statements = _mysql_create(role, password) + _mysql_grants(role, database)
    for done, sql in enumerate(statements):
        try:
            await owner.execute(sql)
        except Exception as exc:
            if done:  # half made (e.g. no GRANT OPTION): remove it; a sweep gets what this cannot
                await _drop_quietly(owner, backend, role)
            if _refused(exc):
                return _one_line(exc)
            raise
    return role, password


async def _drop_quietly(owner: Any, backend: str, role: str) -> None:
    for sql in [pg_drop_sql(role)] if backend == "postgresql" else mysql_drop_sql(role):
        try:
            await owner.execute(sql)
        except Exception:
            pass


def _pg_create(role: str, password: str, database: str) -> list[str]:
    # GRANT ... TO CURRENT_USER: a non-superuser creator must be a member to hand the database over and to
    # restore into it as the role (pg_restore --role); the membership goes with DROP ROLE.
    return [
        f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE "
        "NOREPLICATION NOBYPASSRLS",
        f'GRANT "{role}" TO CURRENT_USER',
        f'ALTER DATABASE "{database}" OWNER TO "{role}"',
        f'REVOKE CONNECT, TEMPORARY ON DATABASE "{database}" FROM PUBLIC',
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{role}"',
    ]


def _mysql_create(role: str, password: str) -> list[str]:
    return [f"CREATE USER '{role}'@'{host}' IDENTIFIED BY '{password}'" for host in ("%", "localhost")]


def _mysql_grants(role: str, database: str) -> list[str]:
    return [f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{role}'@'{host}'" for host in ("%", "localhost")]


def _refused(exc: Exception) -> bool:
    code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "args", [None])[0]
    return code in ("42501", 1044, 1045, 1142, 1227, 1410) or bool(PRIVILEGE_ERRORS.search(str(exc)))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def pg_drop_sql(role: str) -> str:
    """End the role's sessions elsewhere (the database went WITH (FORCE)), then drop it."""
    return (
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'; "
        f'DROP ROLE IF EXISTS "{role}"'
    )


def mysql_drop_sql(role: str) -> list[str]:
    return [f"DROP USER IF EXISTS '{role}'@'{host}'" for host in ("%", "localhost")]


async def sweep_pg_roles(conn: Any) -> list[str]:
    """Drop scratch roles whose database is gone and whose owner lock is free; returns their names."""
    rows = await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", f"{ROLE_PREFIX}\\_%")
    present = {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
    dropped: list[str] = []
    for role in (row["rolname"] for row in rows):
        database = database_of(role)
        if database is None or database in present or not await owners.pg_owner_gone(conn, database):
            continue
        try:
            await conn.execute(pg_drop_sql(role))
            dropped.append(role)
        except Exception:  # owns something elsewhere, or a concurrent sweep took it: try again next time
            pass
        finally:
            await owners.pg_release(conn, database)
    return dropped


def sweep_mysql_users(conn: Connection) -> list[str]:
    """Drop scratch users whose database is gone and whose owner lock is free; returns their names."""
    try:
        users = [r[0] for r in conn.execute(text("SELECT DISTINCT User FROM mysql.user"))]
    except Exception:  # no read access to mysql.user: nothing to sweep from here
        return []
    present = {r[0] for r in conn.execute(text("SHOW DATABASES"))}
    dropped: list[str] = []
    for role in users:
        database = database_of(role)
        if database is None or database in present or not owners.mysql_owner_gone(conn, database):
            continue
        try:
            for sql in mysql_drop_sql(role):
                conn.execute(text(sql))
            dropped.append(role)
        except Exception:
            pass
        finally:
            owners.mysql_release(conn, database)
    return dropped


def shared_credentials_finding(note: str) -> Finding:
    """Warn that user code ran with the credentials the server was given (never silently)."""
    return Finding(
        rule="scratch-shares-credentials",
        severity="warning",
        message=f"The rehearsal ran user code with the target's credentials ({note}).",
        why="User code can reach the target's server with the target's credentials, for example by "
        "changing the database name in its URL, and write to the real data.",
        fix="Set scratch_url to a separate server, or grant the target's user CREATEROLE (PostgreSQL) / "
        "CREATE USER and GRANT OPTION (MariaDB) so each scratch database gets a role of its own.",
    )


def privilege_limit_finding(error_text: str) -> Finding | None:
    """A failure the scratch role's limited privileges explain: a rehearsal limit, not a migration defect."""
    match = PRIVILEGE_ERRORS.search(error_text)
    if match is None:
        return None
    start = max(0, match.start() - 80)
    return Finding(
        rule="scratch-role-lacks-privilege",
        severity="warning",
        message="The rehearsal failed on a privilege its scratch role does not have: "
        f"…{' '.join(error_text[start : match.end() + 120].split())}…",
        why="Rehearsals run as a role that owns only its scratch database (no superuser), so a migration "
        "that needs more (CREATE EXTENSION of an untrusted extension, another owner's objects) fails "
        "here although it may pass on the target. This is a limit of the rehearsal environment.",
        fix='Rehearse on a separate server with scratch_url, or set scratch_credentials = "target" in '
        "[tool.alembic-mcp] (user code then gets the target's credentials: only on a server you can lose).",
    )
