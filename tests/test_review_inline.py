"""Helpers that only run ``op.*`` operations are read as those operations at their call (rules/inline.py).

Minimal reproductions of the corpus' helpers: superset's ``create_table`` / ``add_columns`` /
``drop_columns`` / ``create_index`` / ``create_fks_for_table`` (an existence check, logging, a loop over
``*columns`` into a batch block), dagster's column builders (``sa.Column`` made in the helper). Beside
each, the close variant that must still escalate: a helper that looks like a wrapper but also writes, or
passes on a value of its own. Both backends; findings point at the migration's call line.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules import review_source
from alembic_mcp.tools.review.rules.effects import Sources
from alembic_mcp.tools.review.rules.registry import case_source

UTILS = '''"""Shared migration helpers, in the style of superset.migrations.shared.utils."""
import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy import inspect

logger = logging.getLogger("alembic.env")


def has_table(table_name):
    return inspect(op.get_context().bind).has_table(table_name)


def table_has_column(table_name, column_name):
    insp = inspect(op.get_context().bind)
    return any(c["name"] == column_name for c in insp.get_columns(table_name))


def create_table(table_name, *columns, **kwargs):
    if has_table(table_name=table_name):
        logger.info("Table %s already exists. Skipping...", table_name)
        return
    op.create_table(table_name, *columns, **kwargs)


def add_columns(table_name, *columns):
    cols_to_add = []
    for col in columns:
        if table_has_column(table_name=table_name, column_name=col.name):
            logger.info("Column %s already present", col.name)
        else:
            cols_to_add.append(col)
    with op.batch_alter_table(table_name) as batch_op:
        for col in cols_to_add:
            batch_op.add_column(col)


def drop_columns(table_name, *columns):
    with op.batch_alter_table(table_name) as batch_op:
        for col in columns:
            batch_op.drop_column(col)


def create_index(table_name, index_name, columns, *, unique=False):
    op.create_index(table_name=table_name, index_name=index_name, unique=unique, columns=columns)


def add_cached_column():
    if not has_table("persons"):
        return
    op.add_column("persons", sa.Column("cached", sa.Text(), nullable=False))


def add_and_purge(table_name, *columns):
    for col in columns:
        op.add_column(table_name, col)
    op.get_bind().execute(sa.text("DELETE FROM " + table_name))


def drop_computed(prefix):
    op.drop_table(prefix + "_old")


def drop_all_but(table_name, keep):
    for name in [c["name"] for c in inspect(op.get_bind()).get_columns(table_name)]:
        if name != keep:
            op.drop_column(table_name, name)


def add_then_log(table_name, col):
    op.add_column(table_name, col)
    col.info.update(done=True)


def create_then_seed(table_name, *columns):
    op.create_table(table_name, *columns)
    op.bulk_insert(sa.table(table_name), [{"id": 1}])
'''
DOWN = 'op.drop_column("persons", "nick")'
BACKENDS = ["sqlite", "postgresql"]


def _sources(tmp_path: Path) -> Sources:
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "utils.py").write_text(UTILS)
    return Sources((tmp_path,))


def _review(tmp_path: Path, upgrade: str, backend: str, downgrade: str = DOWN, names: str = ""):
    imported = names or "add_columns, create_index, create_table, drop_columns"
    header = f"from app.utils import {imported}\n"
    source = case_source(upgrade, downgrade, header)
    return source, review_source(parse_source(source), "m.py", backend, sources=_sources(tmp_path))


def _unread(review) -> list[str]:
    return [h.finding.message for h in review.hits if h.finding.rule == "unread-statement"]


def _line_of(source: str, text: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_columns_is_read_as_add_column_per_column(tmp_path, backend):
    """``add_columns("persons", col1, col2)``: two add_column in a batch block, judged by the column rules."""
    upgrade = (
        'add_columns("persons", sa.Column("nick", sa.Text(), nullable=True),\n'
        '            sa.Column("badge", sa.Integer(), nullable=False))'
    )
    source, review = _review(tmp_path, upgrade, backend)
    assert _unread(review) == []
    required = [h.finding for h in review.hits if h.finding.rule == "add-column-required"]
    assert [(f.table, f.line) for f in required] == [("persons", _line_of(source, "add_columns("))]
    assert "badge" in required[0].message and "nick" not in required[0].message


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_columns_with_a_nullable_column_needs_no_fix(tmp_path, backend):
    _, review = _review(tmp_path, 'add_columns("persons", sa.Column("nick", sa.Text(), nullable=True))', backend)
    assert _unread(review) == []
    assert [h.finding.rule for h in review.hits if h.finding.severity == "error"] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_table_then_index_on_it_is_a_new_table(tmp_path, backend):
    """superset's create_table skips an existing table: the table still counts as created by the revision,
    so the index on it is not a lock on a filled table."""
    upgrade = (
        'create_table("badges", sa.Column("id", sa.Integer(), primary_key=True),\n'
        '             sa.Column("person_id", sa.Integer(), sa.ForeignKey("persons.id")))\n'
        'create_index("badges", "ix_badges_person_id", ["person_id"])'
    )
    _, review = _review(tmp_path, upgrade, backend, downgrade='op.drop_table("badges")')
    assert _unread(review) == []
    rules = {h.finding.rule for h in review.hits}
    assert "create-index-non-concurrent" not in rules and "fk-missing-index" not in rules


def test_create_index_on_an_existing_table_is_judged_at_the_call(tmp_path):
    source, review = _review(tmp_path, 'create_index("persons", "ix_persons_email", ["email"])', "postgresql")
    assert _unread(review) == []
    [index] = [h.finding for h in review.hits if h.finding.rule == "create-index-non-concurrent"]
    assert index.table == "persons" and index.line == _line_of(source, "create_index(")


@pytest.mark.parametrize("backend", BACKENDS)
def test_drop_columns_escalates_as_a_drop_with_data(tmp_path, backend):
    source, review = _review(tmp_path, 'drop_columns("persons", "email")', backend, downgrade="pass")
    assert _unread(review) == []
    escalated = {(h.escalation.rule, h.finding.line) for h in review.hits if h.escalation is not None}
    assert ("drop-column-with-data", _line_of(source, "drop_columns(")) in escalated


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_helper_building_its_own_column_is_read(tmp_path, backend):
    """dagster style: ``sa.Column(...)`` made inside the helper, behind a table check."""
    _, review = _review(tmp_path, "add_cached_column()", backend, names="add_cached_column")
    assert _unread(review) == []
    assert "add-column-required" in {h.finding.rule for h in review.hits}


HOSTILE = {
    "writes-after-its-operations": ('add_and_purge("persons", sa.Column("nick", sa.Text()))', "add_and_purge"),
    "computes-the-table-name": ('drop_computed("persons")', "drop_computed"),
    "loops-over-what-it-reads": ('drop_all_but("persons", "id")', "drop_all_but"),
    "calls-a-method-of-the-value": ('add_then_log("persons", sa.Column("nick", sa.Text()))', "add_then_log"),
    "runs-an-operation-not-read": ('create_then_seed("t", sa.Column("id", sa.Integer()))', "create_then_seed"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_helper_that_does_more_than_its_operations_stays_unread(tmp_path, backend, name):
    upgrade, helper = HOSTILE[name]
    _, review = _review(tmp_path, upgrade, backend, names=helper)
    assert len(_unread(review)) == 1 and helper in _unread(review)[0]
    assert "uninspectable-sql" in {h.escalation.rule for h in review.hits if h.escalation is not None}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tampering_helper_module_is_not_read(tmp_path, backend):
    """A helper module that rebinds alembic's op is trusted in nothing, wrappers included."""
    sources = _sources(tmp_path)
    utils = tmp_path / "app" / "utils.py"
    utils.write_text(UTILS + "\n\nop.create_index = op.drop_table\n")
    source = case_source('create_index("persons", "ix", ["email"])', DOWN, "from app.utils import create_index\n")
    review = review_source(parse_source(source), "m.py", backend, sources=sources)
    assert len(_unread(review)) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_starred_call_site_is_not_read(tmp_path, backend):
    upgrade = 'cols = [sa.Column("nick", sa.Text())]\nadd_columns("persons", *cols)'
    _, review = _review(tmp_path, upgrade, backend)
    assert len(_unread(review)) == 1


def test_a_helper_defined_in_the_migration_is_read_at_its_call():
    source = case_source(
        '_add("persons", "nick")',
        DOWN,
        "\n\ndef _add(table, name):\n    op.add_column(table, sa.Column(name, sa.Text(), nullable=False))\n\n",
    )
    review = review_source(parse_source(source), "m.py", "postgresql")
    assert _unread(review) == []
    [required] = [h.finding for h in review.hits if h.finding.rule == "add-column-required"]
    assert required.line == _line_of(source, '_add("persons"')


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_early_return_for_another_dialect_guards_the_rest(backend):
    """dagster 026: ``if bind.engine.name != "mysql": return`` - what follows runs on MySQL only."""
    upgrade = 'bind = op.get_bind()\nif bind.engine.name != "mysql":\n    return\nop.drop_column("persons", "email")'
    review = review_source(parse_source(case_source(upgrade, "pass")), "m.py", backend)
    assert "drop-column" not in {h.finding.rule for h in review.hits}
    mysql = review_source(parse_source(case_source(upgrade, "pass")), "m.py", "mysql")
    assert "drop-column" in {h.finding.rule for h in mysql.hits}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_table_named_by_a_constant_is_that_table(tmp_path, backend):
    """superset 02f4f7811799: ``op.drop_table(table_name)`` in upgrade, the helper's create_table(table_name,
    ...) in downgrade: the same table, so the downgrade is the inverse."""
    header = 'from app.utils import create_table\n\nTABLE = "persons_old"\n'
    source = case_source(
        "op.drop_table(TABLE)", 'create_table(TABLE, sa.Column("id", sa.Integer(), primary_key=True))', header
    )
    sources = _sources(tmp_path)
    review = review_source(parse_source(source), "m.py", backend, sources=sources)
    assert "downgrade-not-inverse" not in {h.finding.rule for h in review.hits}
    assert {h.finding.table for h in review.hits if h.finding.rule == "drop-table"} == {"persons_old"}
    rebound = source.replace("op.drop_table(TABLE)", 'TABLE = "persons"\n    op.drop_table(TABLE)')
    review = review_source(parse_source(rebound), "m.py", backend, sources=sources)
    assert {h.finding.table for h in review.hits if h.finding.rule == "drop-table"} == {None}


INSTALLED = '''"""An installed package's helpers: one function writing row objects beside a plain wrapper."""
from alembic import op

BATCH = 1000


def create_index(table_name, index_name, columns):
    op.create_index(index_name, table_name, columns)


def touch_rows(rows):
    for row in rows:
        row.seen = True
'''


def _installed(tmp_path: Path, text: str, recorded: bool = True, init: str = "VERSION = '1.0'\n") -> Sources:
    """``vendor`` installed in a site-packages, with the RECORD pip writes (its files' sha256) unless not."""
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    (site / "vendor").mkdir(parents=True)
    (site / "vendor" / "__init__.py").write_text(init)
    (site / "vendor" / "utils.py").write_text(text)
    if recorded:
        rows = []
        for relative in ("vendor/__init__.py", "vendor/utils.py"):
            digest = hashlib.sha256((site / relative).read_bytes()).digest()
            rows.append(f"{relative},sha256={base64.urlsafe_b64encode(digest).rstrip(b'=').decode()},0")
        (site / "vendor-1.0.dist-info").mkdir()
        (site / "vendor-1.0.dist-info" / "RECORD").write_text("\n".join(rows) + "\n")
    return Sources((tmp_path, site))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_installed_package_is_read_apart_from_its_writing_function(tmp_path, backend):
    """superset's utils run code on import and hold a function writing ORM rows: the wrapper beside them is
    still read; the function that writes objects is not, nor a package whose module-level code tampers."""
    header = "from vendor.utils import create_index, touch_rows\n"
    source = case_source('create_index("persons", "ix_persons_email", ["email"])\ntouch_rows([])', DOWN, header)
    review = review_source(parse_source(source), "m.py", backend, sources=_installed(tmp_path, INSTALLED))
    unread = _unread(review)
    assert len(unread) == 1 and "touch_rows" in unread[0]
    patched = INSTALLED + "\nop.create_index = op.drop_table\n"  # module-level code that tampers
    review = review_source(parse_source(source), "m.py", backend, sources=_installed(tmp_path / "p", patched))
    assert {m.split(" calls ")[1].split("(")[0] for m in _unread(review)} == {"create_index", "touch_rows"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_installed_file_counts_as_the_packages_only_as_pip_recorded_it(tmp_path, backend):
    """Import-time code of an installed file is the package's only when the file is what its RECORD hashes:
    a file written into site-packages since (no RECORD, or changed after) is judged like the project's."""
    header = "from vendor.utils import create_index, touch_rows\n"
    source = case_source('create_index("persons", "ix_persons_email", ["email"])\ntouch_rows([])', DOWN, header)
    with_env = INSTALLED.replace("BATCH = 1000", 'import os\nBATCH = int(os.environ.get("BATCH", 1000))')
    recorded = _installed(tmp_path / "a", with_env)
    assert len(_unread(review_source(parse_source(source), "m.py", backend, sources=recorded))) == 1
    unrecorded = _installed(tmp_path / "b", with_env, recorded=False)
    review = review_source(parse_source(source), "m.py", backend, sources=unrecorded)
    assert {m.split(" calls ")[1].split("(")[0] for m in _unread(review)} == {"create_index", "touch_rows"}
    changed = _installed(tmp_path / "c", with_env)
    utils = next((tmp_path / "c").rglob("vendor/utils.py"))
    utils.write_text(utils.read_text() + 'op.execute("DELETE FROM persons")\n')
    review = review_source(parse_source(source), "m.py", backend, sources=changed)
    assert {m.split(" calls ")[1].split("(")[0] for m in _unread(review)} == {"create_index", "touch_rows"}


# dagster's and zenml's own ``__init__`` (as pip installed them): an introspection import used only in a
# function, a star import binding the package's own names, entry-point hooks run on import
DAGSTER_INIT = (
    "import importlib\nimport sys\n\nVERSION = '1.0'\n\n\ndef __getattr__(name):\n"
    "    if sys.version_info >= (3, 7):\n        return importlib.import_module('vendor.old')\n"
    "    raise AttributeError(name)\n"
)
ZENML_INIT = (
    "from importlib.metadata import entry_points\n\n\ndef _run_init_hooks():\n"
    "    for entrypoint in entry_points().select(group='vendor.init_hooks'):\n        entrypoint.load()()\n\n\n"
    "_run_init_hooks()\n\nfrom vendor.models import *  # noqa: F401\n"
)
INSTALLED_INITS = {"dagster": DAGSTER_INIT, "zenml": ZENML_INIT}


def _read_calls(review) -> set[str]:
    return {m.split(" calls ")[1].split("(")[0] for m in _unread(review)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("init", sorted(INSTALLED_INITS))
def test_an_installed_parent_package_runs_first_as_its_package_wrote_it(tmp_path, backend, init):
    """dagster 1.13 and zenml 0.98: their helpers' parent ``__init__`` imports importlib (used in a function)
    or star-imports its own models. Recorded by pip, it runs first as the package's code: the wrapper in the
    submodule is read; the function writing objects beside it still is not."""
    header = "from vendor.utils import create_index, touch_rows\n"
    source = case_source('create_index("persons", "ix_persons_email", ["email"])\ntouch_rows([])', DOWN, header)
    sources = _installed(tmp_path, INSTALLED, init=INSTALLED_INITS[init])
    assert _read_calls(review_source(parse_source(source), "m.py", backend, sources=sources)) == {"touch_rows"}


HOSTILE_INITS = {  # a recorded parent package whose import-time code changes what another module's lines mean
    "importlib-used-on-import": "import importlib\n\nimportlib.reload(importlib.import_module('alembic.op'))\n",
    "imported-name-used-on-import": "from importlib import reload\nfrom alembic import op\n\nreload(op)\n",
    "star-import-then-patch": (
        "from vendor.models import *\nfrom alembic import op\n\nop.create_index = op.drop_table\n"
    ),
    "introspection-star-import": "from importlib import *\n\nreload(__import__('alembic'))\n",
    "sys-modules-through-from-import": "from sys import modules\n\nmodules.pop('alembic.op')\n",
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(HOSTILE_INITS))
def test_a_parent_package_that_changes_other_modules_trusts_nothing_below_it(tmp_path, backend, name):
    header = "from vendor.utils import create_index, touch_rows\n"
    source = case_source('create_index("persons", "ix_persons_email", ["email"])\ntouch_rows([])', DOWN, header)
    sources = _installed(tmp_path, INSTALLED, init=HOSTILE_INITS[name])
    review = review_source(parse_source(source), "m.py", backend, sources=sources)
    assert _read_calls(review) == {"create_index", "touch_rows"}, name
    assert "uninspectable-sql" in {h.escalation.rule for h in review.hits if h.escalation is not None}


@pytest.mark.parametrize("backend", BACKENDS)
def test_unrecorded_or_own_star_imports_are_not_relaxed(tmp_path, backend):
    """The relaxation holds for a parent as pip recorded it, and only for its role as a parent: a star import
    in the module whose functions are read, or an unrecorded parent, still leaves the helpers unread."""
    header = "from vendor.utils import create_index, touch_rows\n"
    source = case_source('create_index("persons", "ix_persons_email", ["email"])\ntouch_rows([])', DOWN, header)
    unrecorded = _installed(tmp_path / "a", INSTALLED, recorded=False, init=ZENML_INIT)
    assert _read_calls(review_source(parse_source(source), "m.py", backend, sources=unrecorded)) == {
        "create_index",
        "touch_rows",
    }
    own_star = _installed(tmp_path / "b", "from vendor.models import *\n" + INSTALLED)
    assert _read_calls(review_source(parse_source(source), "m.py", backend, sources=own_star)) == {
        "create_index",
        "touch_rows",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_installed_function_using_an_introspection_import_is_distrusted_alone(tmp_path, backend):
    """``import importlib`` at the top of an installed module no longer distrusts the module: the function
    using it does (its lines), as one writing objects does; a module-level use distrusts the module."""
    header = "from vendor.utils import create_index, reload_op\n"
    source = case_source('create_index("persons", "ix_persons_email", ["email"])\nreload_op()', DOWN, header)
    helper = "\n\ndef reload_op():\n    il.reload(op)\n"
    sources = _installed(tmp_path / "a", "import importlib as il\n" + INSTALLED + helper)
    assert _read_calls(review_source(parse_source(source), "m.py", backend, sources=sources)) == {"reload_op"}
    on_import = "import importlib as il\n" + INSTALLED + helper + "\nOP = il.import_module('alembic.op')\n"
    sources = _installed(tmp_path / "b", on_import)
    assert _read_calls(review_source(parse_source(source), "m.py", backend, sources=sources)) == {
        "create_index",
        "reload_op",
    }


# ------------------------------------------------------------ through review_migration, on real databases

PROJECT_UTILS = '''"""Migration helpers of the example project."""
from alembic import op
from sqlalchemy import inspect


def add_columns(table_name, *columns):
    existing = {c["name"] for c in inspect(op.get_bind()).get_columns(table_name)}
    with op.batch_alter_table(table_name) as batch_op:
        for col in columns:
            batch_op.add_column(col)
    return existing


def add_columns_and_wipe(table_name, *columns):
    with op.batch_alter_table(table_name) as batch_op:
        for col in columns:
            batch_op.add_column(col)
    op.execute("DELETE FROM " + table_name)
'''
FILLED_PERSON = "INSERT INTO persons (id, name, email, role) VALUES (1, 'Ann', 'a@x', 'resident')"


def _project_review(project: Path, url: str, helper: str, column: str):
    from conftest import write_revision
    from test_review_migration import HEAD, review

    (project / "residency" / "migration_utils.py").write_text(PROJECT_UTILS)
    upgrade = f'{helper}("persons", {column})'
    path = write_revision(
        project,
        "c3c3c3c30009",
        HEAD,
        upgrade=upgrade,
        downgrade='op.drop_column("persons", "badge")',
        message="badge",
        extra_header=f"from residency.migration_utils import {helper}\n",
    )
    return review(project, url), path


@pytest.mark.postgres
def test_project_helper_read_at_its_call_on_postgresql(example_project, pg_url):
    from test_review_migration import execute, upgrade_head

    upgrade_head(example_project, pg_url)
    execute(pg_url, FILLED_PERSON)
    result, path = _project_review(
        example_project, pg_url, "add_columns", 'sa.Column("badge", sa.Integer(), nullable=False)'
    )
    assert "unread-statement" not in {f.rule for f in result.findings}
    [required] = [f for f in result.findings if f.rule == "add-column-required"]
    assert required.table == "persons" and "add_columns(" in path.read_text().splitlines()[required.line - 1]
    assert result.verdict == "fix"
    result, _ = _project_review(example_project, pg_url, "add_columns_and_wipe", 'sa.Column("badge", sa.Integer())')
    assert "unread-statement" in {f.rule for f in result.findings} and result.verdict == "escalate"


def test_project_helper_read_at_its_call_on_sqlite(example_project, sqlite_url):
    from test_review_migration import upgrade_head

    upgrade_head(example_project, sqlite_url)
    result, _ = _project_review(example_project, sqlite_url, "add_columns", 'sa.Column("badge", sa.Integer())')
    assert "unread-statement" not in {f.rule for f in result.findings}
    assert result.verdict == "proceed", [(f.rule, f.message) for f in result.findings]
    result, _ = _project_review(example_project, sqlite_url, "add_columns_and_wipe", 'sa.Column("badge", sa.Integer())')
    assert result.verdict == "escalate"


# ------------------------------------------------------------ ORM rows written through a session

ORM_HEADER = (
    "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\n"
    "class Slice(Base):\n    __tablename__ = 'slices'\n    id = sa.Column(sa.Integer, primary_key=True)\n"
    "    params = sa.Column(sa.Text)\n\n\n"
)
ORM_UPGRADE = (
    "session = sa.orm.Session(bind=op.get_bind())\n"
    "for i, slc in enumerate(session.query(Slice).filter(Slice.params.like('%x%')).all()):\n"
    "    slc.params = '{}'\n"
    "session.commit()"
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_orm_row_writes_are_not_module_tampering(backend):
    """superset db0c65b146bd: ``slc.params = ...`` on rows of a session query is a data write. The file is not
    tampering (its other lines keep their meaning); the session itself still escalates as unread."""
    from alembic_mcp.tools.review.rules.tamper import tampering

    source = case_source(ORM_UPGRADE, "pass", ORM_HEADER)
    assert tampering(parse_source(source).tree) is None
    review = review_source(parse_source(source), "m.py", backend)
    assert "module-level-code" not in {h.finding.rule for h in review.hits}
    [unread] = _unread(review)
    assert "Session" in unread
    assert "uninspectable-sql" in {h.escalation.rule for h in review.hits if h.escalation is not None}


ORM_HOSTILE = {
    "not-a-session": ORM_UPGRADE.replace("sa.orm.Session(bind=op.get_bind())", "Slice"),
    "rows-of-a-module": ORM_UPGRADE.replace("session.query(Slice)", "session.query(sa)"),
    "a-class-with-a-method": ORM_UPGRADE,
    "rebound-row": ORM_UPGRADE.replace("    slc.params = '{}'", "    slc = sa\n    slc.text = '{}'"),
}


@pytest.mark.parametrize("name", sorted(ORM_HOSTILE))
def test_writes_that_are_not_orm_rows_stay_tampering(name):
    from alembic_mcp.tools.review.rules.tamper import tampering

    header = ORM_HEADER
    if name == "a-class-with-a-method":
        header = ORM_HEADER.replace(
            "    params = sa.Column(sa.Text)\n",
            "    params = sa.Column(sa.Text)\n\n    def __setattr__(self, k, v):\n        op.drop_table(k)\n",
        )
    assert tampering(parse_source(case_source(ORM_HOSTILE[name], "pass", header)).tree) is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_session_of_the_files_own_making_still_escalates(backend):
    """A class named Session in the file that hands out anything: its rows are exempt from tampering only
    because opening any ``Session(...)`` escalates the revision."""
    header = ORM_HEADER + "class Session:\n    def __init__(self, bind):\n        self.bind = bind\n\n\n"
    upgrade = ORM_UPGRADE.replace("sa.orm.Session(", "Session(")
    review = review_source(parse_source(case_source(upgrade, "pass", header)), "m.py", backend)
    assert "uninspectable-sql" in {h.escalation.rule for h in review.hits if h.escalation is not None}


# ------------------------------------------------------------------ hostile review of the readings above

MYSQL_ONLY = 'dialect = "mysql"\nif dialect != "mysql":\n    return\n'
ALIAS = (
    "import sqlalchemy as sa\nfrom alembic import op\n\n\ndef alter(table_name, column_name, **kwargs):\n"
    "    options = kwargs\n    options.update(type_=sa.String(1))\n"
    "    with op.batch_alter_table(table_name) as batch_op:\n        batch_op.alter_column(column_name, **kwargs)\n"
)
WRAPPER = "from alembic import op\n\n\ndef create_index(t, name, cols):\n    op.create_index(name, t, cols)\n"
PATCH = (
    "from alembic import op\n\n\ndef _drop(*a, **k):\n    op.drop_table('assignments')\n\n\nop.create_index = _drop\n"
)
INSTALL = "from alembic import op\n\n\ndef _install():\n    op.create_index = None\n\n\n_install()\n"
INDEX = ('create_index("persons", "ix_e", ["email"])', 'op.drop_index("ix_e", table_name="persons")')
FAKE_DIALECT = (
    'bind = SimpleNamespace(dialect=SimpleNamespace(name="mysql"))\nif bind.dialect.name == "mysql":\n'
    '    op.drop_column("persons", "pgy_level")\n'
)
INLINE_ATTACKS = {  # name: (upgrade, downgrade, header, {file: text}, the escalation due)
    "dialect-variable-early-return": (
        MYSQL_ONLY + 'op.drop_column("persons", "pgy_level")',
        MYSQL_ONLY + 'op.add_column("persons", sa.Column("pgy_level", sa.Integer()))',
        "",
        {},
        "drop-column-with-data",
    ),
    "dialect-constant-branch": (
        'dialect = "mysql"\nif dialect == "mysql":\n    op.drop_column("persons", "pgy_level")',
        'op.add_column("persons", sa.Column("pgy_level", sa.Integer()))',
        "",
        {},
        "drop-column-with-data",
    ),
    "dialect-of-a-fake-connection": (
        FAKE_DIALECT,
        'op.add_column("persons", sa.Column("pgy_level", sa.Integer()))',
        "from types import SimpleNamespace\n",
        {},
        "drop-column-with-data",
    ),
    "kwargs-mutated-through-alias": (
        'alter("persons", "pgy_level", server_default="1")',
        'op.alter_column("persons", "pgy_level", server_default=None)',
        "from app.u import alter\n",
        {"app/__init__.py": "", "app/u.py": ALIAS},
        "uninspectable-sql",
    ),
    "installed-parent-init-patches-op": (
        *INDEX,
        "from vendor.utils import create_index\n",
        {"site-packages/vendor/__init__.py": PATCH, "site-packages/vendor/utils.py": WRAPPER},
        "uninspectable-sql",
    ),
    "installed-import-time-call-patches-op": (
        *INDEX,
        "from vendor.utils import create_index\n",
        {"site-packages/vendor/__init__.py": "", "site-packages/vendor/utils.py": WRAPPER + INSTALL},
        "uninspectable-sql",
    ),
    "installed-import-time-delete": (
        *INDEX,
        "from vendor.utils import create_index\n",
        {
            "site-packages/vendor/__init__.py": "",
            "site-packages/vendor/utils.py": WRAPPER + 'op.execute("DELETE FROM persons")\n',
        },
        "uninspectable-sql",
    ),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", sorted(INLINE_ATTACKS))
def test_hostile_inline_attacks_escalate(name, backend, tmp_path):
    """Found by a hostile review of the helper readings: each changed the database while the review proceeded."""
    upgrade, downgrade, header, files, due = INLINE_ATTACKS[name]
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    sources = Sources((tmp_path, tmp_path / "site-packages"))
    review = review_source(parse_source(case_source(upgrade, downgrade, header)), "m.py", backend, sources=sources)
    assert due in {h.escalation.rule for h in review.hits if h.escalation is not None}, name


REBOUND_BIND = (  # airflow 0042: ``conn = op.get_bind()`` again in the sqlite branch, the dialect read before
    'conn = op.get_bind()\ndialect_name = conn.dialect.name\nif dialect_name == "sqlite":\n'
    '    conn = op.get_bind()\nif dialect_name == "mysql":\n    op.drop_column("persons", "pgy_level")'
)
ANNOTATED_BIND = (  # zenml: ``bind: Connection = op.get_bind()``
    'bind: Connection = op.get_bind()\nif bind.dialect.name == "mysql":\n    op.drop_column("persons", "pgy_level")'
)
FAKE_CONN = 'SimpleNamespace(dialect=SimpleNamespace(name="mysql"))'
DROP_IF_MYSQL = 'if conn.dialect.name == "mysql":\n    op.drop_column("persons", "pgy_level")'
BIND_HOSTILE = {  # a name bound to the connection and to something else, or annotated without the connection
    "rebound-to-a-fake": (
        f'conn = op.get_bind()\nif conn.dialect.name == "sqlite":\n    conn = {FAKE_CONN}\n{DROP_IF_MYSQL}'
    ),
    "fake-after-the-connection": f"conn = op.get_bind()\nconn = {FAKE_CONN}\n{DROP_IF_MYSQL}",
    "dialect-name-rebound": REBOUND_BIND.replace("    conn = op.get_bind()", '    dialect_name = "mysql"'),
    "annotated-fake": ANNOTATED_BIND.replace("op.get_bind()", FAKE_CONN),
    "augmented": REBOUND_BIND.replace("    conn = op.get_bind()", '    dialect_name += ""'),
}
BIND_HEADER = "from types import SimpleNamespace\n\nfrom sqlalchemy.engine import Connection\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_connection_bound_twice_or_annotated_still_guards(backend):
    """Every binding of the name is the migration's own connection (one same expression), or an annotated
    assignment of it: the other dialect's branch is not judged for the target."""
    for body in (REBOUND_BIND, ANNOTATED_BIND):
        source = case_source(body, 'op.add_column("persons", sa.Column("pgy_level", sa.Integer()))', BIND_HEADER)
        review = review_source(parse_source(source), "m.py", backend, sources=Sources(()))
        assert "drop-column-with-data" not in {h.escalation.rule for h in review.hits if h.escalation}, body


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(BIND_HOSTILE))
def test_a_name_bound_to_the_connection_and_to_anything_else_is_no_guard(backend, name):
    source = case_source(
        BIND_HOSTILE[name], 'op.add_column("persons", sa.Column("pgy_level", sa.Integer()))', BIND_HEADER
    )
    review = review_source(parse_source(source), "m.py", backend, sources=Sources(()))
    assert "drop-column-with-data" in {h.escalation.rule for h in review.hits if h.escalation}, name


def test_a_dialect_read_from_the_migrations_own_connection_still_guards(tmp_path):
    """The believable forms: op.get_bind() read in the test, or a name bound once to it."""
    for guard in ('op.get_bind().dialect.name == "mysql"', 'bind.dialect.name == "mysql"'):
        body = f'bind = op.get_bind()\nif {guard}:\n    op.drop_column("persons", "pgy_level")'
        review = review_source(parse_source(case_source(body, "pass")), "m.py", "postgresql", sources=Sources(()))
        assert "drop-column-with-data" not in {h.escalation.rule for h in review.hits if h.escalation}, guard
