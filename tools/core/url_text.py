"""Database URL parts read with the standard library alone, by SQLAlchemy's own grammar.

``urls.py`` parses with ``sqlalchemy.engine.make_url``, and importing SQLAlchemy's engine package costs a
cold process a third of a second. What only needs the parts (which backend, which host and database,
whether a value names the target) reads them here: the same pattern as SQLAlchemy 2.x's parser, the
same unquoting and the same failures (no match, a port that is not an integer), so both agree on every
string (tests/test_url_text.py compares them over a corpus).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from alembic_mcp.tools.core.credentials import is_secret_key

# scheme://[user[:password]@][host or [ipv6]][:port][/database][?query], as sqlalchemy.engine.url reads it
_URL = re.compile(
    r"""
    (?P<drivername>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class UrlParts:
    """A database URL's parts, as SQLAlchemy's ``URL`` holds them (the query as its pairs, in order)."""

    drivername: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    query: tuple[tuple[str, str], ...] = ()

    def get_backend_name(self) -> str:
        """The backend before any ``+driver`` (named like SQLAlchemy's URL method, so either can be passed)."""
        return self.drivername.split("+")[0]

    def masked(self) -> str:
        """The URL with its passwords shown as ``***``: ``URL.render_as_string(hide_password=True)``'s text,
        with also the query's password values masked and a host read past an unescaped ``@`` in the
        password (``bob:p@ss@db``: host ``ss@db``) shown from its last ``@`` on (``urls.mask_url``)."""
        text = self.drivername + "://"
        host = self.host.rpartition("@")[2] if self.host is not None and self.password is not None else self.host
        if self.username is not None:
            text += quote(self.username, safe=" +") + (":***" if self.password is not None else "") + "@"
        if host is not None:
            text += f"[{host}]" if ":" in host else host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:  # keys sorted, each key's values in their order (a stable sort)
            pairs = sorted(self.query, key=lambda pair: pair[0])
            text += "?" + "&".join(f"{quote_plus(key)}={_shown(key, value)}" for key, value in pairs)
        return text


def _shown(key: str, value: str) -> str:
    """A query value as the masked URL shows it: ``***`` for a password."""
    return "***" if is_secret_key(key) else quote_plus(value)


def parse_url_parts(text: str) -> UrlParts | None:
    """The parts of ``text``, or None where SQLAlchemy's ``make_url`` raises (no match, a bad port)."""
    match = _URL.match(text)
    if match is None:
        return None
    found = match.groupdict()
    port = None
    if found["port"] is not None:  # an empty port (``host:/db``) fails int() there too
        try:
            port = int(found["port"])
        except ValueError:
            return None
    return UrlParts(
        drivername=found["drivername"],
        username=unquote(found["username"]) if found["username"] is not None else None,
        password=unquote(found["password"]) if found["password"] is not None else None,
        host=found["ipv4host"] or found["ipv6host"],
        port=port,
        database=unquote(found["database"]) if found["database"] is not None else None,
        query=tuple(parse_qsl(found["query"])) if found["query"] is not None else (),
    )


def dialect_only(drivername: str) -> str:
    """The backend and driver alone (``postgresql+asyncpg://``): enough to render SQL, nothing to connect to."""
    return f"{drivername}://"


def sqlite_database_in(parts: UrlParts, base_dir: Path) -> UrlParts:
    """A relative SQLite file resolved against ``base_dir``, as ``urls.absolutize_sqlite`` does."""
    database = parts.database
    if parts.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return parts
    path = Path(database)
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    return replace(parts, database=str(path))


def sqlite_file_missing(parts: UrlParts) -> bool:
    """A file-based SQLite URL whose file does not exist (reading must not create it): ``dbinfo``'s test."""
    database = parts.database
    if parts.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    return not Path(database).exists()
