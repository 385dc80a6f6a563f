"""SQL the review reads although it is not one literal (issue 14, review precision): statements chosen between
literals, values the file fixes pasted into SQL (constants, integers, uuids), insert().from_select(), COALESCE
updates and a batch size read from the environment. Each false positive of the corpus has its regression here,
and each relaxation its hostile variants, which must still escalate on both backends. End to end, the readable
revision reviews without those escalations on real PostgreSQL and SQLite, and then runs there.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_review_migration import PEOPLE, execute, review, upgrade_head

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules import review_source
from alembic_mcp.tools.review.rules.effects import Sources

ROOT = Path(__file__).resolve().parent.parent
HEADER = '"""x"""\nimport os\nfrom uuid import uuid4\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
HEADER += 'revision = "c3000000000a"\ndown_revision = "b2e1d1ce0002"\n\n'
MAPPED = textwrap.dedent(
    """
    from sqlalchemy import Column, Integer, and_, insert
    from sqlalchemy.ext.declarative import declarative_base

    Base = declarative_base()


    class Person(Base):
        __tablename__ = "persons"
        id = Column(Integer, primary_key=True)
        pgy_level = Column(Integer)


    class Assignment(Base):
        __tablename__ = "assignments"
        id = Column(Integer, primary_key=True)
        person_id = Column(Integer)
    """
)


def migration(upgrade: str, module: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    return HEADER + textwrap.dedent(module) + f"\n\ndef upgrade():\n{body}\n\n\ndef downgrade():\n    pass\n"


# The corpus' false positives, in their shape (NOTES.md, "Sample judged by hand (after)")
READABLE = {
    "airflow_0039_chosen_by_dialect": migration(
        """
        if op.get_bind().dialect.name == "mysql":
            stmt = "UPDATE persons SET `role` = 'resident' WHERE role IS NULL"
        else:
            stmt = "UPDATE persons SET \\"role\\" = 'resident' WHERE role IS NULL"
        op.execute(stmt)
        """
    ),
    "airflow_0055_batch_and_offset": migration(
        """
        conn = op.get_bind()
        empty_vals = {"mysql": "X'80'", "postgresql": "'\\\\x80'", "sqlite": "X'80'"}
        empty_val = empty_vals[conn.dialect.name]
        BATCH_SIZE = 1000
        offset = 0
        while True:
            rows = conn.execute(
                sa.text(
                    "SELECT id FROM persons WHERE name IS NOT NULL "
                    f"AND name != {empty_val} "
                    f"ORDER BY id LIMIT {BATCH_SIZE} "
                    f"OFFSET {offset}"
                )
            ).fetchall()
            if not rows:
                break
            offset += BATCH_SIZE
        """
    ),
    "airflow_0060_statement_bound_twice": migration(
        """
        conn = op.get_bind()
        stmt = sa.text("SELECT id FROM persons WHERE pgy_level IS NULL")
        rows = conn.execute(stmt).fetchall()
        stmt = sa.text("UPDATE persons SET pgy_level = :level WHERE id = :row_id AND pgy_level IS NULL")
        for row in rows:
            conn.execute(stmt.bindparams(level=1, row_id=row.id))
        """
    ),
    "indico_26806768cd3f_uuid_ids": migration(
        """
        op.execute(f'''
            INSERT INTO rotations (name) VALUES ('{uuid4()}'), ('r-{uuid4()}');
        ''')
        """
    ),
    "indico_7aabedfb5e3a_coalesce": migration(
        "op.execute(\"UPDATE persons SET name = COALESCE(name, ''), email = COALESCE(email, '')\")"
    ),
    "superset_409c7b420ab0_from_select": migration(
        """
        bind = op.get_bind()
        op.execute(
            insert(Assignment).from_select(
                ["person_id"],
                sa.select(Person.id)
                .outerjoin(Assignment, and_(Assignment.person_id == Person.id))
                .where(Assignment.id == None, Person.pgy_level != None),  # noqa: E711
            )
        )
        """,
        MAPPED,
    ),
    "superset_b56500de1855_batch_size": migration(
        """
        for start in range(0, 10, BATCH):
            op.execute(f"UPDATE persons SET pgy_level = 1 WHERE id >= {start} AND id < {start + BATCH}")
        """,
        'BATCH = int(os.environ.get("BATCH_SIZE", 200))\n',
    ),
}
QUIET = {"raw-sql-uninspectable", "raw-sql-interpolated", "destructive-data-change", "own-connection"}
QUIET |= {"module-level-code"}


def _lint(source: str, tmp_path: Path, backend: str, files: dict[str, str] | None = None):
    for relative, text in (files or {}).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    path = tmp_path / "c3000000000a_x.py"
    path.write_text(source)
    return review_source(parse_source(source, path), "m.py", backend, sources=Sources((tmp_path,)))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", sorted(READABLE))
def test_corpus_false_positives_are_read(name, backend, tmp_path):
    found = {h.finding.rule for h in _lint(READABLE[name], tmp_path, backend).hits if h.finding.severity == "error"}
    assert not found & QUIET, (name, found)


# Each relaxation, attacked: (migration, files laid in the project, escalation it must still raise)
ATTACKS = {
    "project_uuid_shadows_stdlib": (
        migration("op.execute(f\"INSERT INTO rotations (name) VALUES ('{uuid4()}')\")"),
        {"uuid.py": 'def uuid4():\n    return "x\'); DROP TABLE persons; --"\n'},
        "uuid-sql",
    ),
    "negative_int_makes_a_comment": (
        migration(
            "op.execute(f\"DELETE FROM persons WHERE id = -{int(os.environ.get('BATCH_SIZE', 1))}\\n"
            "AND role = 'gone'\")"
        ),
        {},
        "uninspectable-sql",
    ),
    "dict_changed_after_its_literal": (
        migration(
            'tables = {"a": "rotations"}\ntables.update(a="persons")\n'
            "op.execute(f\"DELETE FROM {tables['a']} WHERE id = 1\")"
        ),
        {},
        "uninspectable-sql",
    ),
    "other_dialect_candidate_is_quiet_but_this_one_empties": (
        migration(
            'if op.get_bind().dialect.name == "mysql":\n    stmt = "DELETE FROM persons WHERE id = 1"\n'
            'else:\n    stmt = "DELETE FROM persons"\nop.execute(stmt)'
        ),
        {},
        "destructive-data-change",
    ),
    "candidate_rebound_by_a_loop": (
        migration('stmt = "SELECT 1"\nfor stmt in pick():\n    pass\nop.execute(stmt)'),
        {},
        "uninspectable-sql",
    ),
    "from_select_of_a_writing_function": (
        migration(
            'audit = sa.table("rotations", sa.column("name"))\n'
            'op.execute(audit.insert().from_select(["name"], sa.select(sa.func.purge_persons())))'
        ),
        {},
        "uninspectable-sql",
    ),
    "from_select_into_a_class_with_a_default": (
        migration(
            'op.execute(insert(Assignment).from_select(["person_id"], sa.select(Person.id)))',
            MAPPED.replace("person_id = Column(Integer)", "person_id = Column(Integer, default=sa.func.purge())"),
        ),
        {},
        "uninspectable-sql",
    ),
    "from_select_into_a_class_with_a_sequence": (
        migration(
            'op.execute(insert(Assignment).from_select(["person_id"], sa.select(Person.id)))',
            MAPPED.replace(
                "id = Column(Integer, primary_key=True)\n    person_id",
                "id = Column(Integer, sa.Sequence('s'), primary_key=True)\n    person_id",
            ),
        ),
        {},
        "uninspectable-sql",
    ),
    "coalesce_of_another_column": (
        migration("op.execute(\"UPDATE persons SET name = COALESCE(email, '')\")"),
        {},
        "destructive-data-change",
    ),
    "environment_url_as_a_number": (
        migration('port = int(os.environ.get("DATABASE_PORT", 5432))'),
        {},
        "own-connection",
    ),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_still_escalate(name, backend, tmp_path):
    source, files, escalation = ATTACKS[name]
    hits = _lint(source, tmp_path, backend, files).hits
    escalations = {h.escalation.rule for h in hits if h.escalation is not None}
    if escalation == "uuid-sql":  # the shadowing module makes the f-string unread again
        assert "uninspectable-sql" in escalations
        assert "raw-sql-interpolated" in {h.finding.rule for h in hits}
        return
    assert escalation in escalations, (name, escalations)


READABLE_REVISION = """
BATCH = int(os.environ.get("BATCH_SIZE", 200))


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "mysql":
        stmt = "UPDATE persons SET `role` = 'resident' WHERE role IS NULL"
    else:
        stmt = "UPDATE persons SET \\"role\\" = 'resident' WHERE role IS NULL"
    op.execute(stmt)
    op.execute("UPDATE persons SET pgy_level = COALESCE(pgy_level, 0)")
    offset = 0
    while True:
        rows = bind.execute(sa.text(f"SELECT id FROM persons ORDER BY id LIMIT {BATCH} OFFSET {offset}")).fetchall()
        if not rows:
            break
        offset += BATCH
    op.execute(f"INSERT INTO rotations (name) VALUES ('r-{uuid4()}')")
    people = sa.table("persons", sa.column("id"), sa.column("name"))
    names = sa.table("rotations", sa.column("name"))
    op.execute(names.insert().from_select(["name"], sa.select(people.c.name).where(people.c.id < 0)))


def downgrade():
    pass
"""
HOSTILE_REVISION = """
def upgrade():
    if op.get_bind().dialect.name == "mysql":
        stmt = "DELETE FROM persons WHERE id = 1"
    else:
        stmt = "DELETE FROM persons"
    op.execute(stmt)
    op.execute(f"DELETE FROM persons WHERE id = -{int(os.environ.get('BATCH_SIZE', 1))}\\nAND role = 'gone'")


def downgrade():
    pass
"""


def _write(project: Path, body: str) -> None:
    (project / "migrations" / "versions" / "c3000000000a_x.py").write_text(HEADER + body)


@pytest.mark.parametrize("target", ["pg_url", "sqlite_url"])
def test_readable_revision_reviews_quiet_and_runs(target, example_project, request):
    """On a real target at head: no escalation of these families; the revision then runs as reviewed."""
    url = request.getfixturevalue(target)
    upgrade_head(example_project, url)
    _write(example_project, READABLE_REVISION)
    result = review(example_project, url)
    assert not {e.rule for e in result.escalations} & {"uninspectable-sql", "own-connection"}, result.escalations
    assert not {f.rule for f in result.findings} & QUIET, [f for f in result.findings if f.rule in QUIET]
    upgrade_head(example_project, url)


@pytest.mark.parametrize("target", ["pg_url", "sqlite_url"])
def test_hostile_revision_escalates(target, example_project, request):
    url = request.getfixturevalue(target)
    upgrade_head(example_project, url)
    execute(url, PEOPLE)
    _write(example_project, HOSTILE_REVISION)
    result = review(example_project, url)
    escalations = {e.rule for e in result.escalations}
    assert result.verdict == "escalate" and {"destructive-data-change", "uninspectable-sql"} <= escalations
