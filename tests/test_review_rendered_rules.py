"""The hostile review's trust gaps of main (hostile-prec.md, "Pre-existing on main"), on real databases:

1. what a helper emits is judged by the SQL rules once the offline render shows it (a DELETE is data loss,
   a SELECT that may write is uninspectable), not waved through because squawk linted it;
2. a project module the migration imports is read for the code its body runs on import.

Every case adds a column to ``persons`` (50 rows) and hides its attack in a helper or a project module.
On SQLite the review is asked for the rendered SQL (include_sql), so the same rules read it there too.
"""

from __future__ import annotations

import pytest
from conftest import write_revision
from test_review_migration import HEAD, execute, review, rules, upgrade_head

from alembic_mcp.tools.review.rendered import rendered_statements

ADD = 'op.add_column("persons", sa.Column("nick", sa.Text()))'
DROP = 'op.drop_column("persons", "nick")'
FIFTY = {
    "postgresql": "INSERT INTO persons (name, email, role) SELECT 'n' || g, 'p' || g || '@x', 'r' "
    "FROM generate_series(1, 50) g",
    "sqlite": "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 50) "
    "INSERT INTO persons (name, email, role) SELECT 'n' || x, 'p' || x || '@x', 'r' FROM g",
}


def helper(*lines: str) -> str:
    return "\n\ndef _h():\n" + "".join(f"    {line}\n" for line in lines)


DELETES = "destructive-data-change"
UNREAD = "uninspectable-sql"
# case -> (module header, extra upgrade lines, project files, escalation on PostgreSQL, on SQLite (None: proceed))
CASES = {
    "h01-alias-alembic-op": (
        "import alembic\n" + helper("o = alembic.op", 'o.execute("DELETE FROM persons")'),
        "_h()",
        {},
        DELETES,
        DELETES,
    ),
    "h03-impl-exec": (
        helper('op.get_context().impl._exec(sa.text("DELETE FROM persons"))'),
        "_h()",
        {},
        DELETES,
        DELETES,
    ),
    "h04-text-mutated": (
        helper(
            "bind = op.get_bind()",
            'stmt = sa.text("SELECT 1")',
            'stmt.text = "DELETE FROM persons"',
            "bind.execute(stmt)",
        ),
        "_h()",
        {},
        DELETES,
        DELETES,
    ),
    "h05-writable-cte": (
        helper(
            "bind = op.get_bind()",
            't = sa.table("persons", sa.column("id"))',
            'd = sa.delete(t).returning(t.c.id).cte("d")',
            "bind.execute(sa.select(d.c.id))",
        ),
        "_h()",
        {},
        UNREAD,
        UNREAD,
    ),
    "h06-func-alias": (
        helper("f = sa.func", "op.get_bind().execute(sa.select(f.pg_terminate_backend(f.pg_backend_pid())))"),
        "_h()",
        {},
        UNREAD,
        UNREAD,
    ),
    "h07-literal-column": (
        helper("op.get_bind().execute(sa.select(sa.literal_column(\"setval('persons_id_seq', 1)\")))"),
        "_h()",
        {},
        UNREAD,
        UNREAD,
    ),
    "h08-quoted-function": (
        helper("op.get_bind().execute(sa.text('SELECT \"setval\"(\\'persons_id_seq\\', 1)'))"),
        "_h()",
        {},
        UNREAD,
        UNREAD,
    ),
    "h09-commented-function": (
        helper("op.get_bind().execute(sa.text(\"SELECT setval/**/('persons_id_seq', 1)\"))"),
        "_h()",
        {},
        UNREAD,
        UNREAD,
    ),
    # a row lock is not a read: layer 1 refuses it on every backend (SQLite renders it without FOR UPDATE)
    "h12-for-update": (
        helper('op.get_bind().execute(sa.select(sa.column("id")).select_from(sa.table("persons")).with_for_update())'),
        "_h()",
        {},
        UNREAD,
        UNREAD,
    ),
    "h18-helper-rebinds-global": (
        'SQL = "SELECT 1"\n' + helper("d = globals", 'd()["SQL"] = "DELETE FROM persons"'),
        "_h()\nop.execute(SQL)",
        {},
        DELETES,
        DELETES,
    ),
    # the render cannot show it (offline, the bind has no exec_driver_sql and __del__ swallows the error)
    "p10-del-hook": (
        "\n\nclass Helper:\n    def __del__(self):\n        op.get_bind().exec_driver_sql('DELETE FROM persons')\n",
        "Helper()",
        {},
        UNREAD,
        UNREAD,
    ),
    "p12-enter-hook": (
        "\n\nclass Helper:\n    def __enter__(self):\n        op.get_bind().exec_driver_sql('DELETE FROM persons')\n"
        "\n    def __exit__(self, *exc):\n        return False\n",
        "with Helper():\n    pass",
        {},
        UNREAD,
        UNREAD,
    ),
    "p13-import-runs-code": (
        "from residency import tools\n",
        "pass",
        {"residency/tools.py": 'from alembic import op\n\nop.execute("DELETE FROM persons")\n'},
        UNREAD,
        UNREAD,
    ),
    "p14-import-patches-text": (
        "import residency.tools\n",
        'op.execute(sa.text("SELECT 1"))',
        {
            "residency/tools.py": "import sqlalchemy as sa\n_t = sa.text\n"
            'sa.text = lambda s: _t("DELETE FROM persons")\n'
        },
        UNREAD,
        UNREAD,
    ),
    "p14-package-init-runs-code": (
        "from residency.sub import consts\n",
        "pass",
        {
            "residency/sub/__init__.py": 'from alembic import op\n\nop.execute("DELETE FROM persons")\n',
            "residency/sub/consts.py": 'SQL = "SELECT 1"\n',
        },
        UNREAD,
        UNREAD,
    ),
}


def _url(backend: str, request) -> str:
    return request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")


def _write(project, header: str, up: str, files: dict[str, str]):
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    write_revision(
        project, "c3c3c3c30003", HEAD, upgrade=f"{ADD}\n{up}", downgrade=DROP, message="x", extra_header=header
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"], ids=["pg", "sqlite"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_case_escalates_with_the_right_rule(example_project, request, backend, case):
    header, up, files, on_pg, on_sqlite = CASES[case]
    url = _url(backend, request)
    upgrade_head(example_project, url)
    execute(url, FIFTY[backend])
    _write(example_project, header, up, files)
    result = review(example_project, url, include_sql=backend == "sqlite")
    expected = on_pg if backend == "postgresql" else on_sqlite
    escalated = {e.rule for e in result.escalations}
    if expected is None:
        assert result.verdict == "proceed", escalated
        return
    assert result.verdict == "escalate" and expected in escalated, (escalated, rules(result))
    if files:  # the project module's import-time code is what escalates
        assert "module-level-code" in rules(result)
    if expected == DELETES:  # judged with the target's row count
        reason = next(e.reason for e in result.escalations if e.rule == DELETES)
        assert "50 rows" in reason


# ------------------------------------------------------------------------- no false alarms, no duplicates

QUIET_HELPER = helper('op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))')


@pytest.mark.postgres
def test_a_helper_that_only_adds_proceeds_and_its_statement_is_lifted(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, FIFTY["postgresql"])
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"SET LOCAL lock_timeout = '5s'\")\n_h()",
        downgrade='op.drop_table("tags")',
        message="x",
        extra_header=QUIET_HELPER,
    )
    result = review(example_project, pg_url)
    assert result.verdict == "proceed", [(f.rule, f.message) for f in result.findings]
    assert "unread-statement" not in rules(result)


@pytest.mark.postgres
def test_a_statement_layer_1_judged_is_not_reported_again_from_the_render(example_project, pg_url):
    upgrade_head(example_project, pg_url)
    execute(pg_url, FIFTY["postgresql"])
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.execute("DELETE FROM persons")\n_h()\nop.drop_column("persons", "pgy_level")',
        downgrade="pass",
        message="x",
        extra_header=QUIET_HELPER,
    )
    result = review(example_project, pg_url)
    deletes = [f for f in result.findings if f.rule == DELETES]
    drops = [f for f in result.findings if f.rule == "drop-column"]
    assert len(deletes) == 1 and "rendered SQL" not in deletes[0].message
    assert len(drops) == 1 and "rendered SQL" not in drops[0].message


@pytest.mark.postgres
def test_a_helper_emptying_an_empty_table_is_cleared_by_the_row_count(example_project, pg_url):
    upgrade_head(example_project, pg_url)  # rotations holds no row
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade="op.execute(\"SET LOCAL lock_timeout = '5s'\")\n_h()",
        downgrade="pass",
        message="x",
        extra_header=helper('op.get_bind().execute(sa.text("DELETE FROM rotations"))'),
    )
    result = review(example_project, pg_url)
    finding = rules(result)[DELETES]
    assert "rotations is empty" in finding.message
    assert DELETES not in {e.rule for e in result.escalations}


def test_an_installed_package_import_is_not_read(example_project, sqlite_url):
    """``import sqlalchemy`` (the venv's) and a project module of definitions only: nothing to escalate."""
    upgrade_head(example_project, sqlite_url)
    (example_project / "residency" / "names.py").write_text(
        '"""Names."""\nimport sqlalchemy as sa\n\nTABLE = "persons"\n\n\ndef column():\n    return sa.Column("x")\n'
    )
    header = "import sqlalchemy\nfrom residency.names import TABLE\n"
    write_revision(example_project, "c3c3c3c30003", HEAD, upgrade=ADD, downgrade=DROP, message="x", extra_header=header)
    result = review(example_project, sqlite_url)
    assert result.verdict == "proceed", [(f.rule, f.message) for f in result.findings]


def test_rendered_statements_drop_alembics_own_and_mark_autocommit_blocks():
    sql = (
        "-- Running upgrade a -> b\n\nALTER TABLE persons ADD COLUMN nick TEXT;\n\nCOMMIT;\n\n"
        "CREATE INDEX CONCURRENTLY ix ON persons (nick);\n\nBEGIN;\n\nDELETE FROM persons;\n\n"
        "UPDATE alembic_version SET version_num='b' WHERE alembic_version.version_num = 'a';\n\nCOMMIT;\n"
    )
    statements = [(s.text, s.in_autocommit) for s in rendered_statements(sql)]
    assert statements == [
        ("ALTER TABLE persons ADD COLUMN nick TEXT", False),
        ("CREATE INDEX CONCURRENTLY ix ON persons (nick)", True),
        ("DELETE FROM persons", False),
    ]


def test_a_batch_recreate_is_not_a_drop_table(example_project, sqlite_url):
    """SQLite's batch block renders copy, DROP TABLE, rename: the block's operations are what layer 1 judged."""
    upgrade_head(example_project, sqlite_url)
    execute(sqlite_url, FIFTY["sqlite"])
    write_revision(
        example_project,
        "c3c3c3c30003",
        HEAD,
        upgrade='persons = sa.Table("persons", sa.MetaData(), sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("name", sa.String(120)), sa.Column("pgy_level", sa.Integer()))\n'
        'with op.batch_alter_table("persons", copy_from=persons) as batch_op:\n    batch_op.drop_column("pgy_level")',
        downgrade='with op.batch_alter_table("persons") as batch_op:\n'
        '    batch_op.add_column(sa.Column("pgy_level", sa.Integer()))',
        message="x",
    )
    result = review(example_project, sqlite_url, include_sql=True)
    assert "DROP TABLE persons" in result.revisions[0].sql
    assert "drop-table" not in rules(result)
    assert [f.rule for f in result.findings].count("drop-column") == 1
    assert "drop-table-with-data" not in {e.rule for e in result.escalations}
