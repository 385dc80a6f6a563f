"""The static schema model of a history (tools/review/schema_model.py): objects defined twice and drops
of objects that never existed, found before anything runs; silent where the history cannot be read."""

from __future__ import annotations

import textwrap

from alembic_mcp.tools.history.migration_ast import MigrationSource, parse_source
from alembic_mcp.tools.review.rules import Definitions, lint_migration
from alembic_mcp.tools.review.schema_model import SchemaModel


def rev(revision: str, down: str | None, upgrade: str, downgrade: str = "pass", header: str = "") -> MigrationSource:
    up = textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    ")
    dn = textwrap.indent(textwrap.dedent(downgrade).strip() or "pass", "    ")
    return parse_source(
        f"import sqlalchemy as sa\nfrom alembic import op\n{header}\nrevision = {revision!r}\n"
        f"down_revision = {down!r}\n\n\ndef upgrade():\n{up}\n\n\ndef downgrade():\n{dn}\n"
    )


BASE = rev(
    "r1",
    None,
    'op.create_table("persons", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(80)))\n'
    'op.create_index("ix_persons_name", "persons", ["name"])',
    'op.drop_index("ix_persons_name", table_name="persons")\nop.drop_table("persons")',
)
NICK = rev(
    "r2",
    "r1",
    'op.add_column("persons", sa.Column("nick", sa.String(20)))',
    'op.drop_column("persons", "nick")',
)


def problems(earlier: list[MigrationSource], reviewed: MigrationSource, backend: str | None = "postgresql"):
    model = SchemaModel.replay(earlier, reviewed, backend)
    return [(p.kind, p.function, p.what) for p in model.check(reviewed)]


def test_a_correct_history_has_no_problems():
    assert problems([BASE], NICK) == []
    assert problems([], BASE) == []


def test_downgrade_dropping_an_index_no_revision_created():
    reviewed = rev(
        "r3",
        "r2",
        'op.create_index("ix_persons_nick", "persons", ["nick"])',
        'op.drop_index("ix_persons_nik", table_name="persons")',
    )
    assert problems([BASE, NICK], reviewed) == [("never-existed", "downgrade", "index ix_persons_nik")]


def test_drops_of_a_column_and_a_table_that_never_existed():
    reviewed = rev("r3", "r2", 'op.drop_column("persons", "nickname")', 'op.drop_table("rotations")')
    assert problems([BASE, NICK], reviewed) == [
        ("never-existed", "upgrade", "column persons.nickname"),
        ("never-existed", "downgrade", "table rotations"),
    ]
    # an upgrade may drop a table made outside Alembic: not judged
    assert problems([BASE, NICK], rev("r3", "r2", 'op.drop_table("legacy")', "pass")) == []


def test_downgrade_create_table_declaring_a_column_twice():
    reviewed = rev(
        "r3",
        "r2",
        'op.drop_table("persons")',
        'op.create_table("persons", sa.Column("id", sa.Integer()), sa.Column("name", sa.String(80)), '
        'sa.Column("name", sa.String(80)))',
    )
    assert problems([BASE, NICK], reviewed) == [("defined-twice", "downgrade", "column persons.name")]
    # the statement itself is wrong: reported even with no history to read
    assert problems([], reviewed) == [("defined-twice", "downgrade", "column persons.name")]


def test_add_column_the_table_already_has():
    reviewed = rev("r3", "r2", 'op.add_column("persons", sa.Column("nick", sa.String(20)))')
    assert problems([BASE, NICK], reviewed) == [("defined-twice", "upgrade", "column persons.nick")]


def test_a_history_starting_from_a_non_empty_database_stays_silent():
    first = rev("r1", None, 'op.add_column("accounts", sa.Column("plan", sa.String(20)))')
    reviewed = rev(
        "r2",
        "r1",
        'op.drop_table("legacy")\nop.drop_index("ix_accounts_email", table_name="accounts")',
        'op.drop_column("accounts", "plan")',
    )
    assert problems([first], reviewed) == []


def test_unreadable_history_stays_silent():
    raw = rev("r2", "r1", 'op.execute("ALTER TABLE persons ADD COLUMN nick varchar(20)")')
    assert problems([BASE, raw], rev("r3", "r2", 'op.drop_column("persons", "nick")')) == []
    helper = rev("r2", "r1", "add_columns(op)", header="from myapp.migration_helpers import add_columns\n")
    assert problems([BASE, helper], rev("r3", "r2", 'op.drop_column("persons", "nick")')) == []
    missing_below = rev("r3", "r2", 'op.drop_column("persons", "nick")')
    assert problems([BASE], missing_below) == []  # r2 was not read


def test_implicit_index_names_stay_silent():
    base = rev(
        "r1", None, 'op.create_table("tags", sa.Column("id", sa.Integer()), sa.Column("x", sa.Integer(), index=True))'
    )
    reviewed = rev("r2", "r1", 'op.drop_index("ix_tags_x", table_name="tags")')
    assert problems([base], reviewed) == []


def test_dialect_branches_follow_the_target():
    branchy = rev(
        "r2",
        "r1",
        'if op.get_context().dialect.name == "mysql":\n'
        '    op.create_index("ix_persons_nick", "persons", ["name"], mysql_length=10)\n'
        "else:\n"
        '    op.create_index("ix_persons_nick", "persons", ["name"])',
    )
    reviewed = rev("r3", "r2", "pass", 'op.drop_index("ix_persons_nick", table_name="persons")')
    assert problems([BASE, branchy], reviewed, "postgresql") == []
    assert problems([BASE, branchy], reviewed, None) == []  # unknown target: both branches, nothing claimed


def test_the_rule_reports_through_the_review_with_the_history():
    reviewed = rev("r3", "r2", "pass", 'op.drop_index("ix_persons_nik", table_name="persons")')
    hits = lint_migration(reviewed, "r3.py", "postgresql", Definitions([BASE, NICK])).hits
    found = [h.finding for h in hits if h.finding.rule == "drop-of-missing-object"]
    assert len(found) == 1 and found[0].severity == "error" and "ix_persons_nik" in found[0].message
