"""Where database credentials hide: in a URL's userinfo or query string, in libpq keyword DSNs, in the
variables drivers read (``PGPASSWORD``, ``MYSQL_PWD``).

Only the standard library is imported: ``worker/prestart.py`` cleans a worker's starting environment with
it before the caller's heavy imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

# Query-string keys a driver takes a password from (psycopg, asyncpg, pymysql: ``?password=``; pymysql's
# ``passwd``; libpq's ``sslpassword`` for the client key).
SECRET_KEYS = ("password", "passwd", "sslpassword")
# Variables a driver reads a password (or the file holding it) from.
CREDENTIAL_VARIABLES = ("PGPASSWORD", "PGPASSFILE", "MYSQL_PWD")
MIN_CONTAINED = 4
_SECRET_PAIR = re.compile(r"(?<!\w)(password|passwd|sslpassword)(\s*=\s*)('?[^&\s'\"]+)", re.I)
_URL_IN_TEXT = re.compile(r"[A-Za-z][\w+.-]*://\S+")
_USERINFO_PASSWORD = re.compile(r"://[^:/@\s]*:([^/\s?#]*)@")


def mask_secret_pairs(text: str, mask: str) -> str:
    """``text`` with the value of every ``password=``-like pair (a query string, a keyword DSN) masked."""
    return _SECRET_PAIR.sub(lambda match: match.group(1) + match.group(2) + mask, text)


def is_secret_key(key: str) -> bool:
    return key.lower() in SECRET_KEYS


def query_secrets(query: Iterable[tuple[str, Any]] | Mapping[str, Any]) -> list[str]:
    """The password values of a URL's query (pairs, as ``UrlParts.query``, or SQLAlchemy's mapping)."""
    pairs = query.items() if isinstance(query, Mapping) else query
    found: list[str] = []
    for key, value in pairs:
        if is_secret_key(key):
            found.extend([value] if isinstance(value, str) else list(value))
    return [value for value in found if value]


def secrets_in(value: str) -> list[str]:
    """The passwords written in an environment value: URL userinfo (up to the last ``@``), query-string
    and keyword-DSN pairs."""
    found = [match.group(3).strip("'") for match in _SECRET_PAIR.finditer(value)]
    for url in _URL_IN_TEXT.findall(value) if "://" in value else []:
        userinfo = _USERINFO_PASSWORD.search(url)
        if userinfo:
            found.append(unquote(userinfo.group(1)))
        if "?" in url:
            found.extend(query_secrets(parse_qsl(url.split("?", 1)[1])))
    return [secret for secret in found if secret]


def environment_secrets(environ: Mapping[str, str]) -> set[str]:
    """Every password written in ``environ``: the credential variables' values and the passwords of its
    URLs and keyword DSNs."""
    return {secret for name, value in environ.items() for secret in _secrets_of(name, value)}


def carries_credentials(name: str, value: str, secrets: Iterable[str]) -> bool:
    """Whether a variable is a credential: a credential variable, a keyword DSN with a password, or a value
    holding one of ``secrets`` (``DB_PASS=hunter2`` beside ``DATABASE_URL=...:hunter2@``)."""
    return name in CREDENTIAL_VARIABLES or bool(_SECRET_PAIR.search(value)) or holds_secret(value, secrets)


def holds_secret(value: str, secrets: Iterable[str]) -> bool:
    """Whether ``value`` contains one of ``secrets``; one shorter than ``MIN_CONTAINED`` only as the whole
    value (a one-letter password would otherwise take PATH and HOME with it)."""
    return any(secret in value if len(secret) >= MIN_CONTAINED else secret == value for secret in secrets)


def _secrets_of(name: str, value: str) -> list[str]:
    if name in ("PGPASSWORD", "MYSQL_PWD"):
        return [value] if value else []
    return secrets_in(value)
