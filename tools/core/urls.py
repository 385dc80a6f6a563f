"""Database URL helpers: parsing, masking passwords, and turning URLs into driver-specific forms.

SQLAlchemy is imported by the functions that build or change a URL object, not by this module: masking
free text, and masking a password given as text or as ``url_text.UrlParts``, need only the standard library.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from alembic_mcp.tools.core.credentials import mask_secret_pairs, query_secrets, secrets_in
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.core.url_text import UrlParts, parse_url_parts

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MASK = "***"


def parse_url(url: str | URL) -> URL:
    """Parse ``url`` or raise InvalidArgument with a message that does not echo the password."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise InvalidArgument(
            f"Could not parse database URL {mask_url_text(url)!r}: {exc}. "
            "Use SQLAlchemy's form, e.g. postgresql+asyncpg://user@host/db or sqlite:///path/app.db."
        ) from None


def mask_url(url: str | URL | UrlParts) -> str:
    """Render ``url`` with its passwords replaced by ``***``: the userinfo's (all of it up to the last ``@``)
    and the query's (``?password=``); text SQLAlchemy cannot read has its userinfo masked."""
    if isinstance(url, str):
        parts = parse_url_parts(url)
        return parts.masked() if parts is not None else mask_url_text(url)
    if isinstance(url, UrlParts):
        return url.masked()
    return _parts_of(url).masked()


def _parts_of(url: URL) -> UrlParts:
    """SQLAlchemy's URL as ``UrlParts`` (its query's values in order under each key)."""
    pairs = [
        (key, value)
        for key, values in url.query.items()
        for value in ((values,) if isinstance(values, str) else values)
    ]
    return UrlParts(url.drivername, url.username, url.password, url.host, url.port, url.database, tuple(pairs))


_USER_STOP = re.compile(r"[:/@\s]")
_PASSWORD_STOP = re.compile(r"[@\s]")
_HOST_STOP = re.compile(r"[/:?#\s]")


class _ForwardFinder:
    """Finds the next match of a pattern at or after a position that only ever moves forward.

    A cached hit beyond the position is still the next one, so all searches together scan the text
    once: this keeps masking linear however many ``://`` the text holds.
    """

    def __init__(self, pattern: re.Pattern[str], text: str):
        self.pattern, self.text, self.hit = pattern, text, -1

    def next_at_or_after(self, pos: int) -> int:
        if self.hit != len(self.text) and self.hit < pos:
            match = self.pattern.search(self.text, pos)
            self.hit = match.start() if match else len(self.text)
        return self.hit


def _has_scheme(text: str, end: int, floor: int) -> bool:
    """Whether ``text[:end]`` ends in a URL scheme (a letter, then letters, digits or ``+.-_``)."""
    start = end
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in "_+.-"):
        start -= 1
    return any(c.isascii() and c.isalpha() for c in text[start:end])


def mask_url_text(text: str) -> str:
    """Mask any ``scheme://user:password@`` userinfo found in free text (the password runs to the
    authority's last ``@``: an unescaped ``@`` in it shows nothing), and every ``password=`` value (query
    strings, keyword DSNs), in time linear in its length.

    Each ``://`` is examined once: the scheme before it and the user name after it are runs that
    cannot reach the neighbouring ``://``; the password's and the host's ends are found by forward-only
    searches, and the last ``@`` is looked for only within that host (which holds no ``://``).
    """
    text = mask_secret_pairs(text, MASK)
    if "://" not in text:
        return text
    password_end = _ForwardFinder(_PASSWORD_STOP, text)
    host_end = _ForwardFinder(_HOST_STOP, text)
    pieces: list[str] = []
    copied = 0  # text[:copied] is already in pieces
    sep = text.find("://")
    while sep != -1:
        user_start = sep + 3
        user_end = _USER_STOP.search(text, user_start)
        at = -1
        if user_end and text[user_end.start()] == ":" and _has_scheme(text, sep, copied):
            stop = password_end.next_at_or_after(user_end.start() + 1)
            if stop < len(text) and text[stop] == "@":  # the host SQLAlchemy reads may hold more of it
                at = text.rfind("@", stop, host_end.next_at_or_after(stop))
        if at == -1 or user_end is None:
            sep = text.find("://", user_start)
            continue
        pieces.append(text[copied : user_end.start() + 1])
        pieces.append(MASK)
        copied = at
        sep = text.find("://", at + 1)
    pieces.append(text[copied:])
    return "".join(pieces)


def redact(text: str, *urls: str | URL | UrlParts | None) -> str:
    """Remove the passwords of ``urls`` (and any URL-looking userinfo) from ``text``."""
    out = mask_url_text(text)
    for url in urls:
        if url is None:
            continue
        for password in _passwords_of(url):
            out = out.replace(password, MASK)
    return out


def _passwords_of(url: str | URL | UrlParts) -> list[str]:
    """The passwords ``url`` holds (userinfo and query string); text is read as SQLAlchemy would."""
    parts = parse_url_parts(url) if isinstance(url, str) else url
    if parts is None:
        return secrets_in(str(url))
    found = [str(parts.password)] if parts.password else []
    return found + query_secrets(parts.query)


def backend_of(url: str | URL) -> str:
    """The backend family: ``postgresql``, ``mysql`` (MariaDB too), ``sqlite`` or the raw name."""
    name = parse_url(url).get_backend_name()
    if name in ("mariadb", "mysql"):
        return "mysql"
    return name


def absolutize_sqlite(url: str | URL, base_dir: Path) -> URL:
    """Resolve a relative SQLite file path against ``base_dir`` (the project directory)."""
    parsed = parse_url(url)
    if backend_of(parsed) != "sqlite":
        return parsed
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return parsed
    path = Path(database)
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    return parsed.set(database=str(path))


def sync_url(url: str | URL) -> URL:
    """The same database through a synchronous driver the server itself ships with."""
    parsed = parse_url(url)
    backend = backend_of(parsed)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend == "mysql":
        return parsed.set(drivername=f"{parsed.get_backend_name()}+pymysql")
    return parsed


def asyncpg_dsn_parts(url: str | URL) -> dict:
    """Keyword arguments for ``asyncpg.connect`` from a PostgreSQL URL of any driver."""
    parsed = parse_url(url)
    parts: dict = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "database": parsed.database or "postgres",
    }
    if parsed.password:
        parts["password"] = str(parsed.password)
    query_host = parsed.query.get("host")
    if query_host:
        parts["host"] = query_host if isinstance(query_host, str) else query_host[0]
    return parts


def with_database(url: str | URL, database: str) -> URL:
    return parse_url(url).set(database=database)
