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


def _fill(url: str) -> None:
    """Rows in every table a case touches: the rules about filled tables apply."""
    _fill_persons(url)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO rotations (id, name, max_hours_per_week) VALUES (1, 'icu', 80)"))
        conn.execute(
            text(
                "INSERT INTO assignments (id, person_id, rotation_id, starts_on, ends_on, on_call) "
                "VALUES (1, 1, 1, '2026-01-01', '2026-01-31', false)"
            )
        )
        conn.execute(
            text("INSERT INTO acgme_compliance (id, person_id, week_of, duty_hours) VALUES (1, 1, '2026-01-05', 60)")
        )
    engine.dispose()


LOCK = "op.execute(\"SET LOCAL lock_timeout = '5s'\")"
# name: (model line or None, upgrade, downgrade, fixed upgrade, fixed downgrade, rules the fixes clear)
CASES = {
    "backfill-model-default": (
        "active = Column(Boolean, default=False, nullable=False)",
        'op.add_column("persons", sa.Column("active", sa.Boolean(), nullable=False))',
        'op.drop_column("persons", "active")',
        None,
        None,
        {"add-column-required", "missing-lock-timeout"},
    ),
    "backfill-keeps-server-default": (
        'active = Column(Boolean, default=True, nullable=False, server_default="true")',
        'op.add_column("persons", sa.Column("active", sa.Boolean(), nullable=False))',
        'op.drop_column("persons", "active")',
        None,
        None,
        {"add-column-required", "missing-lock-timeout"},
    ),
    "lock-timeout": (
        None,
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        None,
        None,
        {"missing-lock-timeout"},
    ),
    "index-concurrently": (
        None,
        'op.create_index("ix_persons_name", "persons", ["name"])',
        'op.drop_index("ix_persons_name", table_name="persons")',
        None,
        None,
        {"create-index-non-concurrent"},
    ),
    "drop-index-concurrently": (
        None,
        'op.drop_index("ix_assignments_person_id", table_name="assignments")',
        'op.create_index("ix_assignments_person_id", "assignments", ["person_id"])',
        None,
        None,
        {"drop-index-non-concurrent"},
    ),
    "fk-not-valid": (
        None,
        'op.create_foreign_key("fk_assignments_person", "assignments", "persons", ["person_id"], ["id"], '
        'ondelete="RESTRICT")',
        'op.drop_constraint("fk_assignments_person", "assignments", type_="foreignkey")',
        None,
        None,
        {"fk-not-valid-missing", "missing-lock-timeout"},
    ),
    "unnamed-check-not-valid": (
        None,
        'op.create_check_constraint(None, "acgme_compliance", "duty_hours >= 0")',
        'op.drop_constraint(op.f("ck_acgme_compliance_duty_hours"), "acgme_compliance", type_="check")',
        None,
        None,
        {"unnamed-constraint", "fk-not-valid-missing", "missing-lock-timeout"},
    ),
    "empty-downgrade": (
        None,
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        "pass",
        None,
        None,
        {"empty-downgrade", "missing-lock-timeout"},
    ),
}


def _run_case(name: str, project: Path, url: str):
    model, upgrade, downgrade, *_ = CASES[name]
    _upgrade_target(project, url)
    _fill(url) if "postgresql" in url else _fill_persons(url)
    if model:
        _add_model_column(project, model)
    path = write_revision(project, "c3c3c3c30003", HEAD, upgrade, downgrade, message=name)
    result = _fix(project, url)
    return result, path


@pytest.mark.parametrize("name", sorted(CASES))
def test_fix_on_postgresql_gives_the_expected_file(name, example_project, pg_url):
    result, path = _run_case(name, example_project, pg_url)
    *_, fixed_up, fixed_down, cleared = CASES[name]
    print(name, result.autofix.model_dump_json(indent=1) if result.autofix else None)
    print(path.read_text())
    assert result.autofix is not None and result.autofix.written, result.autofix
    assert {a.rule for a in result.autofix.applied} == cleared
    assert not {f.rule for f in result.findings} & cleared
    assert _body(path, "upgrade") == fixed_up
    assert _body(path, "downgrade") == fixed_down
