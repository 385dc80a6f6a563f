"""The review cannot be talked or styled out of an escalation (issue 11, items 3 and 4), on real databases:
a suppression comment or a "documented" data loss leaves the escalation in place, and operations hidden
behind getattr, glued SQL, helpers or own connections escalate; every statement says which layer read it.
"""

from __future__ import annotations

import pytest
from conftest import write_revision
from test_review_migration import HEAD, execute, review, rules, upgrade_head

FILLED = (
    "INSERT INTO persons (id, name, email, role, pgy_level) "
    "SELECT g, 'n' || g, 'p' || g || '@x', 'resident', 1 + g % 5 FROM generate_series(1, 5000) g"
)
HIDDEN_DROP = 'getattr(op, "exe" + "cute")("DR" + "OP TAB" + "LE assignments")'
FAILS_OFFLINE = 'n = op.get_bind().execute(sa.text("SELECT count(*) FROM persons")).scalar()\n'  # None.scalar()
RENDERS = "op.get_bind().execute(sa.text(\"SET LOCAL lock_timeout = '5s'\"))\n"
ASSIGNED = (  # one assignment: the table a hidden DROP TABLE empties holds a row
    "INSERT INTO persons (id, name, email, role) VALUES (1, 'Ann', 'a@x', 'resident')",
    "INSERT INTO rotations (id, name) VALUES (1, 'icu')",
    "INSERT INTO assignments (person_id, rotation_id, starts_on, ends_on) VALUES (1, 1, '2026-01-01', '2026-02-01')",
)


@pytest.mark.postgres
def test_suppressed_drop_of_a_filled_column_still_escalates(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, FILLED)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="# alembic-mcp: ignore[drop-column] reason: nobody reads it any more\n"
        'op.drop_column("persons", "pgy_level")',
        downgrade='op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
        message="drop pgy",
    )
    result = review(example_project, pg_url)
    assert result.verdict == "escalate" and result.escalate_to_human
    escalation = next(e for e in result.escalations if e.rule == "drop-column-with-data")
    assert escalation.evidence["non_null_values"] == 5000
    [suppressed] = escalation.evidence["suppressed_findings"]
    assert suppressed["rule"] == "drop-column" and suppressed["suppression"]["reason"] == "nobody reads it any more"
    assert "drop-column" not in rules(result)  # the finding itself is silenced, and listed as such
    assert [(s.rule, s.silenced) for s in result.suppressions] == [("drop-column", 1)]


@pytest.mark.postgres
def test_a_comment_does_not_clear_the_rollback_escalation(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, FILLED)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        'op.add_column("persons", sa.Column("display", sa.String(120), nullable=True))\n'
        'op.execute("UPDATE persons SET display = name WHERE id IN (SELECT id FROM persons LIMIT 100)")',
        downgrade='# data loss: none intended\nop.drop_column("persons", "display")',
        message="display",
    )
    result = review(example_project, pg_url)
    rollback = next(e for e in result.escalations if e.rule == "unclear-rollback")
    assert rollback.evidence["documented"] == "# data loss: none intended"
    assert result.verdict == "escalate"


@pytest.mark.postgres
@pytest.mark.parametrize("first", [FAILS_OFFLINE, RENDERS], ids=["render-fails", "render-succeeds"])
def test_obfuscated_drop_escalates_whether_or_not_the_render_reaches_it(example_project, pg_url, first):
    upgrade_head(example_project, pg_url)
    execute(pg_url, *ASSIGNED)
    write_revision(example_project, "c3c3c3c30003", HEAD, upgrade=first + HIDDEN_DROP, message="sneaky")
    result = review(example_project, pg_url, detail="full")  # every statement's coverage, read or not
    assert result.verdict == "escalate"
    assert "uninspectable-sql" in {e.rule for e in result.escalations}
    assert "dynamic-op-call" in rules(result)
    [revision] = result.revisions
    by_line = {c.line: c for c in revision.coverage if c.function == "upgrade"}
    hidden = next(c for c in by_line.values() if "getattr" in c.statement)
    if first == FAILS_OFFLINE:  # the render stopped before it and the AST cannot read it: no layer did
        assert hidden.layers == [] and by_line[min(by_line)].layers == ["ast"]
        assert any(f.rule == "offline-unsafe" for f in revision.findings)
    else:  # the rendered DROP TABLE, which layer 1 could not see, is judged with the row count: data loss
        assert hidden.layers == ["sql"]
        drop = next(e for e in result.escalations if e.rule == "drop-table-with-data")
        assert drop.evidence["rows"] == 1


@pytest.mark.postgres
def test_helper_drop_is_caught_by_the_rendered_sql_on_postgresql(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, *ASSIGNED)
    path = write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"SET LOCAL lock_timeout = '5s'\")\n_drop()",
        downgrade="pass",
        message="helper",
    )
    path.write_text(path.read_text() + '\n\ndef _drop():\n    op.drop_table("assignments")\n')
    result = review(example_project, pg_url, detail="full")
    [revision] = result.revisions
    assert "unread-statement" not in rules(result)  # layer 1 reads the helper's op.drop_table at its call
    called = next(c for c in revision.coverage if c.function == "upgrade" and "_drop()" in c.statement)
    assert "ast" in called.layers
    drop = next(e for e in result.escalations if e.rule == "drop-table-with-data")
    assert drop.evidence["rows"] == 1  # judged with the target's row count, like op.drop_table in upgrade()


def test_helper_is_unread_without_the_sql_layer(example_project, sqlite_url):
    """A helper whose operation takes a value of its own (a name it builds) cannot be read at the call."""
    upgrade_head(example_project, sqlite_url)
    path = write_revision(example_project, "c3c3c3c30003", HEAD, upgrade="_drop()", downgrade="pass", message="h")
    helper = '\n\ndef _drop():\n    name = "assign" + "ments"\n    op.drop_table(name)\n'
    path.write_text(path.read_text() + helper)
    result = review(example_project, sqlite_url)
    assert "unread-statement" in rules(result)
    assert result.verdict == "escalate" and "uninspectable-sql" in {e.rule for e in result.escalations}


def test_helper_drop_is_read_at_its_call_on_sqlite(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    path = write_revision(example_project, "c3c3c3c30003", HEAD, upgrade="_drop()", downgrade="pass", message="h")
    path.write_text(path.read_text() + '\n\ndef _drop():\n    op.drop_table("assignments")\n')
    result = review(example_project, sqlite_url)
    assert "unread-statement" not in rules(result)
    drop = rules(result)["drop-table"]
    assert drop.table == "assignments" and "_drop()" in path.read_text().splitlines()[drop.line - 1]
    assert result.verdict == "escalate"  # downgrade() does not create it again


def test_migration_hunting_for_the_url_escalates(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='engine = sa.create_engine(os.environ["DATABASE_URL"])\n'
        "with engine.begin() as conn:\n"
        '    conn.execute(sa.text("DELETE FROM persons"))',
        downgrade="pass",
        message="hunt",
        extra_header="import os\n",
    )
    result = review(example_project, sqlite_url)
    assert "own-connection" in {e.rule for e in result.escalations}
    assert result.verdict == "escalate"


# ------------------------------------------------------- hostile review C2: data loss reviewed as proceed

NOTES = (
    "CREATE TABLE legacy_notes (id serial primary key, body text)",
    "INSERT INTO legacy_notes (body) SELECT 'note ' || g FROM generate_series(1, 500) g",
)
RESTORE_NOTES = "op.execute('CREATE TABLE IF NOT EXISTS legacy_notes (id serial primary key, body text)')"
HELPER = (
    '"""A project helper that acts only online: the offline render shows nothing."""\n'
    "from alembic import op\n\n\n"
    "def run():\n"
    "    if not op.get_context().as_sql:\n"
    '        op.execute("DROP TABLE legacy_notes")\n'
)
# attack name -> (extra header, upgrade, downgrade, an escalation the review must raise); each of these
# destroyed the data of a real database in the hostile review while review_migration said proceed.
C2_ATTACKS = {
    "do-block": (
        "",
        "op.execute(\"DO $$ BEGIN EXECUTE 'DROP TABLE legacy_notes'; END $$\")",
        RESTORE_NOTES,
        "uninspectable-sql",
    ),
    "set-schema-then-drop-schema": (
        "",
        'op.execute("CREATE SCHEMA IF NOT EXISTS trash")\n'
        'op.execute("ALTER TABLE legacy_notes SET SCHEMA trash")\n'
        'op.execute("DROP SCHEMA trash CASCADE")',
        RESTORE_NOTES,
        "drop-table-with-data",
    ),
    "module-level-try": (
        'try:\n    op.drop_table("legacy_notes")\nexcept Exception:\n    pass\n',
        "pass",
        RESTORE_NOTES,
        "uninspectable-sql",
    ),
    "online-only-helper": ("import mighelp\n", "mighelp.run()", RESTORE_NOTES, "uninspectable-sql"),
    "update-set-null": (
        "",
        'op.execute("UPDATE persons SET pgy_level = NULL")',
        'op.execute("SELECT 1")',
        "destructive-data-change",
    ),
    "delete-all": ("", 'op.execute("DELETE FROM legacy_notes")', 'op.execute("SELECT 1")', "destructive-data-change"),
    "sa-delete": ("", 'op.execute(sa.delete(sa.table("legacy_notes")))', RESTORE_NOTES, "destructive-data-change"),
    "aliased-create-engine": (
        "from sqlalchemy import create_engine as mk\n",
        'e = mk(op.get_bind().engine.url.set(database="hostile_target"))\n'
        'with e.begin() as c:\n    c.execute(sa.text("UPDATE persons SET pgy_level = NULL"))',
        RESTORE_NOTES,
        "own-connection",
    ),
}


@pytest.mark.postgres
@pytest.mark.parametrize("attack", sorted(C2_ATTACKS))
def test_hostile_data_loss_escalates_on_postgresql(example_project, pg_url, attack):
    header, up, down, expected = C2_ATTACKS[attack]
    upgrade_head(example_project, pg_url)
    execute(pg_url, FILLED, *NOTES)
    (example_project / "mighelp.py").write_text(HELPER)
    write_revision(
        example_project, "c3c3c3c30003", HEAD, upgrade=up, downgrade=down, message=attack, extra_header=header
    )
    result = review(example_project, pg_url)
    assert result.verdict == "escalate" and result.escalate_to_human
    assert expected in {e.rule for e in result.escalations}, [e.rule for e in result.escalations]


@pytest.mark.postgres
def test_online_only_helper_is_not_covered_by_the_offline_render(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, *NOTES)
    (example_project / "mighelp.py").write_text(HELPER)
    write_revision(
        example_project, "c3c3c3c30003", HEAD, upgrade="mighelp.run()", message="h", extra_header="import mighelp\n"
    )
    result = review(example_project, pg_url)
    assert "unread-statement" in rules(result)
    [revision] = result.revisions
    [call] = [c for c in revision.coverage if c.function == "upgrade"]
    assert call.layers == []  # neither the AST nor the (offline) render read what it does online


@pytest.mark.postgres
def test_wiping_a_filled_column_names_the_values_lost(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, FILLED)
    write_revision(
        example_project, "c3c3c3c30003", HEAD, upgrade='op.execute("UPDATE persons SET pgy_level = NULL")', message="w"
    )
    result = review(example_project, pg_url)
    escalation = next(e for e in result.escalations if e.rule == "destructive-data-change")
    assert escalation.evidence["non_null_values"] == 5000 and "5,000" in escalation.reason


@pytest.mark.postgres
def test_data_changes_that_keep_the_data_do_not_escalate(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, *NOTES)  # persons is empty: wiping its pgy_level loses nothing
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.execute("UPDATE persons SET pgy_level = NULL")\n'
        "op.execute(\"UPDATE legacy_notes SET body = 'x' WHERE id IN "
        '(SELECT id FROM legacy_notes WHERE body IS NULL LIMIT 100)")',
        downgrade='op.execute("SELECT 1")',
        message="keep",
    )
    result = review(example_project, pg_url)
    assert "destructive-data-change" not in {e.rule for e in result.escalations}
    wipe = rules(result).get("destructive-data-change")
    assert wipe is None or wipe.severity == "info"  # persons.pgy_level holds no values
    assert result.verdict == "proceed"


@pytest.mark.postgres
def test_a_message_on_the_raise_in_downgrade_still_escalates(example_project, pg_url):
    """Hostile review H4: the agent writes the message, so the message must not clear unclear-rollback."""
    upgrade_head(example_project, pg_url)
    execute(pg_url, FILLED)
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.add_column("persons", sa.Column("nick", sa.Text()))',
        downgrade='raise NotImplementedError("irreversible: approved")',
        message="h4",
    )
    result = review(example_project, pg_url)
    assert result.verdict == "escalate"
    assert "unclear-rollback" in {e.rule for e in result.escalations}
