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
        LOCK
        + "\nop.add_column('persons', sa.Column('active', sa.Boolean(), nullable=True))"
        + "\nop.execute(sa.text('UPDATE persons SET active = :value WHERE active IS NULL').bindparams(value=False))"
        + "\nop.alter_column('persons', 'active', existing_type=sa.Boolean(), nullable=False)",
        'op.drop_column("persons", "active")',
        {"add-column-required", "missing-lock-timeout"},
    ),
    "backfill-keeps-server-default": (
        'active = Column(Boolean, default=True, nullable=False, server_default="true")',
        'op.add_column("persons", sa.Column("active", sa.Boolean(), nullable=False))',
        'op.drop_column("persons", "active")',
        LOCK
        + "\nop.add_column('persons', sa.Column('active', sa.Boolean(), nullable=True, server_default='true'))"
        + "\nop.execute(sa.text('UPDATE persons SET active = :value WHERE active IS NULL').bindparams(value=True))"
        + "\nop.alter_column('persons', 'active', existing_type=sa.Boolean(), nullable=False)",
        'op.drop_column("persons", "active")',
        {"add-column-required", "missing-lock-timeout"},
    ),
    "lock-timeout": (
        None,
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        LOCK + '\nop.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        {"missing-lock-timeout"},
    ),
    "index-concurrently": (
        None,
        'op.create_index("ix_persons_name", "persons", ["name"])',
        'op.drop_index("ix_persons_name", table_name="persons")',
        "with op.get_context().autocommit_block():\n"
        "    op.execute(\"SET lock_timeout = '5s'\")\n"
        "    op.drop_index('ix_persons_name', table_name='persons', postgresql_concurrently=True, if_exists=True)\n"
        "    op.create_index('ix_persons_name', 'persons', ['name'], postgresql_concurrently=True)\n"
        '    op.execute("RESET lock_timeout")',
        'op.drop_index("ix_persons_name", table_name="persons")',
        {"create-index-non-concurrent"},
    ),
    "index-expression-concurrently": (  # agent run 2: the expression is kept, never []
        None,
        "op.create_index('ix_persons_lower_email', 'persons', [sa.text('lower(email)')], unique=True)",
        'op.drop_index("ix_persons_lower_email", table_name="persons")',
        "with op.get_context().autocommit_block():\n"
        "    op.execute(\"SET lock_timeout = '5s'\")\n"
        "    op.drop_index('ix_persons_lower_email', table_name='persons', postgresql_concurrently=True, "
        "if_exists=True)\n"
        "    op.create_index('ix_persons_lower_email', 'persons', [sa.text('lower(email)')], unique=True, "
        "postgresql_concurrently=True)\n"
        '    op.execute("RESET lock_timeout")',
        'op.drop_index("ix_persons_lower_email", table_name="persons")',
        {"create-index-non-concurrent"},
    ),
    "drop-index-concurrently": (
        None,
        'op.drop_index("ix_assignments_person_id", table_name="assignments")',
        'op.create_index("ix_assignments_person_id", "assignments", ["person_id"])',
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index('ix_assignments_person_id', table_name='assignments', postgresql_concurrently=True, "
        "if_exists=True)",
        'op.create_index("ix_assignments_person_id", "assignments", ["person_id"])',
        {"drop-index-non-concurrent"},
    ),
    "fk-not-valid": (
        None,
        'op.create_foreign_key("fk_assignments_person", "assignments", "persons", ["person_id"], ["id"], '
        'ondelete="RESTRICT")',
        'op.drop_constraint("fk_assignments_person", "assignments", type_="foreignkey")',
        LOCK + "\nop.create_foreign_key('fk_assignments_person', 'assignments', 'persons', ['person_id'], ['id'], "
        "ondelete='RESTRICT', postgresql_not_valid=True)",
        'op.drop_constraint("fk_assignments_person", "assignments", type_="foreignkey")',
        {"fk-not-valid-missing", "missing-lock-timeout"},
    ),
    "unnamed-check-not-valid": (
        None,
        'op.create_check_constraint(None, "acgme_compliance", "duty_hours >= 0")',
        'op.drop_constraint(op.f("ck_acgme_compliance_duty_hours"), "acgme_compliance", type_="check")',
        LOCK
        + "\nop.create_check_constraint(op.f('ck_acgme_compliance_duty_hours'), 'acgme_compliance', 'duty_hours >= 0', "
        "postgresql_not_valid=True)",
        'op.drop_constraint(op.f("ck_acgme_compliance_duty_hours"), "acgme_compliance", type_="check")',
        {"unnamed-constraint", "fk-not-valid-missing", "missing-lock-timeout"},
    ),
    "varchar-to-native-enum": (  # the agent run's persons.role: type, USING and the drop in downgrade()
        None,
        'op.alter_column("persons", "role",\n'
        "    existing_type=sa.VARCHAR(length=20),\n"
        '    type_=sa.Enum("resident", "faculty", name="person_role"),\n'
        "    existing_nullable=False)",
        'op.alter_column("persons", "role",\n'
        '    existing_type=sa.Enum("resident", "faculty", name="person_role"),\n'
        "    type_=sa.VARCHAR(length=20),\n"
        "    existing_nullable=False)",
        LOCK + "\nsa.Enum('resident', 'faculty', name='person_role').create(op.get_bind(), checkfirst=True)"
        '\nop.alter_column("persons", "role",\n'
        "    existing_type=sa.VARCHAR(length=20),\n"
        '    type_=sa.Enum("resident", "faculty", name="person_role"),\n'
        "    existing_nullable=False,\n"
        "    postgresql_using='role::person_role')",
        'op.alter_column("persons", "role",\n'
        '    existing_type=sa.Enum("resident", "faculty", name="person_role"),\n'
        "    type_=sa.VARCHAR(length=20),\n"
        "    existing_nullable=False)\n"
        "op.execute('DROP TYPE IF EXISTS person_role')",
        {"enum-type-missing", "cast-needs-using", "enum-type-not-dropped", "missing-lock-timeout"},
    ),
    "empty-downgrade": (
        None,
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        "pass",
        LOCK + '\nop.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        "op.drop_column('persons', 'nick')",
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
    assert result.autofix is not None and result.autofix.written, result.autofix
    assert {a.rule for a in result.autofix.applied} == cleared
    assert not {f.rule for f in result.findings} & cleared
    assert _body(path, "upgrade") == fixed_up
    assert _body(path, "downgrade") == fixed_down
    validates = list(path.parent.glob("*_validate_*.py"))
    if "fk-not-valid-missing" in cleared:  # the VALIDATE in a new revision after the fixed one, never beside it
        (validate,) = validates
        assert "VALIDATE CONSTRAINT" in _body(validate, "upgrade") and "VALIDATE" not in path.read_text()
        assert f"down_revision = {path.name[:12]!r}" in validate.read_text()
        assert str(validate.relative_to(example_project)) in result.autofix.files_to_commit
    else:
        assert validates == []


@pytest.mark.parametrize("per_migration", [False, True])
def test_the_validate_note_follows_how_env_py_deploys(per_migration, example_project, pg_url):
    """NOT VALID then VALIDATE saves lock time only when the VALIDATE commits on its own (issue 18)."""
    if per_migration:
        env = example_project / "migrations" / "env.py"
        env.write_text(
            env.read_text().replace("connection=connection,", "connection=connection, transaction_per_migration=True,")
        )
    result, path = _run_case("fk-not-valid", example_project, pg_url)
    assert result.autofix is not None and result.autofix.written, result.model_dump_json(indent=1)
    (validate,) = path.parent.glob("*_validate_*.py")
    notes = {a.rule: a.note for a in result.autofix.applied}
    if per_migration:
        assert notes["fk-not-valid-missing"] == (
            f"VALIDATE is in new revision {validate.name[:12]}: env.py commits each revision on its own, so it "
            "scans without blocking writes."
        )
    else:
        assert notes["fk-not-valid-missing"].startswith(
            f"VALIDATE is in new revision {validate.name[:12]}, but env.py runs all pending revisions in one "
            "transaction: it saves lock time only when deployed on its own (alembic upgrade c3c3c3c30003 first"
        )
    assert result.verdict == "proceed", [(f.rule, f.message) for f in result.findings]


def test_boolean_with_model_default_goes_from_fix_to_proceed_in_one_call(example_project, pg_url):
    """The issue's done-when: generate, one apply_fixes call, then a rehearsal on the target's rows."""
    from alembic_mcp.tools.generate.tool import generate_migration
    from alembic_mcp.tools.roundtrip.tool import test_roundtrip

    _upgrade_target(example_project, pg_url)
    _fill_persons(pg_url)
    _add_model_column(example_project, "active = Column(Boolean, default=False, nullable=False)")
    project = load_project(example_project, {"database_url": pg_url})
    generated = anyio.run(lambda: generate_migration(project, "add active", rev_id="c3c3c3c30003"))
    assert generated.verdict == "fix" and "add-column-required" in {f.rule for f in generated.findings}

    fixed = _fix(example_project, pg_url)
    assert fixed.verdict == "proceed", fixed.model_dump_json(indent=1)
    path = next((example_project / "migrations" / "versions").glob("c3c3c3c30003_*.py"))
    assert fixed.autofix is not None and fixed.autofix.files_to_commit == [str(path.relative_to(example_project))]
    assert (
        _body(path, "upgrade")
        == CASES["backfill-model-default"][3].replace(
            LOCK, '"""Upgrade schema."""\n# ### commands auto generated by Alembic - please adjust! ###\n' + LOCK
        )
        + "\n# ### end Alembic commands ###"
    )
    assert all(a.diff.startswith("--- a/") for a in fixed.autofix.applied)

    rehearsal = anyio.run(lambda: test_roundtrip(project, from_revision=HEAD, data_from="target"))
    assert rehearsal.verdict == "proceed", rehearsal.model_dump_json(indent=1)
    assert rehearsal.seed is not None and rehearsal.seed.data_from == "target"
    # nothing of the target's rows is lost; only the new column goes with the downgrade, as it should
    assert [(loss.kind, loss.column) for loss in rehearsal.data_loss] == [("dropped-by-downgrade", "active")]


SQLITE_BACKFILL = (
    "op.add_column('persons', sa.Column('active', sa.Boolean(), nullable=True))\n"
    "op.execute(sa.text('UPDATE persons SET active = :value WHERE active IS NULL').bindparams(value=False))\n"
    "with op.batch_alter_table('persons') as batch_op:\n"
    "    batch_op.alter_column('active', existing_type=sa.Boolean(), nullable=False)"
)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_backfill_on_sqlite_and_mariadb(request, backend, example_project):
    url = request.getfixturevalue(f"{backend}_url")
    result, path = _run_case("backfill-model-default", example_project, url)
    assert result.autofix is not None and result.autofix.written, result.model_dump_json(indent=1)
    assert "add-column-required" not in {f.rule for f in result.findings}
    expected = (
        SQLITE_BACKFILL
        if backend == "sqlite"
        else CASES["backfill-model-default"][3].removeprefix(LOCK + "\n")  # lock_timeout is PostgreSQL's rule
    )
    assert _body(path, "upgrade") == expected


def test_empty_downgrade_on_sqlite(example_project, sqlite_url):
    result, path = _run_case("empty-downgrade", example_project, sqlite_url)
    assert result.autofix is not None and [a.rule for a in result.autofix.applied] == ["empty-downgrade"]
    assert _body(path, "downgrade") == "op.drop_column('persons', 'nick')"
    assert result.verdict == "proceed", result.model_dump_json(indent=1)


def test_an_escalation_stays_and_its_finding_is_not_fixed(example_project, sqlite_url):
    """A fix never makes an escalation disappear: the drop of a filled column still needs a human."""
    _upgrade_target(example_project, sqlite_url)
    _fill_persons(sqlite_url)
    write_revision(example_project, "c3c3c3c30003", HEAD, 'op.drop_column("persons", "name")', "pass")
    result = _fix(example_project, sqlite_url)
    assert result.verdict == "escalate" and {e.rule for e in result.escalations} >= {"drop-column-with-data"}
    assert result.autofix is not None and not result.autofix.applied and not result.autofix.written
    # the inverse of dropping a filled column is not a simple operation: the finding stays advice
    assert [(n.rule, n.reason) for n in result.autofix.not_applied] == [
        ("empty-downgrade", "its fix is advice in prose, not code")
    ]


def test_fixes_that_would_hide_an_escalation_are_undone(example_project, sqlite_url):
    """The second review lost an escalation (here: a reviewer that forgets them): every file goes back."""
    from alembic_mcp.tools.review.autofix.apply import apply_fixes

    _upgrade_target(example_project, sqlite_url)
    _fill_persons(sqlite_url)
    _add_model_column(example_project, "active = Column(Boolean, default=False, nullable=False)")
    path = write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        CASES["backfill-model-default"][1] + '\nop.drop_column("persons", "email")',
        'op.drop_column("persons", "active")',
    )
    before = path.read_text()
    project = load_project(example_project, {"database_url": sqlite_url})
    first = anyio.run(lambda: review_migration(project))
    assert first.escalations

    async def forgetful_review():
        return (await review_migration(project)).model_copy(update={"escalations": [], "verdict": "proceed"})

    result = anyio.run(lambda: apply_fixes(project, first, forgetful_review, rehearse_changed))
    assert result.autofix is not None and result.autofix.restored and not result.autofix.applied
    assert result.autofix.undone and all(
        "hide escalation(s) drop-column-with-data" in u.reason for u in result.autofix.undone
    )
    assert path.read_text() == before and result.verdict == "escalate"


def test_a_failure_the_fixes_did_not_cause_keeps_them(example_project, pg_url):
    """A downgrade that fails with and without the fixes (issue 18: one unfixable finding undid every fix):
    the lock_timeout fix stays, reviewed, and the report says the rehearsal could not prove it."""
    _upgrade_target(example_project, pg_url)
    _fill(pg_url)
    path = write_revision(example_project, "c3c3c3c30003", HEAD, CASES["lock-timeout"][1], 'op.execute("SELECT 1/0")')
    result = _fix(example_project, pg_url)
    report = result.autofix
    assert report is not None and report.written and not report.restored, result.model_dump_json(indent=1)
    assert {(a.rule, a.checked) for a in report.applied} == {
        ("missing-lock-timeout", "reviewed; the rehearsal fails (see rehearsal)"),
        ("downgrade-not-inverse", "reviewed; the rehearsal fails (see rehearsal)"),
    }
    assert report.rehearsal.startswith("the rehearsal fails the same way without the fixes (")
    assert "not proven by this rehearsal" in report.rehearsal and report.undone == []
    assert report.files_to_commit == [str(path.relative_to(example_project))]
    assert _body(path, "upgrade") == CASES["lock-timeout"][3]
    assert _body(path, "downgrade") == "op.drop_column('persons', 'nick')\nop.execute(\"SELECT 1/0\")"
    assert "autofix-failed" not in {f.rule for f in result.findings}
    # the file still fails to run: that is said first, not left to the rehearsal note (agent run, enum change)
    failing = [f for f in result.findings if f.rule == "migration-fails-rehearsal"]
    assert failing and failing[0].severity == "error" and result.verdict != "proceed"
    assert result.next_steps[0].startswith("First make the migration run: ")


def _refusing(marker: str):
    """The real rehearsal, failing besides whenever a migration file holds ``marker`` (a fix the data breaks)."""
    from alembic_mcp.tools.review.autofix.apply import Rehearsal

    async def rehearse(project, revision, from_revision):
        found = await rehearse_changed(project, revision, from_revision)
        versions = project.root / "migrations" / "versions"
        if any(marker in f.read_text() for f in versions.glob("*.py")):
            return Rehearsal(f"refused: {marker}", found.steps | {f"{revision} upgrade refused"})
        return found

    return rehearse


def test_only_the_fix_that_fails_its_rehearsal_is_undone(example_project, pg_url):
    from alembic_mcp.tools.review.autofix.apply import apply_fixes

    _upgrade_target(example_project, pg_url)
    _fill(pg_url)
    path = write_revision(
        example_project, "c3c3c3c30003", HEAD, CASES["index-concurrently"][1], CASES["index-concurrently"][2]
    )
    project = load_project(example_project, {"database_url": pg_url})
    first = anyio.run(lambda: review_migration(project))
    again = lambda: review_migration(project)  # noqa: E731
    result = anyio.run(lambda: apply_fixes(project, first, again, _refusing("postgresql_concurrently")))
    report = result.autofix
    assert report is not None and report.written and not report.restored, result.model_dump_json(indent=1)
    assert [a.rule for a in report.applied] == ["missing-lock-timeout"]
    assert [(u.rule, u.line) for u in report.undone] == [("create-index-non-concurrent", 15)]
    assert report.undone[0].reason.startswith("the rehearsal failed with it: refused: postgresql_concurrently")
    assert _body(path, "upgrade") == LOCK + "\n" + CASES["index-concurrently"][1]
    assert report.rehearsal == "the kept fixes rehearsed cleanly"
    undone = [f for f in result.findings if f.rule == "autofix-failed"]
    assert len(undone) == 1 and undone[0].message.startswith("1 fix(es) undone, the others kept: create-index")
    assert "create-index-non-concurrent" in {f.rule for f in result.findings} and result.verdict == "fix"
    # agent run 2: the finding and the next steps say the tool's own fix failed, and never offer its code again
    index = next(f for f in result.findings if f.rule == "create-index-non-concurrent")
    assert "(autofix: its fix failed.)" in index.message and "op.create_index" not in (index.fix or "")
    assert index.fix.startswith("The tool's own fix for this finding failed its checks and was undone (")
    step = next(s for s in result.next_steps if s.startswith("[create-index-non-concurrent]"))
    assert "The tool's own fix for this finding failed" in step and "apply the fix" not in step
    assert not any("op.create_index" in s or "apply_fixes=true" in s for s in result.next_steps)


def test_an_interrupted_check_puts_every_file_back(example_project, sqlite_url):
    """Whatever stops the checks (here the rehearsal raises, as a cancelled call does) leaves the files as
    they were: no unchecked fix stays."""
    from alembic_mcp.tools.review.autofix.apply import apply_fixes

    _upgrade_target(example_project, sqlite_url)
    path = write_revision(example_project, "c3c3c3c30003", HEAD, CASES["empty-downgrade"][1], "pass")
    before = path.read_text()
    project = load_project(example_project, {"database_url": sqlite_url})
    first = anyio.run(lambda: review_migration(project))

    async def interrupted(project, revision, from_revision):
        assert path.read_text() != before  # the fix is written while it is checked
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        anyio.run(lambda: apply_fixes(project, first, lambda: review_migration(project), interrupted))
    assert path.read_text() == before
    assert not list(path.parent.glob(".*.tmp"))


def test_diff_only_writes_nothing_and_read_only_refuses(example_project, sqlite_url):
    from alembic_mcp.tools.core.access import ReadOnlyRefusal

    _upgrade_target(example_project, sqlite_url)
    _fill_persons(sqlite_url)
    path = write_revision(example_project, "c3c3c3c30003", HEAD, CASES["empty-downgrade"][1], "pass")
    before = path.read_text()
    project = load_project(example_project, {"database_url": sqlite_url})
    shown = anyio.run(lambda: review_migration(project, apply_fixes=True, diff_only=True))
    assert shown.autofix is not None and not shown.autofix.written and path.read_text() == before
    assert "+    op.drop_column('persons', 'nick')" in shown.autofix.applied[0].diff
    read_only = load_project(example_project, {"database_url": sqlite_url, "read_only": True})
    with pytest.raises(ReadOnlyRefusal, match="read-only"):
        anyio.run(lambda: review_migration(read_only, apply_fixes=True, rehearse=rehearse_changed))
    assert path.read_text() == before


def test_fix_source_keeps_advice_for_a_human_choice():
    """No model default: the backfill value is a human's choice, the finding stays advice and says why."""
    from alembic_mcp.tools.review.autofix.plan import AUTO_FIXABLE, FixContext, fix_source
    from alembic_mcp.tools.review.rules.registry import case_source

    source = case_source('op.add_column("persons", sa.Column("nick", sa.String(20), nullable=False))', "pass")
    fixed = fix_source(source, FixContext("m.py", "postgresql", frozenset(AUTO_FIXABLE), {}))
    assert (
        "add-column-required",
        9,
        "the models give no constant default for the column: the backfill value is a human's choice",
    ) in fixed.advice
    assert "nullable=False))" in fixed.after  # the column itself is left as it was


def test_generate_migration_applies_the_fixes_in_the_same_call(example_project, pg_url):
    from alembic_mcp.tools.generate.tool import generate_migration

    _upgrade_target(example_project, pg_url)
    _fill_persons(pg_url)
    _add_model_column(example_project, "active = Column(Boolean, default=False, nullable=False)")
    project = load_project(example_project, {"database_url": pg_url})
    result = anyio.run(
        lambda: generate_migration(
            project, "add active", rev_id="c3c3c3c30003", apply_fixes=True, rehearse=rehearse_changed
        )
    )
    assert result.verdict == "proceed" and result.review_verdict == "proceed", result.model_dump_json(indent=1)
    assert result.autofix is not None and {a.rule for a in result.autofix.applied} == {
        "add-column-required",
        "missing-lock-timeout",
    }
    assert "bindparams(value=False)" in (result.upgrade_source or "")
    assert result.file in result.files_to_commit


def test_cli_diff_needs_fix(example_project, capsys):
    from alembic_mcp.server.cli import main

    code = main(["review-migration", "--project", str(example_project), "--diff"])
    assert code != 0 and "--diff and --split shape what --fix changes" in capsys.readouterr().err


def test_split_writes_three_revisions(example_project, pg_url):
    """split=true: the nullable add stays in the file, the backfill and the NOT NULL step are new revisions."""
    _upgrade_target(example_project, pg_url)
    _fill_persons(pg_url)
    _add_model_column(example_project, "active = Column(Boolean, default=False, nullable=False)")
    path = write_revision(example_project, "c3c3c3c30003", HEAD, CASES["backfill-model-default"][1], "pass")
    path.write_text(path.read_text().replace("    pass\n", '    op.drop_column("persons", "active")\n'))
    result = _fix(example_project, pg_url, split=True)
    assert result.autofix is not None and result.autofix.written, result.model_dump_json(indent=1)
    versions = example_project / "migrations" / "versions"
    backfill = next(versions.glob("*_backfill_persons_active.py"))
    enforce = next(versions.glob("*_persons_active_not_null.py"))
    assert sorted(result.autofix.files_to_commit) == sorted(
        str(p.relative_to(example_project)) for p in (path, backfill, enforce)
    )
    assert (
        _body(path, "upgrade") == LOCK + "\nop.add_column('persons', sa.Column('active', sa.Boolean(), nullable=True))"
    )
    assert _body(backfill, "upgrade") == (
        "op.execute(sa.text('UPDATE persons SET active = :value WHERE active IS NULL').bindparams(value=False))"
    )
    assert _body(backfill, "downgrade") == "pass"
    assert _body(enforce, "upgrade") == (
        LOCK + "\nop.create_check_constraint(op.f('ck_persons_active_not_null'), 'persons', 'active IS NOT NULL', "
        "postgresql_not_valid=True)"
        '\nop.execute("ALTER TABLE persons VALIDATE CONSTRAINT ck_persons_active_not_null")'
        "\nop.alter_column('persons', 'active', existing_type=sa.Boolean(), nullable=False)"
        "\nop.drop_constraint(op.f('ck_persons_active_not_null'), 'persons', type_='check')"
    )
    assert _body(enforce, "downgrade") == (
        "op.alter_column('persons', 'active', existing_type=sa.Boolean(), nullable=True)"
    )
    assert "down_revision = 'c3c3c3c30003'" in backfill.read_text()
    assert result.verdict == "proceed", [(f.rule, f.severity, f.file) for f in result.findings]


def test_generate_with_fixes_lists_the_validate_revision_it_adds(example_project, pg_url):
    """A VALIDATE autofix moves to a new revision is a file to commit with the migration (issue 18)."""
    from alembic_mcp.tools.generate.tool import generate_migration

    _upgrade_target(example_project, pg_url)
    _fill_persons(pg_url)
    _add_model_column(example_project, 'mentor_id = Column(Integer, ForeignKey("persons.id"), nullable=True)')
    project = load_project(example_project, {"database_url": pg_url})
    result = anyio.run(
        lambda: generate_migration(
            project, "mentor", rev_id="c3c3c3c30003", apply_fixes=True, rehearse=rehearse_changed
        )
    )
    assert result.autofix is not None and result.autofix.written, result.model_dump_json(indent=1)
    (validate,) = (example_project / "migrations" / "versions").glob("*_validate_*.py")
    assert str(validate.relative_to(example_project)) in result.files_to_commit
    assert set(result.autofix.files_to_commit) <= set(result.files_to_commit)
    assert not any("apply_fixes=true" in step for step in result.next_steps)


def test_an_expression_index_moves_to_its_own_revision_with_its_expression(example_project, pg_url):
    """Agent run 2: the autogenerated expression index beside other work; the new revision builds lower(email)
    (never []), after dropping a leftover, and the rehearsal of the fixed files passes."""
    _upgrade_target(example_project, pg_url)
    _fill(pg_url)
    upgrade = (
        'op.add_column("persons", sa.Column("email_verified", sa.Boolean(), nullable=True))\n'
        "op.create_index('ix_persons_lower_email', 'persons', [sa.literal_column('lower(email)')], unique=True)"
    )
    downgrade = (
        'op.drop_index("ix_persons_lower_email", table_name="persons")\nop.drop_column("persons", "email_verified")'
    )
    path = write_revision(example_project, "c3c3c3c30003", HEAD, upgrade, downgrade, message="verified")
    result = _fix(example_project, pg_url)
    assert result.autofix is not None and result.autofix.written, result.model_dump_json(indent=1)
    assert "create-index-non-concurrent" in {a.rule for a in result.autofix.applied}
    (index,) = path.parent.glob("*_index_ix_persons_lower_email.py")
    built = _body(index, "upgrade")
    assert "[sa.literal_column('lower(email)')], unique=True, postgresql_concurrently=True)" in built
    assert "if_not_exists" not in built and "[]" not in built
    assert built.index("if_exists=True") < built.index("op.create_index(")
    assert "create_index" not in path.read_text()
    assert not {"downgrade-not-inverse", "concurrent-if-not-exists"} & {f.rule for f in result.findings}


def test_the_index_revision_comes_before_the_validate_revision(example_project, pg_url):
    """Under a one-transaction deploy the index revision's autocommit block commits the NOT VALID foreign key
    before the VALIDATE revision runs, so neither the rehearsal nor the note warns about the tool's own output."""
    _upgrade_target(example_project, pg_url)
    _fill(pg_url)
    upgrade = (
        'op.add_column("assignments", sa.Column("reviewer_id", sa.Integer(), nullable=True))\n'
        'op.create_foreign_key("fk_assignments_reviewer", "assignments", "persons", ["reviewer_id"], ["id"])\n'
        'op.create_index("ix_assignments_reviewer_id", "assignments", ["reviewer_id"])'
    )
    downgrade = (
        'op.drop_index("ix_assignments_reviewer_id", table_name="assignments")\n'
        'op.drop_constraint("fk_assignments_reviewer", "assignments", type_="foreignkey")\n'
        'op.drop_column("assignments", "reviewer_id")'
    )
    path = write_revision(example_project, "c3c3c3c30003", HEAD, upgrade, downgrade, message="reviewer")
    result = _fix(example_project, pg_url)
    assert result.autofix is not None and result.autofix.written, result.model_dump_json(indent=1)
    (index,) = path.parent.glob("*_index_ix_assignments_reviewer_id.py")
    (validate,) = path.parent.glob("*_validate_*.py")
    assert "down_revision = 'c3c3c3c30003'" in index.read_text()
    assert f"down_revision = {index.name[:12]!r}" in validate.read_text()
    notes = {a.rule: a.note for a in result.autofix.applied}
    assert f"after index revision {index.name[:12]}" in notes["fk-not-valid-missing"]
    rules = [f.rule for f in result.findings]
    assert "deploy-validate-same-transaction" not in rules, [(f.rule, f.message) for f in result.findings]


def test_a_rehearsal_that_could_not_run_is_not_a_failing_migration(example_project, pg_url):
    """Agent run 4: on a production target with no scratch_url the rehearsal refuses to run; autofix said
    'the migration still fails its rehearsal' (an error) when nothing had run."""
    _upgrade_target(example_project, pg_url, HEAD)
    path = write_revision(example_project, "c3c3c3c30003", HEAD, *CASES["lock-timeout"][1:3], message="lock-timeout")
    loaded = load_project(example_project, {"database_url": pg_url, "environment": "production"})
    result = anyio.run(lambda: review_migration(loaded, apply_fixes=True, rehearse=rehearse_changed))
    assert result.autofix is not None and result.autofix.written
    assert result.autofix.rehearsal.startswith("not run: The target is classified production and no scratch_url")
    applied = [(a.rule, a.checked) for a in result.autofix.applied]
    assert applied == [("missing-lock-timeout", "reviewed, not rehearsed")]
    assert "migration-fails-rehearsal" not in {f.rule for f in result.findings}
    assert _body(path, "upgrade") == CASES["lock-timeout"][3]
