"""Layer 1 of review_migration as data (squawk style): for every catalogue rule a migration that must
trigger it and a close variant that must not, plus the false-positive regressions of the issue.
"""

from __future__ import annotations

import textwrap

import pytest

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules.catalogue import RULE_IDS, lint_migration, review_source

HEADER = '''"""test migration"""
import sqlalchemy as sa
from alembic import op

revision = "r2"
down_revision = "r1"

'''


def migration(upgrade: str, downgrade: str = "pass", header: str = "") -> str:
    up = textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    ")
    down = textwrap.indent(textwrap.dedent(downgrade).strip() or "pass", "    ")
    return header + HEADER + f"def upgrade() -> None:\n{up}\n\n\ndef downgrade() -> None:\n{down}\n"


def rules_of(source: str, backend: str | None = "postgresql") -> dict[str, list]:
    out: dict[str, list] = {}
    for hit in lint_migration(parse_source(source), "m.py", backend).hits:
        out.setdefault(hit.finding.rule, []).append(hit)
    return out


LOCK = "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
PERSON_COLS = 'sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name="pk_tmp")'

# rule id -> (triggering (upgrade, downgrade), non-triggering variant (upgrade, downgrade), expectations)
CASES: dict[str, dict] = {
    "add-column-required": {
        "hit": (
            'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=False))',
            'op.drop_column("persons", "nick")',
        ),
        "miss": (
            'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=False, server_default="x"))',
            'op.drop_column("persons", "nick")',
        ),
        "severity": "error",
        "line": 9,
        "table": "persons",
        "column": "nick",
        "fix_contains": ["nullable=True", "UPDATE persons SET nick", "nullable=False"],
    },
    "set-not-null": {
        "hit": (
            'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)',
            'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)',
        ),
        "miss": (
            'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)',
            'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)',
        ),
        "severity": "error",
        "column": "pgy_level",
        "fix_contains": ["postgresql_not_valid=True", "VALIDATE"],
    },
    "create-index-non-concurrent": {
        "hit": (
            'op.create_index("ix_persons_name", "persons", ["name"])',
            'op.drop_index("ix_persons_name", table_name="persons")',
        ),
        "miss": (
            "with op.get_context().autocommit_block():\n"
            '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)',
            'op.drop_index("ix_persons_name", table_name="persons")',
        ),
        "severity": "error",
        "fix_contains": ["postgresql_concurrently=True", "autocommit_block"],
    },
    "concurrent-in-transaction": {
        "hit": (
            'op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)',
            'op.drop_index("ix_persons_name", table_name="persons")',
        ),
        "miss": (
            "with op.get_context().autocommit_block():\n"
            '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)',
            'op.drop_index("ix_persons_name", table_name="persons")',
        ),
        "severity": "error",
    },
    "drop-index-non-concurrent": {
        "hit": (
            'op.drop_index("ix_assignments_person_id", table_name="assignments")',
            'op.create_index("ix_assignments_person_id", "assignments", ["person_id"])',
        ),
        "miss": (
            "with op.get_context().autocommit_block():\n"
            '    op.drop_index("ix_assignments_person_id", table_name="assignments", '
            "postgresql_concurrently=True)",
            'op.create_index("ix_assignments_person_id", "assignments", ["person_id"])',
        ),
        "severity": "warning",
    },
    "fk-not-valid-missing": {
        "hit": (
            'op.create_foreign_key("fk_a_p", "assignments", "persons", ["person_id"], ["id"])',
            'op.drop_constraint("fk_a_p", "assignments", type_="foreignkey")',
        ),
        "miss": (
            'op.create_foreign_key("fk_a_p", "assignments", "persons", ["person_id"], ["id"], '
            "postgresql_not_valid=True)",
            'op.drop_constraint("fk_a_p", "assignments", type_="foreignkey")',
        ),
        "severity": "error",
        "fix_contains": ["postgresql_not_valid=True", "VALIDATE CONSTRAINT"],
    },
    "add-unique-constraint": {
        "hit": (
            'op.create_unique_constraint("uq_persons_name", "persons", ["name"])',
            'op.drop_constraint("uq_persons_name", "persons", type_="unique")',
        ),
        "miss": (
            f'op.create_table("tmp", {PERSON_COLS}, sa.Column("name", sa.String(10)))\n'
            'op.create_unique_constraint("uq_tmp_name", "tmp", ["name"])',
            'op.drop_table("tmp")',
        ),
        "severity": "error",
        "fix_contains": ["unique=True", "USING INDEX"],
    },
    "primary-key-change": {
        "hit": (
            'op.drop_constraint("pk_persons", "persons", type_="primary")\n'
            'op.create_primary_key("pk_persons", "persons", ["id", "email"])',
            'op.drop_constraint("pk_persons", "persons", type_="primary")\n'
            'op.create_primary_key("pk_persons", "persons", ["id"])',
        ),
        "miss": (
            'op.create_table("tmp", sa.Column("id", sa.Integer(), nullable=False))\n'
            'op.create_primary_key("pk_tmp", "tmp", ["id"])',
            'op.drop_table("tmp")',
        ),
        "severity": "error",
        "escalation": "primary-key-change",
    },
    "change-column-type": {
        "hit": (
            'op.alter_column("persons", "pgy_level", type_=sa.String(10), existing_type=sa.Integer())',
            'op.alter_column("persons", "pgy_level", type_=sa.Integer(), existing_type=sa.String(10))',
        ),
        "miss": (
            'op.alter_column("persons", "name", type_=sa.String(200), existing_type=sa.String(120))',
            'op.alter_column("persons", "name", type_=sa.String(120), existing_type=sa.String(200))',
        ),
        "severity": "warning",
        "escalation": "breaking-api-change",
    },
    "rename-column": {
        "hit": (
            'op.alter_column("persons", "name", new_column_name="full_name")',
            'op.alter_column("persons", "full_name", new_column_name="name")',
        ),
        "miss": (
            'op.alter_column("persons", "name", comment="display name")',
            'op.alter_column("persons", "name", comment=None)',
        ),
        "severity": "warning",
        "escalation": "breaking-api-change",
    },
    "rename-table": {
        "hit": ('op.rename_table("rotations", "rotas")', 'op.rename_table("rotas", "rotations")'),
        "miss": (f'op.create_table("rotas", {PERSON_COLS})', 'op.drop_table("rotas")'),
        "severity": "warning",
        "escalation": "breaking-api-change",
    },
    "drop-column": {
        "hit": (
            'op.drop_column("persons", "pgy_level")',
            'op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
        ),
        "miss": (
            f'op.create_table("tmp", {PERSON_COLS}, sa.Column("x", sa.Integer()))\nop.drop_column("tmp", "x")',
            'op.drop_table("tmp")',
        ),
        "severity": "warning",
        "escalation": "drop-column-with-data",
        "column": "pgy_level",
    },
    "drop-table": {
        "hit": ('op.drop_table("rotations")', f'op.create_table("rotations", {PERSON_COLS})'),
        "miss": (f'op.create_table("tmp", {PERSON_COLS})\nop.drop_table("tmp")', ""),
        "severity": "warning",
        "escalation": "drop-table-with-data",
    },
    "volatile-default": {
        "hit": (
            'op.add_column("persons", sa.Column("token", sa.String(36), nullable=False, '
            'server_default=sa.text("gen_random_uuid()")))',
            'op.drop_column("persons", "token")',
        ),
        "miss": (
            'op.add_column("persons", sa.Column("seen", sa.DateTime(), nullable=False, '
            'server_default=sa.text("now()")))',
            'op.drop_column("persons", "seen")',
        ),
        "severity": "error",
    },
    "json-column": {
        "hit": (
            'op.add_column("persons", sa.Column("prefs", sa.JSON(), nullable=True))',
            'op.drop_column("persons", "prefs")',
        ),
        "miss": (
            'op.add_column("persons", sa.Column("prefs", postgresql.JSONB(), nullable=True))',
            'op.drop_column("persons", "prefs")',
        ),
        "severity": "warning",
    },
    "missing-lock-timeout": {
        "hit": (
            'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
            'op.drop_column("persons", "nick")',
        ),
        "miss": (
            LOCK + 'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
            'op.drop_column("persons", "nick")',
        ),
        "severity": "warning",
    },
    "unbatched-backfill": {
        "hit": ("op.execute(\"UPDATE persons SET role = 'resident' WHERE role IS NULL\")", ""),
        "miss": (
            "op.execute(\"UPDATE persons SET role = 'resident' WHERE id IN "
            '(SELECT id FROM persons WHERE role IS NULL LIMIT 1000)")',
            "",
        ),
        "severity": "warning",
        "table": "persons",
    },
    "raw-sql-interpolated": {
        "hit": (
            'ROLE = "resident"\nop.execute(f"UPDATE persons SET role = \'{ROLE}\' WHERE id IN '
            '(SELECT id FROM persons LIMIT 10)")',
            "",
        ),
        "miss": (
            'ROLE = "resident"\nop.execute(sa.text("UPDATE persons SET role = :role WHERE id IN '
            '(SELECT id FROM persons LIMIT 10)").bindparams(role=ROLE))',
            "",
        ),
        "severity": "error",
        "line": 10,
        "fix_contains": ["bindparams"],
    },
    "raw-sql-uninspectable": {
        "hit": ("op.execute(build_statement())", ""),
        "miss": ("op.execute(\"COMMENT ON TABLE persons IS 'people'\")", ""),
        "severity": "error",
        "escalation": "uninspectable-sql",
    },
    "empty-downgrade": {
        "hit": ('op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))', "pass"),
        "miss": (
            'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
            'op.drop_column("persons", "nick")',
        ),
        "severity": "error",
        "escalation": "unclear-rollback",
        "fix_contains": ["op.drop_column('persons', 'nick')"],
    },
    "downgrade-not-inverse": {
        "hit": (
            'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
            'op.create_index("ix_persons_nick", "persons", ["nick"])',
            'op.drop_column("persons", "nick")\nop.execute("SELECT 1")',
        ),
        "miss": (
            'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
            'op.create_index("ix_persons_nick", "persons", ["nick"])',
            'op.drop_index("ix_persons_nick", table_name="persons")\nop.drop_column("persons", "nick")',
        ),
        "severity": "error",
        "fix_contains": ["op.drop_index('ix_persons_nick', table_name='persons')"],
    },
    "irreversible-downgrade": {
        "hit": ('op.drop_column("persons", "pgy_level")', "raise NotImplementedError()"),
        "miss": (
            'op.drop_column("persons", "pgy_level")',
            'op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
        ),
        "severity": "error",
        "escalation": "unclear-rollback",
    },
    "downgrade-loses-data": {
        "hit": (
            f't = op.create_table("tags", {PERSON_COLS})\nop.bulk_insert(t, [{{"id": 1}}])',
            'op.drop_table("tags")',
        ),
        "miss": (f'op.create_table("tags", {PERSON_COLS})', 'op.drop_table("tags")'),
        "severity": "warning",
        "escalation": "unclear-rollback",
    },
    "unnamed-constraint": {
        "hit": (
            'op.create_foreign_key(None, "assignments", "persons", ["person_id"], ["id"], postgresql_not_valid=True)',
            'op.drop_constraint(None, "assignments", type_="foreignkey")',
        ),
        "miss": (
            'op.create_foreign_key("fk_a_p", "assignments", "persons", ["person_id"], ["id"], '
            "postgresql_not_valid=True)",
            'op.drop_constraint("fk_a_p", "assignments", type_="foreignkey")',
        ),
        "severity": "error",
    },
    "offline-unsafe": {
        "hit": (
            'n = op.get_bind().execute(sa.text("SELECT count(*) FROM persons")).scalar()\n'
            "if n:\n    op.execute(\"COMMENT ON TABLE persons IS 'has rows'\")",
            "",
        ),
        "miss": ("op.execute(\"COMMENT ON TABLE persons IS 'has rows'\")", ""),
        "severity": "info",
    },
    "enum-change": {
        "hit": ("op.execute(\"ALTER TYPE person_role ADD VALUE 'chief'\")", ""),
        "miss": (
            "with op.get_context().autocommit_block():\n"
            "    op.execute(\"ALTER TYPE person_role ADD VALUE IF NOT EXISTS 'chief'\")",
            "",
        ),
        "severity": "warning",
    },
    "fk-missing-index": {
        "hit": (
            f'op.create_table("notes", {PERSON_COLS}, sa.Column("person_id", sa.Integer()), '
            'sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_notes_person_id"))',
            'op.drop_table("notes")',
        ),
        "miss": (
            f'op.create_table("notes", {PERSON_COLS}, sa.Column("person_id", sa.Integer()), '
            'sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_notes_person_id"))\n'
            'op.create_index("ix_notes_person_id", "notes", ["person_id"])',
            'op.drop_index("ix_notes_person_id", table_name="notes")\nop.drop_table("notes")',
        ),
        "severity": "warning",
    },
}


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULE_IDS)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_triggers(rule):
    case = CASES[rule]
    source = migration(*case["hit"])
    hits = rules_of(source).get(rule)
    assert hits, f"{rule} did not trigger on:\n{source}"
    hit = hits[0]
    finding = hit.finding
    assert finding.severity == case["severity"]
    assert finding.file == "m.py" and finding.line and finding.message and finding.why and finding.fix
    if "line" in case:
        assert finding.line == case["line"]
    for key in ("table", "column"):
        if key in case:
            assert getattr(finding, key) == case[key]
    if "escalation" in case:
        assert hit.escalation is not None and hit.escalation.rule == case["escalation"]
    for fragment in case.get("fix_contains", []):
        assert fragment in finding.fix, finding.fix


@pytest.mark.parametrize("rule", sorted(CASES))
def test_close_variant_does_not_trigger(rule):
    source = migration(*CASES[rule]["miss"])
    assert rule not in rules_of(source), f"{rule} triggered on the safe variant:\n{source}"


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
        '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True, '
        "if_not_exists=True)\n"
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


def test_documented_irreversible_downgrade_is_a_warning_without_escalation():
    source = migration(
        'op.drop_column("persons", "pgy_level")',
        'raise NotImplementedError("irreversible: pgy_level values are gone")',
    )
    hit = rules_of(source)["irreversible-downgrade"][0]
    assert hit.finding.severity == "warning" and hit.escalation is None


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


def test_downgrade_loses_copied_column_data_unless_documented():
    up = (
        'op.add_column("persons", sa.Column("display", sa.String(120), nullable=True))\n'
        'op.execute("UPDATE persons SET display = name WHERE id IN (SELECT id FROM persons LIMIT 100)")'
    )
    hit = rules_of(migration(up, 'op.drop_column("persons", "display")'))["downgrade-loses-data"][0]
    assert hit.escalation is not None and hit.escalation.rule == "unclear-rollback"
    documented = migration(
        up,
        '# data loss: display values are derived from name and lost on rollback\nop.drop_column("persons", "display")',
    )
    hit = rules_of(documented)["downgrade-loses-data"][0]
    assert hit.escalation is None and hit.finding.severity == "warning"


def test_autogenerated_unnamed_drop_in_downgrade_is_flagged():
    source = migration(
        'op.add_column("assignments", sa.Column("x", sa.Integer(), nullable=True))',
        'op.drop_constraint(None, "assignments", type_="foreignkey")\nop.drop_column("assignments", "x")',
    )
    hits = rules_of(source)["unnamed-constraint"]
    assert hits[0].finding.line == 13 and "fails at runtime" in hits[0].finding.message
