"""Autofix (issue 15): the review's mechanical fixes applied as edits of the migration files, verified
by a second review and a rehearsal, each fix compared with the expected text."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.server.rehearsal import rehearse_changed
from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.review.tool import review_migration
from tests.conftest import write_revision

HEAD = "b2e1d1ce0002"


def _upgrade_target(project: Path, url: str, revision: str = "head") -> None:
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", revision], cwd=project, env=env, check=True)


def _fill_persons(url: str, rows: int = 5) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for i in range(1, rows + 1):
            conn.execute(
                text("INSERT INTO persons (id, name, email, role) VALUES (:i, :n, :e, 'resident')"),
                {"i": i, "n": f"p{i}", "e": f"p{i}@x.org"},
            )
    engine.dispose()


def _add_model_column(project: Path, line: str) -> None:
    models = project / "residency" / "models.py"
    source = models.read_text()
    anchor = "    pgy_level = Column(Integer, nullable=True)\n"
    models.write_text(source.replace(anchor, anchor + f"    {line}\n", 1))


def _fix(project: Path, url: str, **kw):
    loaded = load_project(project, {"database_url": url})
    return anyio.run(lambda: review_migration(loaded, apply_fixes=True, rehearse=rehearse_changed, **kw))


def _body(path: Path, function: str) -> str:
    source = path.read_text()
    start = source.index(f"def {function}()")
    body = source[start:].split("\n\n\n")[0]
    return textwrap.dedent("\n".join(body.splitlines()[1:])).strip()
