"""test_roundtrip's verdicts agree with the facts (issue 18, the foreign-key example): locks held before an
autocommit block, summaries counted from data_loss, rows asked/copied/present, a backfill that leaves rows
NULL reported as the migration's failure on seed rows and on the target's rows."""

from __future__ import annotations

import subprocess
import sys

from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from test_roundtrip import assert_clean, make_project, roundtrip

TABLES_UP = """
op.create_table("rotations", sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("name", sa.String(40), nullable=False))
op.create_table("assignments", sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("rotation_name", sa.String(40)))
"""
TABLES_DOWN = 'op.drop_table("assignments")\nop.drop_table("rotations")'
ROTATION_ID_UP = """
op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))
op.execute("UPDATE assignments SET rotation_id = r.id FROM rotations r WHERE r.name = assignments.rotation_name")
op.alter_column("assignments", "rotation_id", nullable=False)
op.create_foreign_key("fk_assignments_rotation_id_rotations", "assignments", "rotations",
                      ["rotation_id"], ["id"], ondelete="RESTRICT")
"""
ROTATION_ID_DOWN = """
op.drop_constraint("fk_assignments_rotation_id_rotations", "assignments", type_="foreignkey")
op.drop_column("assignments", "rotation_id")
"""


def _fk_history(project, upgrade: str = ROTATION_ID_UP, downgrade: str = ROTATION_ID_DOWN) -> None:
    write_revision(project, "r2", "r1", TABLES_UP, TABLES_DOWN, message="tables")
    write_revision(project, "r3", "r2", upgrade, downgrade, message="rotation id")


def _target_at_r2_with_assignments(project, url: str) -> None:
    """10 assignments, 3 of them (3, 5, 8) naming no rotation."""
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "r2"],
        cwd=project,
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO rotations (id, name) VALUES (1, 'day'), (2, 'night')"))
        for i in range(1, 11):
            name = "gone" if i in (3, 5, 8) else ("day", "night")[i % 2]
            conn.execute(text("INSERT INTO assignments (id, rotation_name) VALUES (:i, :n)"), {"i": i, "n": name})
    engine.dispose()


def test_backfill_leaving_seed_rows_null_is_the_migrations_failure(empty_project, pg_url):
    """Seed names match no rotation: real names can do that too, so no seed-limitation and no proceed."""
    project = make_project(empty_project)
    _fk_history(project)
    result = roundtrip(project, pg_url, from_revision="r2", seed_rows=5)
    assert result.seed_limitations == [], result.model_dump_json(indent=1)
    assert [(f.revision, f.phase, f.mode) for f in result.failures] == [("r3", "upgrade", "not-null-violation")]
    assert result.failures[0].on_seed_rows and result.verdict == "fix"
    finding = next(f for f in result.findings if f.rule == "not-null-violation")
    assert "5 row(s) of assignments are still NULL in rotation_id" in finding.message
    assert "data_from='target'" in finding.message
    assert "survived" not in result.summary
    assert_clean(result, pg_url)


def test_target_rows_naming_no_rotation_are_listed_by_id(empty_project, pg_url):
    project = make_project(empty_project)
    _fk_history(project)
    _target_at_r2_with_assignments(project, pg_url)
    result = roundtrip(project, pg_url, data_from="target")
    failure = result.failure
    assert failure is not None and failure.mode == "not-null-violation" and not failure.on_seed_rows
    assert failure.facts["violating_keys"] == [["3"], ["5"], ["8"]]
    assert result.seed.data_from == "target" and result.seed.rows_per_table is None
    # every table, the empty ones too (agent run: leaving them out read as if they were skipped)
    assert result.seed.rows_copied == {"assignments": 10, "rotations": 2, "persons": 0}
    assert result.seed.rows_at_start == 12
    assert "on a copy of the target's rows" in result.summary  # agent run: whose rows failed was not said
    assert result.verdict == "fix"
    assert_clean(result, pg_url)


AUTOCOMMIT_UP = """
op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))
op.create_foreign_key("fk_assignments_rotation_id_rotations", "assignments", "rotations",
                      ["rotation_id"], ["id"], ondelete="RESTRICT")
with op.get_context().autocommit_block():
    op.create_index("ix_assignments_rotation_id", "assignments", ["rotation_id"], postgresql_concurrently=True)
"""
AUTOCOMMIT_DOWN = """
op.drop_index("ix_assignments_rotation_id", table_name="assignments")
op.drop_constraint("fk_assignments_rotation_id_rotations", "assignments", type_="foreignkey")
op.drop_column("assignments", "rotation_id")
"""


def test_locks_held_before_an_autocommit_block_are_reported(empty_project, pg_url):
    """The autocommit block commits the step's transaction: the ALTER TABLE locks are read before that."""
    project = make_project(empty_project)
    _fk_history(project, AUTOCOMMIT_UP, AUTOCOMMIT_DOWN)
    result = roundtrip(project, pg_url, from_revision="r2", seed_rows=3)
    assert result.failures == [] and result.lock_trace == "on", result.model_dump_json(indent=1)
    held = {(lk.table, lk.kind, lk.mode) for lk in result.locks if lk.revision == "r3"}
    assert ("assignments", "table", "AccessExclusiveLock") in held
    assert ("rotations", "table", "ShareRowExclusiveLock") in held
    assert any(f.rule == "lock-blocks-reads" and f.table == "assignments" for f in result.findings)
    assert_clean(result, pg_url)


FILLED_UP = """
op.add_column("assignments", sa.Column("shift", sa.String(20), nullable=True))
op.execute("UPDATE assignments SET shift = 'early'")
"""


def test_summary_counts_data_the_downgrade_drops(empty_project, pg_url):
    project = make_project(empty_project)
    _fk_history(project, FILLED_UP, 'op.drop_column("assignments", "shift")')
    result = roundtrip(project, pg_url, from_revision="r2", seed_rows=4)
    assert [d.kind for d in result.data_loss] == ["dropped-by-downgrade"], result.model_dump_json(indent=1)
    assert "survived" not in result.summary
    assert "1 column(s)/table(s) of data written after the upgrade that the downgrade drops" in result.summary
    assert result.seed.rows_per_table == 4 and result.seed.tables["assignments"] == 4


def test_summary_without_rows_says_no_data_was_checked(empty_project, sqlite_url):
    project = make_project(empty_project)
    _fk_history(project, FILLED_UP.replace("op.execute", "pass  #"), 'op.drop_column("assignments", "shift")')
    result = roundtrip(project, sqlite_url, from_revision="r2", seed_rows=0)
    assert result.failures == [] and result.data_loss == [], result.model_dump_json(indent=1)
    assert result.seed.rows_at_start == 0
    assert "schema and data survived" not in result.summary and "No data was checked" in result.summary


def test_rehearsal_carries_the_reviews_escalations_forward(empty_project, pg_url):
    """A clean rehearsal of a revision the review escalates does not say proceed: only a human clears it."""
    import anyio

    from alembic_mcp.server.rehearsal import review_escalations
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.roundtrip.tool import test_roundtrip as rehearse

    project_dir = make_project(empty_project)
    _fk_history(project_dir)
    write_revision(
        project_dir,
        "r4",
        "r3",
        'op.drop_column("assignments", "rotation_name")',
        'op.add_column("assignments", sa.Column("rotation_name", sa.String(40)))',
        message="drop name",
    )
    _target_at_r2_with_assignments(project_dir, pg_url)
    project = load_project(project_dir, {"database_url": pg_url})

    async def call():
        return await rehearse(
            project, revision="r4", from_revision="r3", review=lambda revs: review_escalations(project, revs)
        )

    result = anyio.run(call)
    assert result.failures == [], result.model_dump_json(indent=1)
    assert result.verdict == "escalate" and result.escalate_to_human
    assert "drop-column-with-data" in {e.rule for e in result.escalations}
    assert "review_migration escalates these revisions" in result.summary
    assert not any("Commit" in step for step in result.next_steps)


def test_mariadb_json_conversion_of_seed_text_is_a_seed_limitation(empty_project, mariadb_url):
    """MariaDB converts to JSON with a json_valid() CHECK: seed text fails it as a check violation."""
    project = make_project(empty_project)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("payload", sa.Text()))',
        'op.drop_table("events")',
        message="events",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.alter_column("events", "payload", type_=sa.JSON(), existing_type=sa.Text())',
        'op.alter_column("events", "payload", type_=sa.Text(), existing_type=sa.JSON())',
        message="payload json",
    )
    result = roundtrip(project, mariadb_url, from_revision="r1", seed_rows=3)
    assert result.failures == [], result.model_dump_json(indent=1)
    assert [(s.revision, s.mode) for s in result.seed_limitations] == [("r3", "check-violation")]
    assert_clean(result, mariadb_url)


REPLACE_UP = ROTATION_ID_UP + 'op.drop_column("assignments", "rotation_name")\n'
REVERSE_LOOKUP = (
    'op.execute("UPDATE assignments SET rotation_name = r.name FROM rotations r '
    'WHERE r.id = assignments.rotation_id")\n'
)
REPLACE_DOWN = 'op.add_column("assignments", sa.Column("rotation_name", sa.String(40), nullable=True))\n' + (
    REVERSE_LOOKUP + ROTATION_ID_DOWN
)


def _matching_target(project_dir, url: str) -> None:
    """The target at r2 with every assignment naming a rotation."""
    _target_at_r2_with_assignments(project_dir, url)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE assignments SET rotation_name = 'day' WHERE rotation_name = 'gone'"))
    engine.dispose()


def test_reverse_lookup_before_the_drop_loses_nothing_in_review_and_rehearsal(empty_project, pg_url):
    """Issue 18 (agent run): downgrade() rebuilds rotation_name from rotation_id before dropping it, so
    neither the review nor the rehearsal reports a loss; the drop of the filled rotation_name still
    escalates, and the rehearsal lists the human's approvals of the rehearsed revision."""
    import anyio

    from alembic_mcp.server.rehearsal import review_escalations
    from alembic_mcp.tools.core.approvals import record_approval
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.review.tool import review_migration
    from alembic_mcp.tools.roundtrip.tool import test_roundtrip as rehearse

    project_dir = make_project(empty_project)
    _fk_history(project_dir, REPLACE_UP, REPLACE_DOWN)
    _matching_target(project_dir, pg_url)
    project = load_project(project_dir, {"database_url": pg_url})

    reviewed = anyio.run(lambda: review_migration(project, revision="r3"))
    assert "downgrade-loses-data" not in {f.rule for f in reviewed.findings}, reviewed.model_dump_json(indent=1)
    assert {e.rule for e in reviewed.escalations} == {"drop-column-with-data"}

    drop = reviewed.escalations[0]
    record_approval(project_dir, "r3", project_dir / reviewed.revisions[0].file, drop, "names moved", "h", "cli")

    async def call(with_review: bool):
        review = (lambda revs: review_escalations(project, revs)) if with_review else None
        return await rehearse(project, revision="r3", from_revision="r2", data_from="target", review=review)

    result = anyio.run(call, True)
    assert result.failures == [], result.model_dump_json(indent=1)
    assert result.data_loss == [] and "downgrade-loses-data" not in {f.rule for f in result.findings}
    assert result.escalations == [], result.model_dump_json(indent=1)  # approved (its verdict: the models' drift)
    assert [(a.revision, a.rule) for a in result.approvals] == [("r3", "drop-column-with-data")]
    assert_clean(result, pg_url)
    # the worker itself sees rotation_id's values dropped: only the parsed carry answers for them
    bare = anyio.run(call, False)
    assert {(d.kind, d.column) for d in bare.data_loss} == {("dropped-by-downgrade", "rotation_id")}
    assert_clean(bare, pg_url)


def test_a_carry_the_review_cannot_parse_is_still_a_loss(empty_project, pg_url):
    """Strict: the same reverse lookup built at run time is not read, so the loss stays escalated."""
    import anyio

    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.review.tool import review_migration

    built = REPLACE_DOWN.replace(REVERSE_LOOKUP, 'op.execute(" ".join(["UPDATE assignments", "SET rotation_name = '
                                 "r.name FROM rotations r WHERE r.id = assignments.rotation_id\"]))\n")  # fmt: skip
    assert built != REPLACE_DOWN
    project_dir = make_project(empty_project)
    _fk_history(project_dir, REPLACE_UP, built)
    _matching_target(project_dir, pg_url)
    project = load_project(project_dir, {"database_url": pg_url})
    reviewed = anyio.run(lambda: review_migration(project, revision="r3"))
    assert "downgrade-loses-data" in {f.rule for f in reviewed.findings}
    assert "unclear-rollback" in {e.rule for e in reviewed.escalations}
