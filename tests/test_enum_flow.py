"""The agent run's task end to end on PostgreSQL: persons.role (VARCHAR(20)) becomes the native enum
person_role. The generated migration is flagged (no CREATE TYPE, no USING, no DROP TYPE), the fixes make
it run on seed rows, the target's rows the cast refuses are named by id, and a downgrade that changes 3 of
40 rows says 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.server.rehearsal import rehearse_changed
from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.generate.tool import generate_migration
from alembic_mcp.tools.review.tool import review_migration
from alembic_mcp.tools.roundtrip.diagnosis import explain
from alembic_mcp.tools.roundtrip.tool import test_roundtrip as run_roundtrip
from alembic_mcp.tools.worker.ops.datacheck import data_lost, table_data
from alembic_mcp.tools.worker.ops.snapshot import take_snapshot
from tests.conftest import write_revision

HEAD = "b2e1d1ce0002"
REV = "c3c3c3c30003"
BAD = {7: "Resident", 13: "Resident", 21: "attending"}  # the agent run's rows outside the enum
ENUM_RULES = {"enum-type-missing", "cast-needs-using", "enum-type-not-dropped"}
MAPPING = (
    "postgresql_using=\"CASE WHEN lower(role) = 'resident' THEN 'resident' WHEN role = 'attending' "
    "THEN 'faculty' ELSE role END::person_role\""
)


def _target_with_persons(project: Path, url: str) -> None:
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=project, env=env, check=True)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for i in range(1, 41):
            role = BAD.get(i, ("resident", "faculty")[i % 2])
            conn.execute(
                text("INSERT INTO persons (id, name, email, role) VALUES (:i, :n, :e, :r)"),
                {"i": i, "n": f"p{i}", "e": f"p{i}@x.org", "r": role},
            )
    engine.dispose()


def _role_becomes_enum(project: Path) -> None:
    models = project / "residency" / "models.py"
    source = models.read_text().replace("from sqlalchemy import Boolean,", "from sqlalchemy import Boolean, Enum,")
    models.write_text(
        source.replace(
            "role = Column(String(20), nullable=False)",
            "role = Column(Enum('resident', 'faculty', name='person_role'), nullable=False)",
        )
    )


def _call(project_dir: Path, url: str, tool, **kw):
    project = load_project(project_dir, {"database_url": url})
    return anyio.run(lambda: tool(project, **kw))


def _rules(result) -> set[str]:
    return {f.rule for f in result.findings}


def test_generated_enum_migration_is_flagged_fixed_and_runs_on_seed_rows(example_project, pg_url):
    _target_with_persons(example_project, pg_url)
    _role_becomes_enum(example_project)
    generated = _call(example_project, pg_url, generate_migration, message="role enum", rev_id=REV)
    assert _rules(generated) >= ENUM_RULES and "enum-change" not in _rules(generated)
    assert generated.verdict in ("fix", "escalate")

    unfixed = _call(example_project, pg_url, run_roundtrip, from_revision=HEAD)
    assert unfixed.failure is not None and (unfixed.failure.phase, unfixed.failure.mode) == (
        "upgrade",
        "object-does-not-exist",
    )
    advice = next(f for f in unfixed.findings if f.rule == "object-does-not-exist")
    assert "upgrade() uses type person_role before anything creates it" in advice.message
    assert "create(op.get_bind(), checkfirst=True)" in (advice.fix or "")
    assert "Make downgrade() undo" not in (advice.fix or "")

    fixed = _call(example_project, pg_url, review_migration, apply_fixes=True, rehearse=rehearse_changed)
    report = fixed.autofix
    assert report is not None and report.written and not report.undone, fixed.model_dump_json(indent=1)
    assert {a.rule for a in report.applied} >= ENUM_RULES
    assert not ENUM_RULES & _rules(fixed) and "enum-change" not in _rules(fixed)
    # the fixes get the upgrade to the target's rows, which the cast refuses: said first, before escalations
    assert report.rehearsal.startswith("the fixes get past what failed without them")
    assert fixed.next_steps[0].startswith("First make the migration run: ")

    on_target = _call(example_project, pg_url, run_roundtrip, from_revision=HEAD, data_from="target")
    failure = on_target.failure
    assert failure is not None and failure.mode == "type-mismatch" and not failure.on_seed_rows
    assert failure.facts["failing_values"] == [
        {"value": "Resident", "rows": 2, "keys": [["7"], ["13"]]},
        {"value": "attending", "rows": 1, "keys": [["21"]]},
    ]
    assert failure.facts["failing_values_complete"] is True
    assert failure.facts["violating_keys"] == [["7"], ["13"], ["21"]]
    finding = next(f for f in on_target.findings if f.rule == "type-mismatch")
    assert "'Resident' x2 (id 7, 13), 'attending' x1 (id 21); the list is complete" in finding.message

    seeded = _call(example_project, pg_url, run_roundtrip, from_revision=HEAD)
    assert seeded.failure is None and seeded.steps_run == seeded.steps_planned, seeded.model_dump_json(indent=1)
    assert seeded.verdict == "proceed"


def test_a_downgrade_changing_three_of_forty_rows_says_three(example_project, pg_url):
    """The mapped conversion ('Resident' -> resident, attending -> faculty) runs on the target's rows;
    going back cannot restore the 3 spellings it changed, and the loss counts those rows only."""
    _target_with_persons(example_project, pg_url)
    _role_becomes_enum(example_project)
    write_revision(
        example_project,
        REV,
        HEAD,
        "sa.Enum('resident', 'faculty', name='person_role').create(op.get_bind(), checkfirst=True)\n"
        "op.alter_column('persons', 'role', existing_type=sa.VARCHAR(length=20),\n"
        f"    type_=sa.Enum('resident', 'faculty', name='person_role'), {MAPPING})",
        "op.alter_column('persons', 'role', existing_type=sa.Enum('resident', 'faculty', name='person_role'),\n"
        "    type_=sa.VARCHAR(length=20))\n"
        "op.execute('DROP TYPE IF EXISTS person_role')",
        message="role enum",
    )
    result = _call(example_project, pg_url, run_roundtrip, from_revision=HEAD, data_from="target")
    assert result.failure is None and result.steps_run == result.steps_planned, result.model_dump_json(indent=1)
    (loss,) = result.data_loss
    assert (loss.kind, loss.table, loss.column, loss.rows_changed) == ("not-restored", "persons", "role", 3)
    assert "in 3 of 40 rows" in loss.message


# ------------------------------------------------------------------ the words and counts, without a database


def test_upgrade_using_what_nothing_created_is_not_about_downgrade():
    words = explain("object-does-not-exist", {"object": "ix_persons_nick"}, "upgrade", "r2", "postgresql")
    assert words["title"] == "upgrade() uses ix_persons_nick before anything creates it"
    assert "downgrade()" not in words["fix"]
    back = explain("object-does-not-exist", {"object": "ix_persons_nick"}, "downgrade", "r2", "postgresql")
    assert "downgrade() does not match its upgrade()" in back["title"]


def test_refused_values_say_when_the_list_is_incomplete():
    facts = {
        "table": "persons",
        "column": "role",
        "key_columns": ["id"],
        "failing_values": [{"value": "x", "rows": 12, "keys": [[str(i)] for i in range(1, 11)]}],
        "failing_values_complete": False,
        "distinct_values_checked": 200,
        "violating_rows": 12,
    }
    title = explain("type-mismatch", facts, "upgrade", "r2", "postgresql", "invalid input value")["title"]
    assert "'x' x12 (id 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ...)" in title
    assert "more may fail (the 200 most frequent distinct values were tried)" in title


def test_changed_values_are_counted_by_row():
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE persons (id INTEGER PRIMARY KEY, role VARCHAR(20))"))
        for i in range(1, 41):
            conn.execute(text("INSERT INTO persons VALUES (:i, :r)"), {"i": i, "r": BAD.get(i, "resident")})
        snap = take_snapshot(conn, version_table="alembic_version")
        before = table_data(conn, snap)
        conn.execute(text("UPDATE persons SET role = lower(role)"))
        conn.execute(text("UPDATE persons SET role = 'faculty' WHERE role = 'attending'"))
        after = table_data(conn, snap)
    engine.dispose()
    (loss,) = data_lost(before, after, "after the downgrade")
    assert loss["rows_changed"] == 3 and loss["message"].endswith("in 3 of 40 rows")


def test_a_cast_postgresql_refuses_spells_the_using_for_the_column():
    facts = {"table": "persons", "column": "role", "type_sql": "person_role"}
    error = 'column "role" cannot be cast automatically to type person_role'
    words = explain("type-mismatch", facts, "upgrade", "r2", "postgresql", error)
    assert words["title"] == "PostgreSQL refuses: column persons.role cannot be cast automatically to person_role"
    assert "postgresql_using='role::person_role'" in words["fix"]
