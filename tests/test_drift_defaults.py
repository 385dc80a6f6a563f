"""Model drift compares server defaults by their rendered SQL and prints text: ``server_default=func.now()``
is no drift on MariaDB (which reflects ``current_timestamp()``), PostgreSQL or SQLite; a real default
change still is, printed as SQL, never as a SQLAlchemy repr; MariaDB error text keeps the object names."""

from __future__ import annotations

import pytest
from conftest import write_revision
from test_roundtrip import make_project, roundtrip

from alembic_mcp.tools.worker.ops.drift_values import normal_default
from alembic_mcp.tools.worker.ops.failure_probes import quoted_names

BACKENDS = {"sqlite": "sqlite_url", "postgres": "pg_url", "mariadb": "mariadb_url"}
CREATED_UP = """
op.add_column("persons", sa.Column("created", sa.DateTime(), server_default=sa.func.now(), nullable=True))
op.add_column("persons", sa.Column("status", sa.String(length=20), server_default="new", nullable=True))
"""
CREATED_DOWN = """
op.drop_column("persons", "status")
op.drop_column("persons", "created")
"""


def project_with_defaults(root, status_default: str):
    extra = (
        "    created = Column(DateTime, server_default=func.now(), nullable=True)\n"
        f"    status = Column(String(20), server_default={status_default!r}, nullable=True)\n"
    )
    project = make_project(root, extra)
    models = project / "residency" / "models.py"
    models.write_text(
        models.read_text().replace(
            "from sqlalchemy import Column,", "from sqlalchemy import DateTime, func\nfrom sqlalchemy import Column,"
        )
    )
    write_revision(project, "r2", "r1", CREATED_UP, CREATED_DOWN, message="created")
    return project


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_func_now_is_no_drift(request, empty_project, backend):
    url = request.getfixturevalue(BACKENDS[backend])
    result = roundtrip(project_with_defaults(empty_project, "new"), url, seed_rows=2)
    assert result.drift_checked, result.summary
    assert result.drift == [], [item.message for item in result.drift]
    assert not any(f.rule == "model-drift" for f in result.findings)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_changed_default_is_drift_printed_as_sql(request, empty_project, backend):
    url = request.getfixturevalue(BACKENDS[backend])
    result = roundtrip(project_with_defaults(empty_project, "open"), url, seed_rows=2)
    messages = [item.message for item in result.drift]
    assert len(messages) == 1, messages
    assert "persons.status" in messages[0] and "'new'" in messages[0] and "'open'" in messages[0]
    assert "DefaultClause" not in messages[0] and " object at 0x" not in messages[0]


@pytest.mark.parametrize(
    "sql, normal",
    [
        ("current_timestamp()", "current_timestamp"),
        ("CURRENT_TIMESTAMP", "current_timestamp"),
        ("now()", "current_timestamp"),
        ("(now())", "current_timestamp"),
        ("'new'::character varying", "new"),
        ("'new'", "new"),
        ("  'A  b' ", "a b"),
        ("NULL", None),
    ],
)
def test_defaults_are_compared_in_a_normal_form(sql, normal):
    assert normal_default(sql) == normal


@pytest.mark.parametrize(
    "message, name",
    [
        (
            "(1553, \"Cannot drop index 'ix_assignments_person_id': needed in a foreign key constraint\")",
            "ix_assignments_person_id",
        ),
        ('(1091, "Can\'t DROP INDEX `ix_persons_name`; check that it exists")', "ix_persons_name"),
        ('relation "persons" does not exist', "persons"),
    ],
)
def test_error_messages_keep_object_names(message, name):
    assert quoted_names(message)[0] == name
