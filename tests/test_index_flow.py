"""The index flow an agent run met (agent run 2): a unique index on lower(email) over a table whose emails
differ only by case. The rehearsal names the duplicates and their rows, a failed concurrent build says what
it left and how to clean it up; the review finds the duplicates on the target before any rehearsal."""

from __future__ import annotations

import pytest
from conftest import write_revision
from test_review_migration import HEAD, execute, review, upgrade_head
from test_roundtrip import make_project, roundtrip

DUPLICATES = (
    "INSERT INTO persons (id, name, email) VALUES (12, 'a', 'Ann@x.org'), (1012, 'b', 'ann@x.org'), "
    "(300, 'c', 'Bo@x.org'), (1300, 'd', 'bo@x.org'), (5, 'e', 'eve@x.org')"
)
EXPRESSION_INDEX = "op.create_index('ix_persons_lower_email', 'persons', [sa.text('lower(email)')], unique=True)"
CONCURRENT_INDEX = (
    "with op.get_context().autocommit_block():\n"
    "    op.create_index('ix_persons_lower_email', 'persons', [sa.text('lower(email)')], unique=True, "
    "postgresql_concurrently=True)"
)
DROP_INDEX = "op.drop_index('ix_persons_lower_email', table_name='persons')"


def _with_duplicates(project, index_upgrade: str):
    make_project(project)
    write_revision(project, "r2", "r1", f'op.execute("{DUPLICATES}")', 'op.execute("DELETE FROM persons")', "rows")
    write_revision(project, "r3", "r2", index_upgrade, DROP_INDEX, message="lower email")
    return project


@pytest.mark.parametrize(
    ("backend", "upgrade"),
    [("postgresql", EXPRESSION_INDEX), ("postgresql", CONCURRENT_INDEX), ("sqlite", EXPRESSION_INDEX)],
    ids=["transaction", "concurrently", "sqlite"],
)
def test_rehearsal_lists_the_duplicates_of_an_expression_index(request, backend, upgrade, empty_project):
    """The probe runs after the failure without meeting an aborted transaction, and names each duplicated
    value with the keys of its rows; the title names the table and the expression."""
    url = request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")
    project = _with_duplicates(empty_project, upgrade)
    result = roundtrip(project, url, from_revision="r1", seed_rows=0)
    failure = next(f for f in result.failures if f.revision == "r3")
    assert failure.mode == "unique-violation"
    facts = failure.facts
    assert "probe_error" not in facts, facts
    assert facts["duplicate_groups"] == 2 and facts["key_columns"] == ["id"]
    assert facts["sample_duplicates"] == [
        {"value": ["ann@x.org"], "rows": 2, "keys": [["12"], ["1012"]]},
        {"value": ["bo@x.org"], "rows": 2, "keys": [["300"], ["1300"]]},
    ]
    finding = next(f for f in result.findings if f.rule == "unique-violation")
    assert "on persons (lower(email))" in finding.message and "the table(" not in finding.message
    assert "ann@x.org in 2 rows (id 12, 1012)" in finding.message
    assert "A human decides which rows win" in failure.recovery[1]


def test_a_failed_concurrent_build_says_the_invalid_index_remains(empty_project, pg_url):
    """CREATE INDEX CONCURRENTLY in an autocommit block is not rolled back: the recovery names the INVALID
    index the scratch database kept and how to drop it, never "it was rolled back"."""
    project = _with_duplicates(empty_project, CONCURRENT_INDEX)
    result = roundtrip(project, pg_url, from_revision="r1", seed_rows=0)
    failure = next(f for f in result.failures if f.revision == "r3")
    assert failure.operation["autocommit"] is True
    assert failure.facts["index_left"] == {"name": "ix_persons_lower_email", "table": "persons", "valid": False}
    recovery = failure.recovery[0]
    assert "not rolled back" in recovery and "indisvalid = false" in recovery
    assert "DROP INDEX CONCURRENTLY IF EXISTS ix_persons_lower_email" in recovery
    assert not any("rolled back)" in step for step in failure.recovery)


def test_a_failure_inside_a_transaction_still_says_it_was_rolled_back(empty_project, pg_url):
    project = _with_duplicates(empty_project, EXPRESSION_INDEX)
    failure = next(f for f in roundtrip(project, pg_url, from_revision="r1", seed_rows=0).failures)
    assert "autocommit" not in failure.operation and "index_left" not in failure.facts
    assert failure.recovery[0].startswith("Nothing of the failed step remained (it was rolled back)")


# ------------------------------------------------------------------ review: layer 3 on the target

PERSONS = (
    "INSERT INTO persons (id, name, email, role) VALUES (12, 'a', 'Ann@x.org', 'resident'), "
    "(1012, 'b', 'ann@x.org', 'resident'), (300, 'c', 'Bo@x.org', 'faculty'), (1300, 'd', 'bo@x.org', 'faculty'), "
    "(5, 'e', 'eve@x.org', 'resident')"
)
UNIQUE_LOWER = {
    "text": "[sa.text('lower(email)')]",
    "literal_column": "[sa.literal_column('lower(email)')]",
    "func": "[sa.func.lower(sa.column('email'))]",
}


def _review_unique(project, url: str, columns: str, rows: str | None = None, upgrade: bool = True):
    if upgrade:
        upgrade_head(project, url)
    if rows:
        execute(url, rows)
    write_revision(
        project,
        "c3c3c3c30003",
        HEAD,
        f"op.create_index('ix_persons_lower_email', 'persons', {columns}, unique=True)",
        DROP_INDEX,
        message="lower email",
    )
    return review(project, url)


@pytest.mark.parametrize("form", sorted(UNIQUE_LOWER))
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_review_finds_the_duplicates_of_a_unique_expression_index(request, backend, form, example_project):
    url = request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")
    result = _review_unique(example_project, url, UNIQUE_LOWER[form], PERSONS)
    finding = next(f for f in result.findings if f.rule == "add-unique-constraint")
    assert finding.severity == "error" and result.verdict != "proceed"
    assert "2 duplicated value(s) (4 rows)" in finding.message
    assert "ann@x.org in rows id 12, 1012; bo@x.org in rows id 300, 1300" in finding.message
    assert "A human decides which rows win" in finding.message


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_review_without_duplicates_draws_no_unique_finding(request, backend, example_project):
    url = request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")
    distinct = PERSONS.replace("'ann@x.org'", "'ann2@x.org'").replace("'bo@x.org'", "'bo2@x.org'")
    result = _review_unique(example_project, url, UNIQUE_LOWER["text"], distinct)
    assert "add-unique-constraint" not in {f.rule for f in result.findings}


def test_review_says_when_the_duplicates_were_not_checked(example_project, pg_url):
    """A key that is not a plain SQL expression (a write hidden in a function) is never run on the target."""
    result = _review_unique(example_project, pg_url, "[sa.text('lower(email) || nextval(\\'s\\')')]", PERSONS)
    finding = next(f for f in result.findings if f.rule == "add-unique-constraint")
    assert "Duplicates were not checked" in finding.message and finding.severity == "info"
    computed = _review_unique(example_project, pg_url, "KEY", upgrade=False)
    assert (
        "duplicates were not checked" in next(f for f in computed.findings if f.rule == "add-unique-constraint").message
    )


def test_the_unique_failure_title_is_grammatical_without_table_or_columns():
    """Agent run 2: "on the table(the columns)" was a placeholder left unfilled."""
    from alembic_mcp.tools.roundtrip.diagnosis import explain

    bare = explain("unique-violation", {}, "upgrade", "r3", "postgresql")
    assert bare["title"] == "Duplicate values for a unique constraint or index"
    assert "the table" not in bare["fix"] and "the columns" not in bare["fix"]
    named = explain("unique-violation", {"table": "persons", "columns": ["lower(email)"]}, "upgrade", "r3", "sqlite")
    assert named["title"] == "Duplicate values for a unique constraint or index on persons (lower(email))"
