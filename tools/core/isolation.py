"""What user code may see of the target database: never its URL.

The worker imports env.py, models and migrations: code the server does not control. It gets the
scratch database's URL for rehearsals, a dialect-only URL such as ``postgresql://`` for offline work,
and the target's URL only for ``generate_migration(against="target")``, made read-only. Its
environment loses every variable that could lead to the target: the ``ALEMBIC_MCP_*`` settings, the
configured URL variables (set to the worker's own URL instead) and any value that carries the
target's password or names its database in a URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from alembic_mcp.tools.core.credentials import query_secrets
from alembic_mcp.tools.core.url_text import UrlParts, dialect_only, parse_url_parts

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# SQLAlchemy (``urls``) is imported only by the functions that build or parse a URL object: the worker's
# environment is computed from the parts alone, so a cold check_heads sends its request before that import.

SETTINGS_PREFIX = "ALEMBIC_MCP_"
ALWAYS_REMOVED = ("DATABASE_URL",)
PG_READ_ONLY_OPTIONS = "-c default_transaction_read_only=on"
MYSQL_READ_ONLY_INIT = "SET SESSION TRANSACTION READ ONLY"
LIBPQ_DRIVERS = {"psycopg2", "psycopg", "psycopg_async", "psycopg2cffi"}
MYSQL_INIT_DRIVERS = {"pymysql", "mysqldb", "aiomysql", "asyncmy"}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def dialect_only_url(url: str | URL) -> str:
    """The backend and driver alone (``postgresql+asyncpg://``): enough to render SQL, nothing to connect to."""
    from alembic_mcp.tools.core.urls import parse_url

    return dialect_only(parse_url(url).drivername)


def read_only_url(url: str | URL) -> str:
    """The target's URL with the driver told to open read-only sessions, where the driver allows it.

    PostgreSQL (libpq drivers): ``options=-c default_transaction_read_only=on``; MariaDB/MySQL:
    ``init_command=SET SESSION TRANSACTION READ ONLY``; SQLite: ``mode=ro`` through a file URI. The
    worker also sets every pooled connection read-only (``read_only_backend``), which covers asyncpg.
    """
    from alembic_mcp.tools.core.urls import backend_of, parse_url

    parsed = parse_url(url)
    backend, driver = backend_of(parsed), parsed.get_driver_name()
    if backend == "postgresql" and driver in LIBPQ_DRIVERS:
        parsed = parsed.update_query_dict({"options": PG_READ_ONLY_OPTIONS})
    elif backend == "mysql" and driver in MYSQL_INIT_DRIVERS:
        parsed = parsed.update_query_dict({"init_command": MYSQL_READ_ONLY_INIT})
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        database = parsed.database
        if not database.startswith("file:"):
            database = f"file:{database}"
        parsed = parsed.set(database=database).update_query_dict({"mode": "ro", "uri": "true"})
    return parsed.render_as_string(hide_password=False)


def _carries_target(value: str, target: URL | UrlParts) -> bool:
    """Whether an environment value would lead user code to the target database."""
    if any(password in value for password in target_passwords(target)):
        return True
    if "://" not in value:
        return bool(target.database) and value == target.database
    found = parse_url_parts(value.strip())
    if found is None:  # not a URL SQLAlchemy would read
        return False
    same_host = _host(found) == _host(target) or target.get_backend_name() == "sqlite"
    return bool(target.database) and found.database == target.database and same_host


def target_passwords(target: URL | UrlParts) -> list[str]:
    """The target's passwords: in the userinfo and in the query string (``?password=``, ``?sslpassword=``)."""
    found = [str(target.password)] if target.password else []
    return found + query_secrets(target.query)


def worker_environment(
    target: URL | UrlParts | None,
    worker_url: str | None,
    url_env_vars: list[str],
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The variables to set in the worker (the URL variables env.py reads) and the ones to remove.

    ``target`` is the project's URL, as SQLAlchemy's URL or as its parts (``url_text``): the same answer."""
    environ = os.environ if environ is None else environ
    to_set = {name: worker_url for name in url_env_vars} if worker_url else {}
    to_remove = {name for name in url_env_vars if not worker_url}
    to_remove.update(name for name in ALWAYS_REMOVED if name not in to_set)
    to_remove.update(name for name in environ if name.startswith(SETTINGS_PREFIX))
    if target is not None:
        to_remove.update(
            name for name, value in environ.items() if name not in to_set and _carries_target(value, target)
        )
    return to_set, sorted(to_remove)


def is_target(url: str | URL | UrlParts | None, target: URL | UrlParts | None) -> bool:
    """Whether ``url`` points at the target database (same backend, host, port and database)."""
    if url is None or target is None:
        return False
    parsed = _parts(url)
    if not parsed.database:
        return False
    return (
        _family(parsed) == _family(target)
        and _host(parsed) == _host(target)
        and _port(parsed) == _port(target)
        and parsed.database.removeprefix("file:") == (target.database or "").removeprefix("file:")
    )


def _host(url: URL | UrlParts) -> str:
    """The host as compared: host names are case-insensitive."""
    return (url.host or "").lower()


def _port(url: URL | UrlParts) -> int:
    """The port as compared: none written is the backend's default (``:5432`` names the same server)."""
    return url.port or DEFAULT_PORTS.get(_family(url), 0)


def _parts(url: str | URL | UrlParts) -> URL | UrlParts:
    """``url`` read as SQLAlchemy reads it; text it cannot read raises ``parse_url``'s InvalidArgument."""
    if not isinstance(url, str):
        return url
    parts = parse_url_parts(url)
    if parts is None:
        from alembic_mcp.tools.core.urls import parse_url

        return parse_url(url)  # raises: the same grammar refuses it
    return parts


def _family(url: URL | UrlParts) -> str:
    """``urls.backend_of``: MariaDB and MySQL are one family."""
    name = url.get_backend_name()
    return "mysql" if name in ("mariadb", "mysql") else name


def child_environment(
    target: URL | UrlParts | None,
    worker_url: str | None,
    url_env_vars: list[str],
    extra: dict[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """What a worker request sets (the URL variables, pointed at ``worker_url``, and ``extra``) and removes
    (anything of ``environ``, this process's by default, that leads to the target, unless set)."""
    to_set, to_remove = worker_environment(target, worker_url, url_env_vars, environ)
    to_set.update(extra or {})
    return to_set, [name for name in to_remove if name not in to_set]
