"""What the static schema model proves (review/rules/schema_facts.py) and the findings it quiets: a SET NOT
NULL of a column already NOT NULL, its missing inverse, a guarded create_index of an index that exists, a
guarded add_column of a column the model shows missing. Each with the cases that must keep the finding:
anything unread before the operation, a fact undone on the way, a helper that may have skipped."""

from __future__ import annotations

import pytest

from alembic_mcp.tools.review.rules import Definitions, lint_migration
from alembic_mcp.tools.review.rules.effects import Sources
from tests.test_schema_model import rev

PERSONS = rev(
    "r1",
    None,
    'op.create_table("persons", sa.Column("id", sa.Integer(), primary_key=True), '
    'sa.Column("name", sa.String(80), nullable=False), sa.Column("nick", sa.String(20)), '
    'sa.Column("team_id", sa.Integer()))\n'
    'op.create_index("ix_persons_name", "persons", ["name"])',
)
HELPERS = """

def create_index_if_missing(name, table, columns):
    insp = sa.inspect(op.get_bind())
    if name not in [i["name"] for i in insp.get_indexes(table)]:
        op.create_index(name, table, columns)


def add_column_if_missing(table, name, column):
    insp = sa.inspect(op.get_bind())
    if name not in [c["name"] for c in insp.get_columns(table)]:
        op.add_column(table, column)
"""


def rules(earlier, upgrade: str, downgrade: str = "pass", backend: str = "postgresql", header: str = "") -> list:
    reviewed = rev("r9", str(earlier[-1].revision) if earlier else None, upgrade, downgrade, header)
    hits = lint_migration(reviewed, "r9.py", backend, Definitions(list(earlier)), sources=Sources()).hits
    return [(h.finding.rule, h.finding.severity) for h in hits if h.finding.severity == "error"]


SET_NN = 'op.alter_column("persons", "name", existing_type=sa.String(80), nullable=False)'


def test_set_not_null_of_a_column_created_not_null_is_quiet():
    assert ("set-not-null", "error") not in rules([PERSONS], SET_NN, SET_NN.replace("False", "True"))
    # the primary key's column is NOT NULL too, and a rename carries it
    renamed = rev("r2", "r1", 'op.alter_column("persons", "id", new_column_name="person_id")')
    keyed = 'op.alter_column("persons", "person_id", nullable=False)'
    assert ("set-not-null", "error") not in rules([PERSONS, renamed], keyed, 'op.alter_column("persons", "x")')


def test_set_not_null_stays_where_the_fact_is_not_proven():
    assert ("set-not-null", "error") in rules([PERSONS], SET_NN.replace('"name"', '"nick"'))  # declared nullable
    relaxed = rev("r2", "r1", 'op.alter_column("persons", "name", nullable=True)')
    assert ("set-not-null", "error") in rules([PERSONS, relaxed], SET_NN)
    raw = rev("r2", "r1", 'op.execute("ALTER TABLE persons ALTER COLUMN name DROP NOT NULL")')
    assert ("set-not-null", "error") in rules([PERSONS, raw], SET_NN)
    modify = rev("r2", "r1", 'op.execute("ALTER TABLE persons MODIFY name VARCHAR(80) NULL")')
    assert ("set-not-null", "error") in rules([PERSONS, modify], SET_NN)
    hidden = rev("r2", "r1", "relax()", header="from project.tools import relax")  # code the model cannot read
    assert ("set-not-null", "error") in rules([PERSONS, hidden], SET_NN)
    loop = rev("r2", "r1", 'for c in ["name"]:\n    op.alter_column("persons", c, nullable=True)')
    assert ("set-not-null", "error") in rules([PERSONS, loop], SET_NN)
    computed = rev("r2", "r1", 'op.execute(sa.text("ALTER TABLE persons " + "ALTER name DROP NOT NULL"))')
    assert ("set-not-null", "error") in rules([PERSONS, computed], SET_NN)
    # the reviewed upgrade relaxes it first, or runs unread code before it
    assert ("set-not-null", "error") in rules([PERSONS], 'op.alter_column("persons", "name", nullable=True)\n' + SET_NN)
    assert ("set-not-null", "error") in rules([PERSONS], "relax()\n" + SET_NN, header="from project.tools import relax")
    # MySQL restates the column on a type change: NULL unless existing_nullable=False says otherwise
    retyped = rev("r2", "r1", 'op.alter_column("persons", "name", type_=sa.String(120))')
    assert ("set-not-null", "error") in rules([PERSONS, retyped], SET_NN, backend="mysql")
    assert ("set-not-null", "error") not in rules([PERSONS, retyped], SET_NN, backend="postgresql")


def test_a_history_with_a_dropped_and_re_added_column_forgets_the_fact():
    again = rev(
        "r2",
        "r1",
        'op.drop_column("persons", "name")\nop.add_column("persons", sa.Column("name", sa.String(80)))',
    )
    assert ("set-not-null", "error") in rules([PERSONS, again], SET_NN)


def test_no_inverse_needed_for_a_not_null_that_already_held():
    other = 'op.add_column("persons", sa.Column("unit", sa.Text()))\n'
    down = 'op.drop_column("persons", "unit")'
    assert ("downgrade-not-inverse", "error") not in rules([PERSONS], other + SET_NN, down)
    # a type change as well: the downgrade must undo that
    retype = 'op.alter_column("persons", "name", type_=sa.String(120), nullable=False)'
    assert ("downgrade-not-inverse", "error") in rules([PERSONS], other + retype, down)
    assert ("downgrade-not-inverse", "error") in rules([PERSONS], other + SET_NN.replace('"name"', '"nick"'), down)
    relaxed = rev("r2", "r1", 'op.alter_column("persons", "name", nullable=True)')
    assert ("downgrade-not-inverse", "error") in rules([PERSONS, relaxed], other + SET_NN, down)


def test_guarded_create_of_an_index_that_exists_builds_nothing():
    call = 'create_index_if_missing("ix_persons_name", "persons", ["name"])'
    assert ("create-index-non-concurrent", "error") not in rules([PERSONS], call, header=HELPERS)
    # a name no revision created: the helper builds it under the lock
    other = 'create_index_if_missing("ix_persons_nick", "persons", ["nick"])'
    assert ("create-index-non-concurrent", "error") in rules([PERSONS], other, header=HELPERS)


def test_guarded_create_stays_an_error_where_the_index_may_be_missing():
    call = 'create_index_if_missing("ix_persons_name", "persons", ["name"])'
    dropped = rev("r2", "r1", 'op.execute("DROP INDEX ix_persons_name")')
    assert ("create-index-non-concurrent", "error") in rules([PERSONS, dropped], call, header=HELPERS)
    readd = 'op.drop_column("persons", "name")\nop.add_column("persons", sa.Column("name", sa.Text()))'
    column = rev("r2", "r1", readd)
    assert ("create-index-non-concurrent", "error") in rules([PERSONS, column], call, header=HELPERS)
    # an index an earlier helper may have skipped is not known to exist
    nick = 'create_index_if_missing("ix_persons_nick", "persons", ["nick"])'
    maybe = rev("r2", "r1", nick, header=HELPERS)
    assert ("create-index-non-concurrent", "error") in rules([PERSONS, maybe], nick, header=HELPERS)
    # a guarded drop may have run
    gone = rev("r2", "r1", "drop_if_there()", header=HELPERS + DROP_HELPER)
    assert ("create-index-non-concurrent", "error") in rules([PERSONS, gone], call, header=HELPERS)
    # the reviewed upgrade drops it first
    assert ("create-index-non-concurrent", "error") in rules(
        [PERSONS], 'op.drop_index("ix_persons_name", table_name="persons")\n' + call, header=HELPERS
    )


DROP_HELPER = """

def drop_if_there():
    insp = sa.inspect(op.get_bind())
    if "ix_persons_name" in [i["name"] for i in insp.get_indexes("persons")]:
        op.drop_index("ix_persons_name", table_name="persons")
"""


def test_guarded_add_of_a_column_the_table_lacks_is_new():
    add = 'add_column_if_missing("persons", "unit_id", sa.Column("unit_id", sa.Integer(), nullable=True))'
    fk = 'op.create_foreign_key("fk_persons_unit", "persons", "units", ["unit_id"], ["id"])'
    assert ("fk-not-valid-missing", "error") not in rules([PERSONS], add + "\n" + fk, header=HELPERS)
    # the column may exist already (a table the history did not create, or one the model lost)
    legacy = add.replace('"persons"', '"legacy"', 1)
    assert ("fk-not-valid-missing", "error") in rules(
        [PERSONS], legacy + "\n" + fk.replace('"persons"', '"legacy"', 1), header=HELPERS
    )
    existing = add.replace("unit_id", "team_id")
    assert ("fk-not-valid-missing", "error") in rules(
        [PERSONS], existing + "\n" + fk.replace("unit_id", "team_id"), header=HELPERS
    )
    hidden = rev("r2", "r1", "more_columns()", header="from project.tools import more_columns")
    assert ("fk-not-valid-missing", "error") in rules([PERSONS, hidden], add + "\n" + fk, header=HELPERS)


# ------------------------------------------------------------ through review_migration, on real databases

NOT_NULL_AGAIN = 'op.add_column("persons", sa.Column("badge", sa.Text()))\n' + (
    'op.alter_column("persons", "email", existing_type=sa.String(200), nullable=False)'
)


def _review_on(project, url: str, between: str | None):
    from conftest import write_revision
    from test_review_migration import HEAD, review

    down = HEAD
    if between is not None:
        write_revision(project, "c3c3c3c30008", HEAD, upgrade=between, message="between")
        down = "c3c3c3c30008"
    write_revision(project, "c3c3c3c30009", down, NOT_NULL_AGAIN, 'op.drop_column("persons", "badge")', "again")
    result = review(project, url, revision="c3c3c3c30009")
    return {f.rule for f in result.findings if f.severity == "error"}, result


@pytest.mark.postgres
def test_not_null_that_holds_is_quiet_on_postgresql(example_project, pg_url):
    """The target is left empty, so no database fact (no NULL rows) clears the finding: only the model does."""
    from test_review_migration import execute, upgrade_head

    errors, result = _review_on(example_project, pg_url, None)
    assert not {"set-not-null", "downgrade-not-inverse"} & errors, [(f.rule, f.message) for f in result.findings]
    upgrade_head(example_project, pg_url)  # and it runs: the column was NOT NULL already
    execute(pg_url, "INSERT INTO persons (id, name, email, role, badge) VALUES (1, 'Ann', 'a@x', 'resident', NULL)")


@pytest.mark.postgres
def test_not_null_relaxed_by_raw_sql_in_between_stays_an_error_on_postgresql(example_project, pg_url):
    relax = 'op.execute("ALTER TABLE persons ALTER COLUMN email DROP NOT NULL")'
    errors, _ = _review_on(example_project, pg_url, relax)
    assert {"set-not-null", "downgrade-not-inverse"} <= errors


def test_not_null_facts_on_sqlite(example_project, sqlite_url):
    errors, _ = _review_on(example_project, sqlite_url, None)
    assert not {"set-not-null", "downgrade-not-inverse"} & errors
    errors, _ = _review_on(example_project, sqlite_url, 'op.alter_column("persons", "email", nullable=True)')
    assert {"set-not-null", "downgrade-not-inverse"} <= errors


def test_unread_code_after_the_operation_does_not_matter_before_it_does():
    header = "from project.tools import relax"
    assert ("set-not-null", "error") not in rules([PERSONS], SET_NN + "\nrelax()", header=header)
    assert ("set-not-null", "error") in rules([PERSONS], "relax()\n" + SET_NN, header=header)
    # an operation inside the unread statement runs after it on the next pass of a loop
    looped = 'for _ in range(2):\n    op.alter_column("persons", "name", nullable=False)\n    relax()'
    assert ("set-not-null", "error") in rules([PERSONS], looped, header=header)


def test_schema_none_is_the_default_schema_and_another_schema_is_not_followed():
    retype = 'with op.batch_alter_table("persons", schema=None) as b:\n    b.alter_column("name", type_=sa.Text())'
    assert ("set-not-null", "error") not in rules([PERSONS, rev("r2", "r1", retype)], SET_NN)
    other = retype.replace("schema=None", 'schema="archive"').replace("type_=sa.Text()", "nullable=True")
    assert ("set-not-null", "error") in rules([PERSONS, rev("r2", "r1", other)], SET_NN)


NICK_NN = 'op.alter_column("persons", "nick", existing_type=sa.String(20), nullable=False)'


def test_an_operation_that_may_not_have_run_proves_nothing():
    def quiet_after(upgrade: str, backend: str = "postgresql") -> bool:
        earlier = [PERSONS, rev("r2", "r1", upgrade)]
        return ("set-not-null", "error") not in rules(earlier, NICK_NN, backend=backend)

    assert quiet_after(NICK_NN)
    assert quiet_after('with op.batch_alter_table("persons") as b:\n    b.alter_column("nick", nullable=False)')
    assert not quiet_after("if sa.__version__ == '0':\n    " + NICK_NN)
    assert not quiet_after("try:\n    " + NICK_NN + "\nexcept Exception:\n    pass")
    assert not quiet_after("for _ in []:\n    " + NICK_NN)
    assert not quiet_after("if sa.__version__ == '0':\n    return\n" + NICK_NN)
    dialect = 'if op.get_bind().dialect.name == "postgresql":\n    ' + NICK_NN
    assert quiet_after(dialect)
    assert not quiet_after(dialect, backend="sqlite")


DROP_NN = '"ALTER TABLE persons ALTER COLUMN name DROP NOT NULL"'


def test_sql_run_on_the_connection_counts_as_the_migrations():
    through = [
        f"op.get_bind().execute(sa.text({DROP_NN}))",
        f"bind = op.get_bind()\nbind.execute(sa.text({DROP_NN}))",
        f"op.get_context().connection.exec_driver_sql({DROP_NN})",
        "conn = op.get_bind()\nconn.execute(sa.text(STATEMENT))",
    ]
    header = f"STATEMENT = {DROP_NN}"
    for upgrade in through:
        assert ("set-not-null", "error") in rules([PERSONS, rev("r2", "r1", upgrade, header=header)], SET_NN)
        assert ("set-not-null", "error") in rules([PERSONS], upgrade + "\n" + SET_NN, header=header)
    read = 'op.get_bind().execute(sa.text("SELECT count(*) FROM persons"))'
    assert ("set-not-null", "error") not in rules([PERSONS, rev("r2", "r1", read)], SET_NN)


def test_op_reached_other_than_as_an_operation_in_an_earlier_revision_loses_the_facts():
    for hidden in (
        'getattr(op, "alter_" + "column")("persons", "name", nullable=True)',
        'op.get_context().impl.alter_column("persons", "name", nullable=True)',
        'run = op.alter_column\nrun("persons", "name", nullable=True)',
    ):
        assert ("set-not-null", "error") in rules([PERSONS, rev("r2", "r1", hidden)], SET_NN), hidden
    # code run when the module is imported, where op is live
    imported = rev("r2", "r1", "pass", header='op.alter_column("persons", "name", nullable=True)')
    assert ("set-not-null", "error") in rules([PERSONS, imported], SET_NN)
