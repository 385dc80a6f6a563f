"""Layer 1 of review_migration as data (squawk style): every case every rule module declares (a migration
that must trigger the rule and close variants that must not), plus the false-positive regressions of the
issue and the suppression comments.
"""

from __future__ import annotations

import pytest

from alembic_mcp.tools.core.policy import ESCALATION_RULES
from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules import lint_migration, review_source
from alembic_mcp.tools.review.rules.registry import Case, all_cases, all_rules, case_source

migration = case_source


def rules_of(source: str, backend: str | None = "postgresql") -> dict[str, list]:
    out: dict[str, list] = {}
    for hit in lint_migration(parse_source(source), "m.py", backend).hits:
        out.setdefault(hit.finding.rule, []).append(hit)
    return out


LOCK = "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
CASES = all_cases()


def _case_id(case: Case) -> str:
    return f"{case.rule}-{'hit' if case.triggers else 'miss'}-{CASES.index(case)}"


def test_every_rule_has_a_triggering_and_a_safe_case():
    for rule in all_rules():
        kinds = {case.triggers for case in CASES if case.rule == rule.id}
        assert kinds == {True, False}, f"{rule.id} ({rule.family}.py) needs a triggering and a safe case"


def test_cases_name_registered_rules_and_escalations():
    known = {rule.id: rule for rule in all_rules()}
    for case in CASES:
        assert case.rule in known, f"a case names unknown rule {case.rule}"
        if case.escalation:
            assert case.escalation in ESCALATION_RULES
    for rule in known.values():
        assert set(rule.escalations) <= set(ESCALATION_RULES), rule.id
        assert rule.severity in ("info", "warning", "error") and rule.why and rule.summary


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rule_case(case: Case):
    source = case_source(case.upgrade, case.downgrade, case.header)
    hits = rules_of(source, case.backend).get(case.rule)
    if not case.triggers:
        assert not hits, f"{case.rule} triggered on the safe variant:\n{source}"
        return
    assert hits, f"{case.rule} did not trigger on:\n{source}"
    hit = hits[0]
    finding = hit.finding
    assert finding.file == "m.py" and finding.line and finding.message and finding.why and finding.fix
    expected = {"severity": case.severity, "line": case.line, "table": case.table, "column": case.column}
    for key, value in expected.items():
        if value is not None:
            assert getattr(finding, key) == value, (key, finding)
    if case.escalation:
        assert hit.escalation is not None and hit.escalation.rule == case.escalation
    for fragment in case.fix_contains:
        assert fragment in finding.fix, finding.fix
    for fragment in case.message_contains:
        assert fragment in finding.message, finding.message


# ------------------------------------------------------------------ false-positive regressions (issue 3)

NEW_TABLE = (
    'op.create_table("notes", sa.Column("id", sa.Integer(), nullable=False), '
    'sa.Column("person_id", sa.Integer(), nullable=False), '
    'sa.PrimaryKeyConstraint("id", name="pk_notes"))\n'
)


def verdict_rules(source: str, backend: str | None = "postgresql") -> set[str]:
    """Rules that push the verdict (error findings or escalations)."""
    return {
        h.finding.rule
        for hits in rules_of(source, backend).values()
        for h in hits
        if h.finding.severity == "error" or h.escalation is not None
    }


def test_index_and_fk_on_table_created_in_same_migration():
    source = migration(
        NEW_TABLE + 'op.create_index("ix_notes_person_id", "notes", ["person_id"])\n'
        'op.create_foreign_key("fk_notes_person_id", "notes", "persons", ["person_id"], ["id"])\n'
        'op.create_unique_constraint("uq_notes_person_id", "notes", ["person_id"])',
        'op.drop_table("notes")',
    )
    assert rules_of(source) == {}


def test_concurrently_inside_autocommit_block():
    source = migration(
        LOCK + "with op.get_context().autocommit_block():\n"
        '    op.drop_index("ix_persons_name", table_name="persons", postgresql_concurrently=True, if_exists=True)\n'
        '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)\n'
        '    op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_persons_role")\n'
        '    op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_persons_role ON persons (role)")',
        "with op.get_context().autocommit_block():\n"
        '    op.drop_index("ix_persons_name", table_name="persons", postgresql_concurrently=True)\n'
        '    op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_persons_role")',
    )
    assert rules_of(source) == {}


def test_varchar_widening_and_numeric_precision_up():
    source = migration(
        LOCK + 'op.alter_column("persons", "name", type_=sa.String(200), existing_type=sa.String(120))\n'
        'op.alter_column("persons", "email", type_=sa.Text(), existing_type=sa.String(200))\n'
        'op.alter_column("rotations", "rate", type_=sa.Numeric(12, 2), existing_type=sa.Numeric(10, 2))',
        'op.alter_column("persons", "name", type_=sa.String(120), existing_type=sa.String(200))\n'
        'op.alter_column("persons", "email", type_=sa.String(200), existing_type=sa.Text())\n'
        'op.alter_column("rotations", "rate", type_=sa.Numeric(10, 2), existing_type=sa.Numeric(12, 2))',
    )
    assert rules_of(source) == {}


def test_varchar_narrowing_is_not_safe():
    source = migration(
        'op.alter_column("persons", "name", type_=sa.String(50), existing_type=sa.String(120))',
        'op.alter_column("persons", "name", type_=sa.String(120), existing_type=sa.String(50))',
    )
    assert "change-column-type" in rules_of(source)


def test_add_nullable_column_only_advisory():
    source = migration(
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
    )
    assert verdict_rules(source) == set()
    assert set(rules_of(source)) <= {"missing-lock-timeout"}


def test_three_phase_fix_of_add_column_required_is_clean():
    """The fix add-column-required proposes must not be flagged as an error itself."""
    source = migration(
        LOCK + 'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
        'op.execute(sa.text("UPDATE persons SET nick = :value WHERE nick IS NULL").bindparams(value="x"))\n'
        'op.alter_column("persons", "nick", existing_type=sa.String(20), nullable=False)',
        'op.drop_column("persons", "nick")',
    )
    assert verdict_rules(source) == set()
    assert "set-not-null" not in rules_of(source)


def test_pg_only_rules_quiet_on_sqlite_and_mysql():
    source = migration(
        'op.create_index("ix_persons_name", "persons", ["name"])\n'
        'op.add_column("persons", sa.Column("prefs", sa.JSON(), nullable=True))',
        'op.drop_column("persons", "prefs")\nop.drop_index("ix_persons_name", table_name="persons")',
    )
    for backend in ("sqlite", "mysql"):
        found = rules_of(source, backend)
        assert not {"create-index-non-concurrent", "json-column", "missing-lock-timeout"} & set(found)
    assert "create-index-non-concurrent" in rules_of(source, "postgresql")


def test_example_project_migrations_are_clean():
    from pathlib import Path

    versions = Path(__file__).resolve().parent.parent / "examples" / "residency" / "migrations" / "versions"
    for path in versions.glob("*.py"):
        assert rules_of(path.read_text()) == {}, path.name


def test_a_deliberate_raise_in_downgrade_escalates_with_its_own_message():
    """Issue 14: an irreversible revision by design; the message is evidence, never a clearance."""
    for message in ("irreversible: pgy_level values are gone", "cannot downgrade past this revision"):
        source = migration('op.drop_column("persons", "pgy_level")', f"raise NotImplementedError({message!r})")
        hit = rules_of(source)["irreversible-downgrade"][0]
        assert hit.escalation is not None and hit.escalation.rule == "unclear-rollback"
        assert hit.escalation.evidence["message"] == message and message in hit.escalation.reason


def test_parse_error_sql_is_uninspectable():
    source = migration('op.execute("UPDAT persons SETT role = 1")', "")
    hit = rules_of(source)["raw-sql-uninspectable"][0]
    assert "cannot be parsed" in hit.finding.message


def test_sqlalchemy_update_construct_is_inspectable():
    source = migration(
        'persons = sa.table("persons", sa.column("role"))\nop.execute(persons.update().values(role="resident"))',
        "",
    )
    found = rules_of(source)
    assert "raw-sql-uninspectable" not in found
    assert found["unbatched-backfill"][0].finding.table == "persons"


def test_backfill_in_a_loop_is_batched():
    source = migration(
        "for start in range(0, 100000, 1000):\n"
        "    op.execute(sa.text(\"UPDATE persons SET role = 'r' WHERE role IS NULL\"))",
        "",
    )
    assert "unbatched-backfill" not in rules_of(source)


def test_alter_column_enum_change():
    source = migration(
        'op.alter_column("persons", "role", type_=sa.Enum("a", "b", "c", name="role"), '
        'existing_type=sa.Enum("a", "b", name="role"))',
        'op.alter_column("persons", "role", type_=sa.Enum("a", "b", name="role"), '
        'existing_type=sa.Enum("a", "b", "c", name="role"))',
    )
    assert "enum-change" in rules_of(source)


# ------------------------------------------------------------------ suppressions


def review(source: str):
    return review_source(parse_source(source), "m.py", "postgresql")


def test_line_suppression_honoured_and_listed():
    source = migration(
        "# alembic-mcp: ignore[drop-column] reason: column unused since release 42, backed up\n"
        'op.drop_column("persons", "pgy_level")',
        'op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
    )
    result = review(source)
    assert "drop-column" not in {h.finding.rule for h in result.hits}
    assert [(s.rule, s.scope, s.silenced) for s in result.suppressions] == [("drop-column", "line", 1)]
    assert "release 42" in result.suppressions[0].reason
    assert result.extra == []


def test_file_level_suppression():
    header = "# alembic-mcp: ignore[missing-lock-timeout] reason: deploy tool sets lock_timeout per session\n"
    source = migration(
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        header=header,
    )
    result = review(source)
    assert {h.finding.rule for h in result.hits} == set()
    assert result.suppressions[0].scope == "file"


def test_suppression_without_reason_or_with_unknown_rule_is_an_error():
    source = migration(
        'op.drop_column("persons", "pgy_level")  # alembic-mcp: ignore[drop-column]\n'
        'op.drop_column("persons", "role")  # alembic-mcp: ignore[no-such-rule] reason: because',
        'op.add_column("persons", sa.Column("pgy_level", sa.Integer()))\n'
        'op.add_column("persons", sa.Column("role", sa.String(20)))',
    )
    result = review(source)
    errors = [f for f in result.extra if f.rule == "invalid-suppression"]
    assert len(errors) == 2 and all(f.severity == "error" for f in errors)
    assert "no reason" in errors[0].message and "no-such-rule" in errors[1].message
    assert sum(h.finding.rule == "drop-column" for h in result.hits) == 2  # nothing silenced


def test_unused_suppression_reported():
    source = migration(
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))  '
        "# alembic-mcp: ignore[drop-table] reason: stale",
        'op.drop_column("persons", "nick")',
    )
    result = review(source)
    assert [f.rule for f in result.extra] == ["unused-suppression"]
    assert result.extra[0].line == 9


def test_a_comment_documents_a_downgrade_loss_but_never_clears_the_escalation():
    up = (
        'op.add_column("persons", sa.Column("display", sa.String(120), nullable=True))\n'
        'op.execute("UPDATE persons SET display = name WHERE id IN (SELECT id FROM persons LIMIT 100)")'
    )
    hit = rules_of(migration(up, 'op.drop_column("persons", "display")'))["downgrade-loses-data"][0]
    assert hit.escalation is not None and hit.escalation.rule == "unclear-rollback"
    for comment, matches in (("# data loss: persons.display", True), ("# data loss: none intended", False)):
        documented = migration(up, f'{comment}\nop.drop_column("persons", "display")')
        hit = rules_of(documented)["downgrade-loses-data"][0]
        assert ("documents the loss" in hit.finding.message) == matches
        assert hit.escalation is not None and hit.escalation.rule == "unclear-rollback"
        assert hit.escalation.evidence["documented"] == comment
        assert hit.escalation.evidence["documented_matches"] == matches


def test_suppression_silences_the_finding_but_keeps_its_escalation():
    source = migration(
        '# alembic-mcp: ignore[drop-column] reason: nobody reads it\nop.drop_column("persons", "pgy_level")',
        'op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
    )
    result = review(source)
    assert "drop-column" not in {h.finding.rule for h in result.hits}
    [silenced] = result.silenced
    assert silenced.finding.rule == "drop-column" and silenced.escalation.rule == "drop-column-with-data"
    assert silenced.suppressed_by.reason == "nobody reads it"


def test_a_suppressed_bypass_still_escalates():
    source = migration(
        "# alembic-mcp: ignore[dynamic-op-call, raw-sql-interpolated] reason: trust me\n"
        'getattr(op, "exe" + "cute")(f"DROP TABLE {NAME}")',
    )
    result = review(source)
    assert {h.escalation.rule for h in result.silenced} == {"uninspectable-sql"}


def test_autogenerated_unnamed_drop_in_downgrade_is_flagged():
    source = migration(
        'op.add_column("assignments", sa.Column("x", sa.Integer(), nullable=True))',
        'op.drop_constraint(None, "assignments", type_="foreignkey")\nop.drop_column("assignments", "x")',
    )
    hits = rules_of(source)["unnamed-constraint"]
    assert hits[0].finding.line == 13 and "fails at runtime" in hits[0].finding.message


def test_a_decorated_upgrade_is_module_level_code():
    """Hostile review: a decorator swaps upgrade() for code no rule reads (the body looks harmless)."""
    source = case_source('op.create_index("ix_persons_name", "persons", ["name"])').replace(
        "def upgrade()",
        'def _w(f):\n    def g():\n        op.drop_table("rotations")\n\n    return g\n\n\n@_w\ndef upgrade()',
    )
    [hit] = rules_of(source)["module-level-code"]
    assert hit.escalation is not None and hit.escalation.rule == "uninspectable-sql"
