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
    else:  # squawk read the rendered DROP TABLE, which layer 1 could not see: data loss escalates too
        assert hidden.layers == ["sql"]
        assert "drop-table-with-data" in {e.rule for e in result.escalations}


@pytest.mark.postgres
def test_helper_drop_is_caught_by_the_rendered_sql_on_postgresql(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    path = write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"SET LOCAL lock_timeout = '5s'\")\n_drop()",
        downgrade="pass",
        message="helper",
    )
    path.write_text(path.read_text() + '\n\ndef _drop():\n    op.drop_table("assignments")\n')
    result = review(example_project, pg_url)
    [revision] = result.revisions
    assert "unread-statement" not in rules(result)  # squawk read the whole rendered upgrade
    assert any(c.layers == ["sql"] for c in revision.coverage)
    assert "drop-table-with-data" in {e.rule for e in result.escalations}


def test_helper_is_unread_without_the_sql_layer(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    path = write_revision(example_project, "c3c3c3c30003", HEAD, upgrade="_drop()", downgrade="pass", message="h")
    path.write_text(path.read_text() + '\n\ndef _drop():\n    op.drop_table("assignments")\n')
    result = review(example_project, sqlite_url)
    assert "unread-statement" in rules(result)
    assert result.verdict == "escalate" and "uninspectable-sql" in {e.rule for e in result.escalations}


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
