"""generate_migration(against="target") runs user code connected to the target: only a read-only role
(``target_read_only_url``) keeps that code from writing; a read-only session is a default it can undo."""

from __future__ import annotations

import json

import anyio
import pytest
from conftest import write_revision
from db_roles import read_only_role
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from test_generate_migration import upgrade_target

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.generate.tool import generate_migration

HEAD = "b2e1d1ce0002"

# What the hostile review did (H1): undo the session default, then write; and reconnect without options.
OVERRIDE = """
import json as _json
import os as _os

import sqlalchemy as _sa

_url = _sa.engine.make_url(_os.environ["DATABASE_URL"]).difference_update_query(["options"])
for _how in ("session", "fresh"):
    _outcome = [_how, None, None]
    try:
        with _sa.create_engine(_url).connect() as _c:
            _outcome[1] = _c.exec_driver_sql("SELECT current_database()").scalar()
            if _how == "session":
                _c.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
                _c.commit()
            _c.exec_driver_sql("INSERT INTO pwned VALUES ('" + _how + "')")
            _c.commit()
            _outcome[2] = "wrote"
    except Exception as _exc:
        _outcome[2] = type(_exc).__name__ + ": " + str(_exc)[:120]
    with open({report!r}, "a") as _fh:
        _fh.write(_json.dumps(_outcome) + "\\n")
"""


def pwned_rows(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM pwned")).scalar()
    engine.dispose()
    return int(count or 0)


def test_against_target_without_a_read_only_role_is_refused(example_project, sqlite_url):
    project = load_project(example_project, {"database_url": sqlite_url})
    with pytest.raises(InvalidArgument, match="target_read_only_url") as refused:
        anyio.run(lambda: generate_migration(project, message="x", against="target"))
    assert "against='scratch'" in str(refused.value)
    assert not list((example_project / "migrations" / "versions").glob("*_x.py"))


def test_code_that_undoes_the_read_only_session_still_cannot_write(example_project, pg_url, tmp_path):
    upgrade_target(example_project, pg_url, people=2)
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE pwned (how text)"))
    engine.dispose()
    report = tmp_path / "override.json"
    write_revision(
        example_project, "c0000010", HEAD, message="override", extra_header=OVERRIDE.format(report=str(report))
    )
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.begin() as conn:  # stamped by hand: alembic here would run the attack in this process
        conn.execute(text("UPDATE alembic_version SET version_num = 'c0000010'"))
    engine.dispose()
    with read_only_role(pg_url) as reader:
        project = load_project(example_project, {"database_url": pg_url, "target_read_only_url": reader})
        anyio.run(lambda: generate_migration(project, message="vs target", against="target", dry_run=True))
    target = make_url(pg_url).database
    tries = [json.loads(line) for line in report.read_text().splitlines()]
    on_target = [(how, result) for how, database, result in tries if database == target]
    assert {how for how, _ in on_target} == {"session", "fresh"}, tries
    assert all(result != "wrote" for _, result in on_target), tries
    # The session default undone, the role is what refuses (the default alone let this write, review H1).
    assert "InsufficientPrivilege" in dict(on_target)["session"], tries
    assert pwned_rows(pg_url) == 0
