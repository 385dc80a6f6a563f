"""Pending revisions reviewed together (issue 18, item 4): a finding another revision of the same review
resolves is marked resolved there (info, ``resolved_by <rev>:``, no fix), one test per rule, and the same
finding stands when its revision is reviewed alone."""

from __future__ import annotations

import pytest
from conftest import write_revision
from test_review_lean import HEAD, review, upgrade_head


def _finding(result, rule: str, revision: str):
    file = next(r.file for r in result.revisions if r.revision == revision)
    return next(f for f in result.findings if f.rule == rule and f.file == file)


def _resolved(result, rule: str, revision: str, by: str) -> None:
    finding = _finding(result, rule, revision)
    assert finding.severity == "info" and finding.fix is None, finding
    assert finding.message.startswith(f"resolved_by {by}:"), finding.message


def _stands(result, rule: str, revision: str) -> None:
    finding = _finding(result, rule, revision)
    assert finding.severity in ("warning", "error") and finding.fix, finding
    assert "resolved_by" not in finding.message


OWNER_FK = (
    'op.add_column("assignments", sa.Column("owner_id", sa.Integer(), nullable=True))\n'
    'op.create_foreign_key("fk_assignments_owner", "assignments", "persons", ["owner_id"], ["id"])'
)
OWNER_FK_DOWN = 'op.drop_constraint("fk_assignments_owner", "assignments")\nop.drop_column("assignments", "owner_id")'


def test_fk_missing_index_resolved_by_a_later_drop_of_the_column(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    write_revision(example_project, "f1f1", HEAD, OWNER_FK, OWNER_FK_DOWN, message="owner")
    write_revision(
        example_project,
        "f2f2",
        "f1f1",
        'op.drop_constraint("fk_assignments_owner", "assignments")\nop.drop_column("assignments", "owner_id")',
        OWNER_FK,
        message="no owner",
    )
    _resolved(review(example_project, pg_url), "fk-missing-index", "f1f1", by="f2f2")
    _stands(review(example_project, pg_url, revision="f1f1"), "fk-missing-index", "f1f1")


TO_JSONB = {
    "raw-sql": (
        'op.execute("ALTER TABLE persons ALTER COLUMN prefs TYPE jsonb USING prefs::jsonb")',
        'op.execute("ALTER TABLE persons ALTER COLUMN prefs TYPE json USING prefs::json")',
        "",
    ),
    "alter-column": (
        'op.alter_column("persons", "prefs", type_=postgresql.JSONB(), postgresql_using="prefs::jsonb")',
        'op.alter_column("persons", "prefs", type_=sa.JSON(), postgresql_using="prefs::json")',
        "from sqlalchemy.dialects import postgresql",
    ),
}


@pytest.mark.parametrize("how", sorted(TO_JSONB))
def test_json_column_resolved_by_a_later_conversion_to_jsonb(example_project, pg_url, how):
    upgrade_up, upgrade_down, header = TO_JSONB[how]
    upgrade_head(example_project, pg_url)
    write_revision(
        example_project,
        "f1f1",
        HEAD,
        'op.add_column("persons", sa.Column("prefs", sa.JSON(), nullable=True))',
        'op.drop_column("persons", "prefs")',
        message="prefs",
    )
    write_revision(
        example_project, "f2f2", "f1f1", upgrade_up, upgrade_down, message="prefs jsonb", extra_header=header
    )
    together = review(example_project, pg_url)
    _resolved(together, "json-column", "f1f1", by="f2f2")
    if how == "raw-sql":
        assert "converts the column to jsonb" in _finding(together, "json-column", "f1f1").message
        _stands(review(example_project, pg_url, revision="f1f1"), "json-column", "f1f1")


def test_set_not_null_resolved_by_a_check_validated_in_earlier_revisions(example_project, pg_url):
    """The skill's CHECK-based SET NOT NULL split over three revisions: NOT VALID, VALIDATE, SET NOT NULL."""
    upgrade_head(example_project, pg_url)
    check = "ALTER TABLE persons ADD CONSTRAINT ck_persons_pgy_nn CHECK (pgy_level IS NOT NULL) NOT VALID"
    write_revision(
        example_project,
        "f1f1",
        HEAD,
        f'op.execute("{check}")',
        'op.drop_constraint("ck_persons_pgy_nn", "persons", type_="check")',
        message="check",
    )
    write_revision(
        example_project,
        "f2f2",
        "f1f1",
        'op.execute("ALTER TABLE persons VALIDATE CONSTRAINT ck_persons_pgy_nn")',
        "pass",
        message="validate",
    )
    write_revision(
        example_project,
        "f3f3",
        "f2f2",
        "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)\n'
        'op.drop_constraint("ck_persons_pgy_nn", "persons", type_="check")',
        f'op.execute("{check}")\nop.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)',
        message="not null",
    )
    together = review(example_project, pg_url)
    _resolved(together, "set-not-null", "f3f3", by="f2f2")
    _stands(review(example_project, pg_url, revision="f3f3"), "set-not-null", "f3f3")


def test_set_not_null_stands_after_a_check_never_validated(example_project, pg_url):
    """A NOT VALID CHECK proves nothing about existing rows: SET NOT NULL still scans."""
    upgrade_head(example_project, pg_url)
    check = "ALTER TABLE persons ADD CONSTRAINT ck_persons_pgy_nn CHECK (pgy_level IS NOT NULL) NOT VALID"
    write_revision(
        example_project,
        "f1f1",
        HEAD,
        f'op.execute("{check}")',
        'op.drop_constraint("ck_persons_pgy_nn", "persons", type_="check")',
        message="check",
    )
    write_revision(
        example_project,
        "f3f3",
        "f1f1",
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)',
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)',
        message="not null",
    )
    _stands(review(example_project, pg_url), "set-not-null", "f3f3")
