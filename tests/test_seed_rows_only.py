"""airflow 3a8972ecb8f9: a NOT NULL column added without a default to a table the history leaves empty there
fails on seed rows only; the failure says every row was a seed row and which rehearsed revision made the table."""

from __future__ import annotations

from conftest import write_revision
from test_roundtrip import assert_clean, make_project, roundtrip

BACKFILL_MODEL = """

class Backfill(Base):
    __tablename__ = "backfill"
    id = Column(Integer, primary_key=True)
    reprocess_behavior = Column(String(250), nullable=False)
"""


def test_not_null_added_to_a_table_holding_only_seed_rows_says_so(empty_project, pg_url):
    project = make_project(empty_project, BACKFILL_MODEL)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("backfill", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("backfill")',
        message="backfill",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.add_column("backfill", sa.Column("reprocess_behavior", sa.String(250), nullable=False))',
        'op.drop_column("backfill", "reprocess_behavior")',
        message="reprocess behavior",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=4)
    assert [(f.revision, f.direction, f.mode) for f in result.failures] == [("r3", "upgrade", "not-null-violation")]
    failure = result.failures[0]
    assert failure.on_seed_rows and failure.facts["violating_rows"] == 4
    assert failure.facts["rows_are_seed_rows"] is True and failure.facts["table_created_by"] == "r2"
    finding = next(f for f in result.findings if f.rule == "not-null-violation")
    assert "Every row it met was a seed row" in finding.message
    assert "backfill is created by r2" in finding.message and "real rows like them" not in finding.message
    assert_clean(result, pg_url)


def test_not_null_added_to_a_table_holding_the_historys_own_rows_is_not_marked(empty_project, pg_url):
    """The history inserts a row itself: the failure reproduces without seed rows, nothing is said of seeds."""
    project = make_project(empty_project, BACKFILL_MODEL)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("backfill", sa.Column("id", sa.Integer(), primary_key=True))\n'
        'op.execute("INSERT INTO backfill (id) VALUES (1)")',
        'op.drop_table("backfill")',
        message="backfill",
    )
    write_revision(
        project,
        "r3",
        "r2",
        'op.add_column("backfill", sa.Column("reprocess_behavior", sa.String(250), nullable=False))',
        'op.drop_column("backfill", "reprocess_behavior")',
        message="reprocess behavior",
    )
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=4)
    [failure] = result.failures
    assert failure.mode == "not-null-violation" and not failure.on_seed_rows
    assert "rows_are_seed_rows" not in failure.facts
    assert_clean(result, pg_url)
