"""Review precision (issue 14 item 4, issue 18): each false alarm seen on real histories, as a regression."""

from __future__ import annotations

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules import lint_migration
from alembic_mcp.tools.review.rules.registry import case_source as migration
from alembic_mcp.tools.review.squawk import merge, object_of

LOCK = "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"


def hits(source: str, backend: str | None = "postgresql") -> list:
    return lint_migration(parse_source(source), "m.py", backend).hits


def pushing(source: str, backend: str | None = "postgresql") -> set[str]:
    """Rules that push the verdict: error findings or escalations."""
    return {h.finding.rule for h in hits(source, backend) if h.finding.severity == "error" or h.escalation}


def test_unnamed_constraints_created_with_their_table_are_advice_only():
    source = migration(
        'op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("person_id", sa.Integer(), sa.ForeignKey("persons.id"), index=True), '
        'sa.Column("code", sa.String(10), unique=True), '
        'sa.ForeignKeyConstraint(["person_id"], ["persons.id"]), sa.UniqueConstraint("code"))',
        'op.drop_table("notes")',
    )
    found = [h.finding for h in hits(source) if h.finding.rule == "unnamed-constraint"]
    assert len(found) == 4 and {f.severity for f in found} == {"info"}
    assert all("derives its name" in f.message for f in found)
    assert pushing(source) == set()


def test_text_to_string_without_length_is_not_a_rewrite():
    up = LOCK + 'op.alter_column("persons", "name", type_=sa.String(), existing_type=sa.TEXT())'
    down = 'op.alter_column("persons", "name", type_=sa.TEXT(), existing_type=sa.String())'
    assert "change-column-type" not in {h.finding.rule for h in hits(migration(up, down))}
    narrowed = LOCK + 'op.alter_column("persons", "name", type_=sa.String(40), existing_type=sa.TEXT())'
    assert "change-column-type" in {h.finding.rule for h in hits(migration(narrowed, down))}


def test_mysql_varchar_growth_across_the_length_prefix_is_a_rewrite():
    up = 'op.alter_column("persons", "name", type_=sa.String(300), existing_type=sa.String(200))'
    down = 'op.alter_column("persons", "name", type_=sa.String(200), existing_type=sa.String(300))'
    assert "change-column-type" in {h.finding.rule for h in hits(migration(up, down), "mysql")}
    assert "change-column-type" not in {h.finding.rule for h in hits(migration(up, down), "postgresql")}


def test_setval_and_backfill_with_pass_downgrade_is_not_an_unclear_rollback():
    up = (
        "op.execute(\"SELECT setval('persons_id_seq', (SELECT max(id) FROM persons))\")\n"
        "op.execute(\"UPDATE persons SET role = 'resident' WHERE id IN (SELECT id FROM persons LIMIT 100)\")"
    )
    assert not {h.escalation.rule for h in hits(migration(up, "pass")) if h.escalation}
    schema = up + '\nop.add_column("persons", sa.Column("nick", sa.String(20)))'
    assert "empty-downgrade" in {h.finding.rule for h in hits(migration(schema, "pass"))}


def test_squawk_findings_name_the_type_not_as_or_add():
    assert object_of("CREATE TYPE registration AS ENUM ('a', 'b');") == (None, "registration")
    assert object_of("ALTER TYPE permission ADD VALUE 'c';") == (None, "permission")
    assert object_of("ALTER TABLE persons ADD COLUMN x int;") == ("persons", None)
    assert object_of("UPDATE reservation SET a = 1;") == ("reservation", None)
    violations = [
        {"rule_name": "require-enum-value-ordering", "message": "order", "statement": "ALTER TYPE perm ADD VALUE 'c';"},
        {"rule_name": "require-lock-timeout", "message": "lock", "statement": "BEGIN;"},
    ]
    added = merge(violations, [], set(), "m.py", {})
    assert [(f.rule, f.table) for f in added] == [("squawk:require-enum-value-ordering", None)]
    assert "type perm" in added[0].message


def test_dialect_guarded_branches_are_reviewed_for_the_target_only():
    source = migration(
        'if op.get_context().dialect.name == "mysql":\n'
        "    op.execute(build_mysql_statement())\n"
        "else:\n"
        "    " + LOCK + '    op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
    )
    assert pushing(source, "postgresql") == set()
    assert "raw-sql-uninspectable" in pushing(source, "mysql")
    dialect_var = migration(
        'dialect = op.get_bind().dialect.name\nif dialect != "postgresql":\n    op.execute(build_other())',
        "pass",
    )
    assert pushing(dialect_var, "postgresql") == set()
    assert "raw-sql-uninspectable" in pushing(dialect_var, "sqlite")
    prefix = migration('if op.get_bind().dialect.name.startswith("mysql"):\n    op.execute(build_mysql())', "pass")
    assert pushing(prefix, "postgresql") == set()
    assert "raw-sql-uninspectable" in pushing(prefix, "mysql")
    # corpus: superset 18532d70ab98, af30ca79208f: the dialect's class, not its name
    by_class = migration(
        "if isinstance(op.get_bind().dialect, MySQLDialect):\n    op.execute(build_mysql())\n"
        "else:\n    op.execute(build_other())",
        "pass",
        "from sqlalchemy.dialects.mysql.base import MySQLDialect\n",  # a class of the module's own would not do
    )
    lines = {
        backend: {h.finding.line for h in hits(by_class, backend) if h.finding.rule == "raw-sql-uninspectable"}
        for backend in ("mysql", "postgresql")
    }
    assert lines == {"mysql": {11}, "postgresql": {13}}
    described = migration(  # corpus: dagster 004
        'if "sqlite" in sa.inspect(op.get_bind()).dialect.dialect_description:\n'
        '    op.execute("PRAGMA foreign_keys = ON;")\n'
        "else:\n    op.execute(build_other())",
        "pass",
    )
    assert [h.finding.line for h in hits(described, "postgresql") if h.finding.rule == "raw-sql-uninspectable"] == [12]
    only_mysql = migration(
        "if isinstance(op.get_bind().dialect, (MySQLDialect,)):\n    op.execute(build())",
        "pass",
        "from sqlalchemy.dialects.mysql.base import MySQLDialect\n",
    )
    assert pushing(only_mysql, "postgresql") == set()
    assert "raw-sql-uninspectable" in pushing(only_mysql, "mysql")


# ------------------------------------------------------------------ the skill's own patterns (issue 18 item 2)

SKILL_PATTERNS = {
    "three-phase NOT NULL": (
        LOCK + 'op.add_column("users", sa.Column("email_verified", sa.Boolean(), nullable=True))\n'
        'op.execute("UPDATE users SET email_verified = false WHERE id IN '
        '(SELECT id FROM users WHERE email_verified IS NULL LIMIT 10000)")\n'
        'op.alter_column("users", "email_verified", existing_type=sa.Boolean(), nullable=False)',
        'op.drop_column("users", "email_verified")',
    ),
    "CHECK-based SET NOT NULL": (
        LOCK + 'op.create_check_constraint("ck_users_email_not_null", "users", "email IS NOT NULL", '
        "postgresql_not_valid=True)\n"
        'op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_users_email_not_null")\n'
        'op.alter_column("users", "email", existing_type=sa.String(200), nullable=False)\n'
        'op.drop_constraint("ck_users_email_not_null", "users", type_="check")',
        'op.alter_column("users", "email", existing_type=sa.String(200), nullable=True)',
    ),
    "CONCURRENTLY in an autocommit block": (
        LOCK + "with op.get_context().autocommit_block():\n"
        '    op.drop_index("ix_users_email", table_name="users", postgresql_concurrently=True, if_exists=True)\n'
        '    op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
        "with op.get_context().autocommit_block():\n"
        '    op.drop_index("ix_users_email", table_name="users", postgresql_concurrently=True, if_exists=True)',
    ),
    "NOT VALID then VALIDATE": (
        LOCK + 'op.create_foreign_key("fk_assignments_rotation_id_rotations", "assignments", "rotations", '
        '["rotation_id"], ["id"], ondelete="RESTRICT", postgresql_not_valid=True)\n'
        'op.execute("ALTER TABLE assignments VALIDATE CONSTRAINT fk_assignments_rotation_id_rotations")',
        'op.drop_constraint("fk_assignments_rotation_id_rotations", "assignments", type_="foreignkey")',
    ),
}


def test_the_skills_own_patterns_draw_no_findings():
    for name, (up, down) in SKILL_PATTERNS.items():
        found = [
            (h.finding.rule, h.finding.severity)
            for h in hits(migration(up, down))
            if h.finding.rule != "fk-missing-index"  # the example has no index on rotation_id
        ]
        assert found == [], (name, found)


# ------------------------------------------------------------------ noise (issue 18 item 5)


def test_lock_blocks_reads_does_not_advise_a_lock_timeout_already_set(example_project):
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.roundtrip.report import _lock_fix, lock_timeout_set

    project = load_project(example_project, {})
    revision = example_project / "migrations" / "versions" / "c9c9_lock.py"
    env_sets = "lock_timeout" in (project.script_location / "env.py").read_text()
    add = '    op.add_column("persons", sa.Column("nick", sa.Text()))\n'
    set_local = "    op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
    block = '    with op.get_context().autocommit_block():\n        op.create_index("ix", "persons", ["name"])\n'
    revision.write_text("def upgrade():\n" + set_local + add)
    assert lock_timeout_set(project, revision)
    assert "already set" in _lock_fix(True) and "SET LOCAL" not in _lock_fix(True)
    # the block's COMMIT ends the SET LOCAL: the add after it waits with no timeout (agent run, issue 18)
    revision.write_text("def upgrade():\n" + set_local + block + add)
    assert lock_timeout_set(project, revision) == env_sets
    assert "again after each autocommit block" in _lock_fix(False)
    revision.write_text("def upgrade():\n" + set_local + block + set_local + add)
    assert lock_timeout_set(project, revision)
    revision.write_text("def upgrade():\n    # lock_timeout: not set here\n    pass\n")
    assert lock_timeout_set(project, revision) == env_sets


def test_operation_detail_server_default_is_the_sql_text():
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from alembic_mcp.tools.worker.ops.generate import _default_sql

    dialect = postgresql.dialect()
    assert _default_sql(sa.Column("x", sa.Boolean(), server_default=sa.false()).server_default, dialect) == "false"
    assert _default_sql(sa.Column("x", sa.String(), server_default="draft").server_default, dialect) == "'draft'"
    assert _default_sql(sa.Column("x", sa.DateTime(), server_default=sa.text("now()")).server_default, dialect) == (
        "now()"
    )
    assert _default_sql(None, dialect) is None


def test_probable_rename_with_a_type_change_gives_two_options_and_is_not_an_error():
    """Issue 18: rotation_name text -> rotation_id FK int is not a rename to apply literally."""
    from alembic_mcp.tools.generate.autogen_findings import DetectedOperation, rename_findings

    for old, old_type, new_type in (("rotation_name", "VARCHAR", "VARCHAR"), ("rotation", "TEXT", "INTEGER")):
        ops = [
            DetectedOperation(op="drop_column", table="assignments", column=old, detail={"type": old_type}),
            DetectedOperation(
                op="add_column",
                table="assignments",
                column="rotation_id",
                detail={"type": new_type, "foreign_keys": ["rotations.id"]},
            ),
        ]
        [finding] = rename_findings(ops, "postgresql", "m.py")
        assert finding.severity == "warning" and "Two options" in finding.message
        assert "new_column_name" not in finding.fix and "UPDATE assignments SET rotation_id" in finding.fix
    same_type = [
        DetectedOperation(op="drop_column", table="persons", column="pgy_level", detail={"type": "INTEGER"}),
        DetectedOperation(op="add_column", table="persons", column="training_year", detail={"type": "INTEGER"}),
    ]
    [rename] = rename_findings(same_type, "postgresql", "m.py")
    assert rename.severity == "error" and "new_column_name='training_year'" in rename.fix


def test_add_column_required_offers_a_lookup_backfill():
    source = migration('op.add_column("persons", sa.Column("team_id", sa.Integer(), nullable=False))', "")
    [hit] = [h for h in hits(source) if h.finding.rule == "add-column-required"]
    assert "FROM <parent table>" in hit.finding.fix and "IS NULL" in hit.finding.fix


def test_json_column_fix_mentions_the_model():
    source = migration('op.add_column("persons", sa.Column("prefs", sa.JSON(), nullable=True))', "")
    [hit] = [h for h in hits(source) if h.finding.rule == "json-column"]
    assert "model" in hit.finding.fix and "JSONB" in hit.finding.fix


# ------------------------------------------------------------------ the skill's patterns through every layer


def test_the_skills_patterns_pass_the_whole_review_on_postgresql(example_project, pg_url):
    """AST rules, squawk over the rendered SQL (autocommit blocks render COMMIT/BEGIN) and the database's
    facts: the skill's own safe patterns, as pending revisions, draw no finding at all."""
    import anyio
    from conftest import write_revision
    from test_review_migration import HEAD, upgrade_head

    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.review.tool import review_migration

    upgrade_head(example_project, pg_url)
    bodies = {
        "three-phase NOT NULL": SKILL_PATTERNS["three-phase NOT NULL"],
        "CHECK-based SET NOT NULL": (
            LOCK + 'op.create_check_constraint(op.f("ck_persons_pgy_level_not_null"), "persons", '
            '"pgy_level IS NOT NULL", postgresql_not_valid=True)\n'
            'op.execute("ALTER TABLE persons VALIDATE CONSTRAINT ck_persons_pgy_level_not_null")\n'
            'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)\n'
            'op.drop_constraint(op.f("ck_persons_pgy_level_not_null"), "persons", type_="check")',
            'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)',
        ),
        "CONCURRENTLY in an autocommit block": (
            LOCK + "with op.get_context().autocommit_block():\n"
            '    op.drop_index("ix_persons_name", table_name="persons", postgresql_concurrently=True, if_exists=True)\n'
            '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)',
            "with op.get_context().autocommit_block():\n"
            '    op.drop_index("ix_persons_name", table_name="persons", postgresql_concurrently=True, if_exists=True)',
        ),
        "NOT VALID then VALIDATE": (
            LOCK + 'op.add_column("persons", sa.Column("mentor_id", sa.Integer(), nullable=True))\n'
            'op.create_foreign_key("fk_persons_mentor_id_persons", "persons", "persons", ["mentor_id"], ["id"], '
            'ondelete="SET NULL", postgresql_not_valid=True)\n'
            'op.execute("ALTER TABLE persons VALIDATE CONSTRAINT fk_persons_mentor_id_persons")\n'
            "with op.get_context().autocommit_block():\n"
            '    op.drop_index("ix_persons_mentor_id", table_name="persons", postgresql_concurrently=True, '
            "if_exists=True)\n"
            '    op.create_index("ix_persons_mentor_id", "persons", ["mentor_id"], postgresql_concurrently=True)',
            "with op.get_context().autocommit_block():\n"
            '    op.drop_index("ix_persons_mentor_id", table_name="persons", postgresql_concurrently=True, '
            "if_exists=True)\n"
            'op.drop_constraint("fk_persons_mentor_id_persons", "persons", type_="foreignkey")\n'
            'op.drop_column("persons", "mentor_id")',
        ),
    }
    down = HEAD
    for index, (name, (up, dn)) in enumerate(bodies.items(), start=3):
        revision = f"d{index}d{index}d{index}d{index}000{index}"
        write_revision(example_project, revision, down, upgrade=up, downgrade=dn, message=name)
        down = revision
    project = load_project(example_project, {"database_url": pg_url})
    result = anyio.run(lambda: review_migration(project, include_sql=True))
    assert len(result.revisions) == 4 and all("sql" in r.layers for r in result.revisions)
    noisy = [(f.rule, f.file, f.message[:120]) for f in result.findings]
    assert noisy == [] and result.escalations == [], noisy
    assert result.verdict == "proceed"


def test_issue14_false_alarms_stay_away_through_every_layer(example_project, pg_url):
    """varchar -> text, setval() with a pass downgrade, an enum created and extended: reviewed with squawk
    over the rendered SQL on PostgreSQL, no finding above information and no escalation, and none about
    tables named AS or ADD."""
    import anyio
    from conftest import write_revision
    from test_review_migration import HEAD, upgrade_head

    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.review.tool import review_migration

    upgrade_head(example_project, pg_url)
    revisions = [
        (
            LOCK + 'op.alter_column("persons", "name", type_=sa.Text(), existing_type=sa.String(120))',
            'op.alter_column("persons", "name", type_=sa.String(120), existing_type=sa.Text())',
        ),
        ("op.execute(\"SELECT setval('persons_id_seq', (SELECT coalesce(max(id), 1) FROM persons))\")", "pass"),
        (
            "op.execute(\"CREATE TYPE leave_status AS ENUM ('pending', 'approved')\")\n"
            'op.create_table("leaves", sa.Column("id", sa.Integer(), primary_key=True), '
            'sa.Column("status", postgresql.ENUM(name="leave_status", create_type=False), nullable=False))\n'
            "with op.get_context().autocommit_block():\n"
            "    op.execute(\"ALTER TYPE leave_status ADD VALUE IF NOT EXISTS 'denied'\")",
            'op.drop_table("leaves")\nop.execute("DROP TYPE leave_status")',
        ),
    ]
    down = HEAD
    for index, (up, dn) in enumerate(revisions, start=3):
        revision = f"e{index}e{index}e{index}e{index}000{index}"
        header = "from sqlalchemy.dialects import postgresql\n"
        write_revision(example_project, revision, down, upgrade=up, downgrade=dn, extra_header=header)
        down = revision
    project = load_project(example_project, {"database_url": pg_url})
    result = anyio.run(lambda: review_migration(project, include_sql=True))
    assert all("sql" in r.layers for r in result.revisions)
    assert not [f for f in result.findings if (f.table or "").upper() in ("AS", "ADD")]
    loud = [(f.rule, f.file, f.message[:120]) for f in result.findings if f.severity != "info"]
    assert loud == [] and result.escalations == [], (loud, result.escalations)


def test_create_none_named_by_the_models_naming_convention_is_information(example_project, sqlite_url):
    """indico-style migrations: op.create_foreign_key(None, ...) with a naming convention in the models."""
    import anyio
    from conftest import write_revision
    from test_review_migration import HEAD

    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.review.tool import review_migration

    write_revision(
        example_project,
        "f9f9f9f90003",
        HEAD,
        upgrade='op.add_column("persons", sa.Column("mentor_id", sa.Integer(), nullable=True))\n'
        'op.create_index(None, "persons", ["mentor_id"])\n'
        'op.create_foreign_key(None, "persons", "persons", ["mentor_id"], ["id"])',
        downgrade='op.drop_constraint(op.f("fk_persons_mentor_id_persons"), "persons", type_="foreignkey")\n'
        'op.drop_index(op.f("ix_persons_mentor_id"), table_name="persons")\n'
        'op.drop_column("persons", "mentor_id")',
    )
    project = load_project(example_project, {"database_url": sqlite_url})
    result = anyio.run(lambda: review_migration(project, revision="f9f9", include_sql=True))
    unnamed = [f for f in result.findings if f.rule == "unnamed-constraint"]
    assert len(unnamed) == 2 and {f.severity for f in unnamed} == {"info"}
    assert any("naming_convention for 'fk'" in f.message for f in unnamed)


def test_a_column_split_into_several_is_not_a_rename():
    """Agent run 4: name -> first_name + last_name was 'probably a rename' into last_name (an error whose fix
    put every whole name into last_name and made the drop-column-with-data escalation go away)."""
    from alembic_mcp.tools.generate.autogen_findings import DetectedOperation, rename_findings

    ops = [
        DetectedOperation(op="drop_column", table="persons", column="name", detail={"type": "VARCHAR(120)"}),
        DetectedOperation(op="add_column", table="persons", column="first_name", detail={"type": "VARCHAR(120)"}),
        DetectedOperation(op="add_column", table="persons", column="last_name", detail={"type": "VARCHAR(120)"}),
    ]
    [split] = rename_findings(ops, "postgresql", "m.py")
    assert split.severity == "warning" and "persons.first_name, persons.last_name are added" in split.message
    assert "new_column_name" not in (split.fix or "") and "drop-column-with-data" in (split.fix or "")
    # one of them named almost like the old column is still a rename (name -> names beside first_name)
    ops[2] = ops[2].model_copy(update={"column": "names"})
    [rename] = rename_findings(ops, "postgresql", "m.py")
    assert rename.severity == "error" and "new_column_name='names'" in (rename.fix or "")
