"""A SET LOCAL lock_timeout does not outlive an autocommit block (agent run, issue 18 item 3).

PostgreSQL: the block COMMITs, so a statement after it runs with no lock_timeout. The review's
missing-lock-timeout sees that, and the autofix sets it again right before the statement; a probe
statement after the block proves on a real database that the timeout is (or is not) in effect.
"""

from __future__ import annotations

from conftest import write_revision
from test_roundtrip import assert_clean, make_project, roundtrip

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.autofix.plan import FixContext, fix_source
from alembic_mcp.tools.review.rules import lint_migration

UPGRADE = """
op.execute("SET LOCAL lock_timeout = '5s'")
with op.get_context().autocommit_block():
    op.create_index("ix_persons_level", "persons", ["level"], postgresql_concurrently=True)
op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))
op.execute("DO $$ BEGIN IF current_setting('lock_timeout') = '0' THEN RAISE 'no lock_timeout'; END IF; END $$")
"""
DOWNGRADE = """
op.drop_column("persons", "nick")
op.drop_index("ix_persons_level", table_name="persons")
"""


def _lock_hits(source: str) -> list:
    hits = lint_migration(parse_source(source), "m.py", "postgresql").hits
    return [h for h in hits if h.finding.rule == "missing-lock-timeout"]


def test_statement_after_an_autocommit_block_needs_the_timeout_again(empty_project, pg_url):
    project = make_project(empty_project)
    path = write_revision(project, "r2", "r1", UPGRADE, DOWNGRADE, message="nick")
    source = path.read_text()
    [hit] = _lock_hits(source)
    assert (
        "after an autocommit block" in hit.finding.message
        and hit.finding.line == source.count("\n", 0, source.index("op.add_column")) + 1
    )

    failed = roundtrip(project, pg_url, from_revision="r1")  # the probe: no lock_timeout after the block
    assert failed.failure is not None and "no lock_timeout" in failed.failure.error, failed.model_dump_json(indent=1)
    assert_clean(failed, pg_url)

    ctx = FixContext(file="m.py", backend="postgresql", wanted=frozenset({"missing-lock-timeout"}), models={})
    fixed = fix_source(source, ctx).after
    assert fixed.count("SET LOCAL lock_timeout") == 2
    assert fixed.index("autocommit_block") < fixed.rindex("SET LOCAL lock_timeout") < fixed.index("op.add_column")
    assert _lock_hits(fixed) == []
    path.write_text(fixed)
    passed = roundtrip(project, pg_url, from_revision="r1")
    assert passed.failure is None and passed.failures == [], passed.model_dump_json(indent=1)
    assert_clean(passed, pg_url)
