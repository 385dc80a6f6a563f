"""url_text reads URLs without SQLAlchemy: it must agree with SQLAlchemy on every string, and everything built
on it (masking, redaction, is_target, the worker's environment, the SQLite checks) must answer as before."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.isolation import is_target, worker_environment
from alembic_mcp.tools.core.url_text import parse_url_parts, sqlite_database_in, sqlite_file_missing
from alembic_mcp.tools.core.urls import absolutize_sqlite, mask_url, redact
from alembic_mcp.tools.db import dbinfo

WRITTEN = [
    "postgresql://u:p@h:5432/db",
    "postgresql+asyncpg://user:s%40cret@db.example/app?sslmode=require&application_name=x",
    "postgresql+psycopg://u@/db?host=/var/run/postgresql",
    "mysql+pymysql://root@127.0.0.1:3306/",
    "mariadb://a:b@[::1]:3306/x",
    "mssql+pyodbc://u:p@dsn?driver=ODBC+Driver+17&driver=second&a=",
    "sqlite://",
    "sqlite:///relative.db",
    "sqlite:////abs/path.db",
    "sqlite:///:memory:",
    "sqlite:///file:x.db?mode=ro&uri=true",
    "sqlite+pysqlite:///sub dir/a b.db",
    "postgresql://u:p@h:notaport/db",
    "postgresql://u:p@h:/db",
    "postgresql://u:p@h: 12/db",
    "postgresql://u:p@h:1_000/db",
    "postgresql://:@h/db",
    "postgresql://u:@h/db",
    "postgresql://u:p:q@h/db",
    "postgresql://u@h@i/db",
    "postgresql://u:pa/ss@h/db",
    "https://github.com/org/repo",
    "driver://user:pass@localhost/dbname",
    "jdbc:postgresql://h/db",
    "not a url",
    "",
    "://x",
    "postgres ql://h/db",
    "postgresql://h/db?a=1&a=2&b",
    "postgresql://h/d%2Fb%20c",
    "postgresql://us%3Aer:p%25w@h/db",
    "postgresql://ünï:cödé@hôst/dbé",
]


def _random_corpus(count: int) -> list[str]:
    alphabet = "ab:/@?&=%[]+_.-1 2ü"
    rng = random.Random(17)
    schemes = ["postgresql", "sqlite", "mysql+pymysql", "x_y", "a+b+c"]
    return [
        rng.choice(schemes) + "://" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        for _ in range(count)
    ]


CORPUS = WRITTEN + _random_corpus(3000)


def _sqlalchemy(text: str):
    try:
        return make_url(text)
    except (ArgumentError, ValueError):
        return None


@pytest.mark.parametrize("text", WRITTEN)
def test_written_urls_read_as_sqlalchemy_reads_them(text):
    _same(text)


def test_random_urls_read_as_sqlalchemy_reads_them():
    for text in CORPUS:
        _same(text)


def _same(text: str) -> None:
    ours, theirs = parse_url_parts(text), _sqlalchemy(text)
    assert (ours is None) == (theirs is None), text
    if theirs is None:
        return
    assert ours is not None
    for name in ("drivername", "username", "password", "host", "port", "database"):
        assert getattr(ours, name) == getattr(theirs, name), (text, name)
    assert ours.get_backend_name() == theirs.get_backend_name(), text
    # SQLAlchemy's own rendering, with what it leaves shown masked too (query passwords, an unescaped @)
    assert ours.masked() == mask_url(theirs), text
    assert mask_url(text) == mask_url(theirs), text
    if "@" not in (theirs.host or "") and not theirs.query:
        assert ours.masked() == theirs.render_as_string(hide_password=True), text


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:///relative.db",
        "sqlite:///sub/../x.db?timeout=3",
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:////abs.db",
        "sqlite:///file:x.db",
        "postgresql://u:p@h/db",
    ],
)
def test_sqlite_files_resolved_and_masked_as_before(text, tmp_path):
    parts = sqlite_database_in(parse_url_parts(text), tmp_path)
    url = absolutize_sqlite(text, tmp_path)
    assert parts.database == url.database
    assert parts.masked() == url.render_as_string(hide_password=True)
    assert sqlite_file_missing(parts) == dbinfo.sqlite_file_missing(url)


def test_a_loaded_project_masks_its_url_as_sqlalchemy_renders_it(example_project_files):
    project = load_project(example_project_files, {"database_url": "postgresql+asyncpg://u:s%40cret@db:5/app?x=1"})
    assert project.masked_database_url == project.database_url.render_as_string(hide_password=True)
    assert "cret" not in project.masked_database_url
    relative = load_project(example_project_files)
    assert relative.database_url_parts.database == relative.database_url.database
    assert relative.masked_database_url == relative.database_url.render_as_string(hide_password=True)


def test_redaction_and_target_checks_read_text_as_before():
    target = make_url("postgresql://u:pw%2Fx@h:5432/app")
    parts = parse_url_parts("postgresql://u:pw%2Fx@h:5432/app")
    text = "failed: pw/x and postgresql://u:pw/x@h/app"
    assert redact(text, target) == redact(text, parts) == redact(text, "postgresql://u:pw%2Fx@h:5432/app")
    assert "pw/x" not in redact(text, parts)
    for url in (
        "postgresql://other@h:5432/app",
        "postgresql://h/app",
        "postgresql://",
        "mysql://h:5432/app",
        "postgresql+asyncpg://x@h:5432/app",
        "mariadb://h/app",
        "sqlite:///app",
    ):
        assert is_target(url, parts) == is_target(url, target), url
    assert is_target("mariadb://h/app", parse_url_parts("mysql://h/app"))


def test_the_worker_environment_is_the_same_from_the_parts():
    environ = {
        "HOME": "/home/x",
        "SITE": "https://github.com/org/app",
        "OTHER_DB": "postgresql://v@h/app",
        "SECRET": "has pw/x inside",
        "PGDATABASE": "app",
        "BROKEN": "postgresql://h:port/app",
        "ALEMBIC_MCP_X": "1",
    }
    text = "postgresql://u:pw%2Fx@h:5432/app"
    expected = worker_environment(make_url(text), "postgresql://", ["DATABASE_URL"], environ)
    assert worker_environment(parse_url_parts(text), "postgresql://", ["DATABASE_URL"], environ) == expected
    assert expected[1] == ["ALEMBIC_MCP_X", "OTHER_DB", "PGDATABASE", "SECRET"]


@pytest.fixture
def example_project_files(tmp_path) -> Path:
    """The example's configuration files only (no interpreter is started)."""
    import shutil

    from conftest import EXAMPLE

    dest = tmp_path / "proj"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    return dest
