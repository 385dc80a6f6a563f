"""Reading the helpers a migration calls must never let a write through: the hostile review of branch
``prec`` (helpers/hostile-prec.md) as data. Each case is a migration (and the project modules it imports)
that changes the database while looking read-only: mutated statements, rebound names, decorators and
dunder hooks, packages shadowing modules, import-time code, writable CTEs and functions in SELECTs,
CREATE FUNCTION, downgrade guards that write. Every one must escalate as main did, on both backends.

The cases live in tests/data/bypass_prec.json ({case: {escalation, migration, files}}); ``files`` are laid
over a copy of the example project's ``residency`` package, which the review reads helpers from.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from test_review_migration import review, upgrade_head

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review import reads
from alembic_mcp.tools.review.rules import review_source
from alembic_mcp.tools.review.rules.effects import Sources
from alembic_mcp.tools.review.rules.tamper import tampering

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = json.loads((ROOT / "tests" / "data" / "bypass_prec.json").read_text())


def _escalations(case: dict, tmp_path: Path, backend: str) -> set[str]:
    shutil.copytree(ROOT / "examples" / "residency" / "residency", tmp_path / "residency")
    for relative, text in case["files"].items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    migration = tmp_path / "c3000000000a_x.py"
    migration.write_text(case["migration"])
    review = review_source(parse_source(case["migration"], migration), "m.py", backend, sources=Sources((tmp_path,)))
    return {h.escalation.rule for h in review.hits if h.escalation is not None}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_escalates(name, backend, tmp_path):
    case = ATTACKS[name]
    assert case["escalation"] in _escalations(case, tmp_path, backend), name


READ_SQL = [
    # PostgreSQL's JSON and array operators are operators (corpus: indico 7551bd141960), not functions
    "SELECT rd.id FROM registration_data rd WHERE rd.data ? 'isNoAccommodation'",
    "SELECT d->>'k', d #> '{a}' FROM t WHERE d @> '{}' AND d ?| ARRAY['a', 'b'] AND tags && ARRAY['x']",
    "SELECT count(*) FROM persons",
    "SELECT id, lower(name) FROM persons WHERE coalesce(role, 'r') = 'r' ORDER BY id",
    "SELECT max(id) FROM persons UNION SELECT min(id) FROM rotations",
    "SELECT id FROM persons WHERE role IS NOT NULL AND (name = 'x' OR id > 3)",  # AND/OR: operators
]
NOT_READ_SQL = [
    "SELECT a FROM t WHERE purge(d) ? 'k'",  # an operator over a function's result: the function may write
    "SELECT d->>evil() FROM t",
    "SELECT setval('persons_id_seq', 1)",
    "SELECT \"setval\"('persons_id_seq', 1)",
    "SELECT setval/**/('persons_id_seq', 1)",
    "SELECT SETVAL('persons_id_seq', 1)",
    "WITH d AS (DELETE FROM persons RETURNING id) SELECT id FROM d",
    "SELECT * INTO persons_copy FROM persons",
    "SELECT id FROM persons FOR UPDATE",
    "SELECT 1; DELETE FROM persons",
    "SELECT purge_persons()",
    "DELETE FROM persons",
    "SELECT pg_terminate_backend(1)",
    "SELECT id FROM persons WHERE role IS NULL AND purge_persons() > 0",
    'SELECT "and"(1)',
]


@pytest.mark.parametrize("sql", READ_SQL)
def test_plain_selects_are_reads(sql):
    assert reads.sql_reads(sql)


@pytest.mark.parametrize("sql", NOT_READ_SQL)
def test_selects_that_may_write_are_not_reads(sql):
    assert not reads.sql_reads(sql)


def test_read_functions_are_pure_builtins_only():
    assert {"count", "lower", "coalesce", "max"} <= reads.READ_FUNCTIONS
    assert not {"setval", "nextval", "pg_terminate_backend", "set_config", "lo_unlink"} & reads.READ_FUNCTIONS


TAMPERING = [
    'stmt = sa.text("SELECT 1")\nstmt.text = "DELETE FROM persons"',
    'globals()["SQL"] = "DELETE FROM persons"',
    "upgrade.__globals__['SQL'] = 'x'",
    "import sys\nsys.modules[__name__].SQL = 'x'",
    "from residency.more import *",
    "sa.text = lambda s: s",
    "del sa.text",
    "setattr(sa, 'text', None)",
    "import importlib",
]
FRESH = [
    "rows = {}\nrows['a'] = 1",
    "def f():\n    found = defaultdict(set)\n    found['a'] |= {1}",
    "class A:\n    def __init__(self, x):\n        self.x = x",
    "def f(**options):\n    options['encoding'] = None",
    "def f():\n    d: dict = {}\n    d['a'] = 1",
]


@pytest.mark.parametrize("code", TAMPERING)
def test_tampering_is_found(code):
    assert tampering(ast.parse(code))


@pytest.mark.parametrize("code", FRESH)
def test_writing_a_fresh_container_is_not_tampering(code):
    assert tampering(ast.parse(code)) is None


END_TO_END = [
    "v01_text_mutated_upgrade",
    "h17_local_shadows_pure_def",
    "v15_pkg_shadows_module_const",
    "g02_guard_side_effect",
]


@pytest.mark.parametrize("name", END_TO_END)
def test_attack_escalates_through_the_tool(name, example_project, sqlite_url):
    """The whole review_migration on a real SQLite target migrated to head: the attack escalates."""
    case = ATTACKS[name]
    upgrade_head(example_project, sqlite_url)
    for relative, text in case["files"].items():
        (example_project / relative).parent.mkdir(parents=True, exist_ok=True)
        (example_project / relative).write_text(text)
    (example_project / "migrations" / "versions" / "c3000000000a_x.py").write_text(case["migration"])
    result = review(example_project, sqlite_url)
    assert result.verdict == "escalate" and case["escalation"] in {e.rule for e in result.escalations}
