"""Helpers a migration imports from the project (or its virtualenv) are read from disk: a helper shown to
only compute or read is read; one that writes, or that cannot be read, stays ``unread-statement`` and
escalates. Minimal reproductions of the corpus' false alarms (superset's ``table_has_column`` guard,
indico's ``now_utc``) and of the helpers that must keep escalating.
"""

from __future__ import annotations

from pathlib import Path

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules import review_source
from alembic_mcp.tools.review.rules.effects import PURE, READS, UNKNOWN, Judge, Module, Sources, site_packages
from alembic_mcp.tools.review.rules.registry import case_source

HELPERS = '''"""Migration helpers of a project."""
import logging
from datetime import datetime, timezone

from alembic import op
from sqlalchemy import inspect

from .dates import now_utc

log = logging.getLogger(__name__)


def table_has_column(table, column):
    return any(c["name"] == column for c in get_columns(table))


def get_columns(table):
    insp = inspect(op.get_context().bind)
    return insp.get_columns(table)


def drop_if_exists(table):
    if table in inspect(op.get_bind()).get_table_names():
        op.drop_table(table)


def stamp():
    log.info("stamped")
    return now_utc()


def purge(table):
    session = db.session
    session.execute(f"DELETE FROM {table}")
'''
DATES = "from datetime import datetime, timezone\n\n\ndef now_utc():\n    return datetime.now(timezone.utc)\n"


def project(tmp_path: Path) -> Sources:
    package = tmp_path / "app" / "migrations"
    package.mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "utils.py").write_text(HELPERS)
    (package / "dates.py").write_text(DATES)
    return Sources((tmp_path,))


def unread(upgrade: str, sources: Sources, header: str) -> list[str]:
    source = case_source(upgrade, 'op.drop_column("persons", "nick")', header)
    review = review_source(parse_source(source), "m.py", "postgresql", sources=sources)
    return [h.finding.message for h in review.hits if h.finding.rule == "unread-statement"]


def test_read_only_project_helpers_are_read(tmp_path):
    sources = project(tmp_path)
    header = "from app.migrations.utils import table_has_column, stamp\n"
    upgrade = (
        'if not table_has_column("persons", "nick"):\n'
        '    op.add_column("persons", sa.Column("nick", sa.Text()))\n'
        "print(stamp())"
    )
    assert unread(upgrade, sources, header) == []


def test_writing_project_helpers_stay_unread(tmp_path):
    """``purge`` writes through a session: unread. ``drop_if_exists`` only runs ``op.drop_table`` behind an
    inspector check: read as that drop at the call's line (inline.py), which escalates as a drop."""
    sources = project(tmp_path)
    header = "from app.migrations import utils\n"
    upgrade = 'utils.drop_if_exists("legacy")\nutils.purge("persons")'
    source = case_source(upgrade, 'op.drop_column("persons", "nick")', header)
    review = review_source(parse_source(source), "m.py", "postgresql", sources=sources)
    unread = [h.finding.message for h in review.hits if h.finding.rule == "unread-statement"]
    assert len(unread) == 1 and "purge" in unread[0]
    drops = [h for h in review.hits if h.finding.rule == "drop-table"]
    assert [(h.finding.line, h.finding.table, h.escalation.rule) for h in drops if h.escalation] == [
        (10, "legacy", "drop-table-with-data")
    ]


def test_a_helper_not_on_disk_stays_unread(tmp_path):
    found = unread(
        'table_has_column("persons", "nick")', Sources((tmp_path,)), "from app.gone import table_has_column\n"
    )
    assert len(found) == 1


def test_judge_verdicts(tmp_path):
    sources = project(tmp_path)
    module = sources.module("app.migrations.utils")
    assert module is not None
    judge = Judge(sources, module)
    assert judge.function(module, module.defs["get_columns"]) == READS  # op.get_context(): a read
    assert judge.function(module, module.defs["stamp"]) == PURE  # logging and the relative import read
    assert judge.function(module, module.defs["drop_if_exists"]) == UNKNOWN
    assert judge.function(module, module.defs["purge"]) == UNKNOWN


def test_judge_on_select_text():
    module = Module("", None, parse_source(case_source("pass")).tree)
    judge = Judge(Sources(), module)

    def verdict(code: str) -> str:
        call = parse_source(code).tree.body[0].value  # type: ignore[attr-defined]
        return judge.call(call, {"bind"})

    assert verdict('bind.execute(sa.text("SELECT count(*) FROM persons"))') == READS
    assert verdict('bind.execute(sa.text("SELECT purge()"))') == UNKNOWN  # a function may write
    assert verdict('bind.execute(sa.text("WITH d AS (DELETE FROM persons RETURNING id) SELECT 1"))') == UNKNOWN
    assert verdict('bind.execute(sa.text("SELECT 1; DROP TABLE persons"))') == UNKNOWN
    assert verdict("bind.execute(sa.select(sa.func.count()))") == READS
    assert verdict("bind.execute(sa.select(sa.func.cleanup()))") == UNKNOWN
    assert verdict("bind.engine.begin()") == UNKNOWN


def test_judge_follows_a_statement_kept_in_a_variable():
    """corpus: zenml 6917bce75069 builds its duplicate check as ``query = sa.select(...)``."""
    source = (
        "def check():\n    query = sa.select(sa.func.count())\n    return op.get_bind().execute(query).fetchall()\n\n"
        "def wipe():\n    query = sa.text('DELETE FROM persons')\n    return op.get_bind().execute(query)\n\n"
        "def rebound(query):\n    query = sa.select(sa.func.count())\n    return op.get_bind().execute(query)\n"
    )
    module = Module("", None, parse_source("from alembic import op\nimport sqlalchemy as sa\n" + source).tree)
    judge = Judge(Sources(), module)
    verdicts = {name: judge.function(module, module.defs[name]) for name in ("check", "wipe", "rebound")}
    assert verdicts == {"check": READS, "wipe": UNKNOWN, "rebound": UNKNOWN}


def test_operations_on_a_proxy_a_helper_receives_are_writes():
    """corpus: airflow 0018 hands ``batch_op`` to a helper that drops an index; ``get_context().impl`` runs
    any operation. Method calls on a parameter are trusted, but never alembic's operations."""
    source = (
        "def drop(batch, name):\n    batch.drop_index(name)\n\n"
        "def raw(table):\n    op.get_context().impl.drop_table(table)\n\n"
        "def names(inspector):\n    return [i['name'] for i in inspector.get_indexes('persons')]\n"
    )
    module = Module("", None, parse_source("from alembic import op\n" + source).tree)
    judge = Judge(Sources(), module)
    verdicts = {name: judge.function(module, module.defs[name]) for name in ("drop", "raw", "names")}
    assert verdicts == {"drop": UNKNOWN, "raw": UNKNOWN, "names": PURE}


def test_site_packages_of_a_virtualenv(tmp_path):
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    assert site_packages(venv / "bin" / "python") == [venv / "lib" / "python3.12" / "site-packages"]
    assert site_packages(tmp_path / "python") == []


def test_a_column_operator_only_on_a_mapped_column():
    """``Slice.viz_type.like(...)`` is SQLAlchemy's operator when ``viz_type`` is a Column of the class; the
    same name on another object may be a method that writes."""
    source = (
        "class Writer:\n    def like(self, pattern):\n        op.execute('DROP TABLE persons')\n\n"
        "class Slice(Base):\n    __tablename__ = 'slices'\n    viz_type = sa.Column(sa.String(250))\n"
        "    helper = Writer()\n"
    )
    module = Module("", None, parse_source("from alembic import op\nimport sqlalchemy as sa\n" + source).tree)
    judge = Judge(Sources(), module)

    def verdict(code: str) -> str:
        return judge.call(parse_source(code).tree.body[0].value)  # type: ignore[attr-defined]

    assert verdict("Slice.viz_type.like('%line%')") == PURE
    assert verdict("Slice.helper.like('%line%')") == UNKNOWN


def test_methods_of_module_level_objects():
    """A logger's methods are logging's; an object of the file's own class may write."""
    source = (
        "import logging\nfrom alembic import op\n\n"
        "class Writer:\n    def info(self, text):\n        op.execute('DROP TABLE persons')\n\n"
        "log = logging.getLogger(__name__)\nwriter = Writer()\n"
    )
    module = Module("", None, parse_source(source).tree)
    judge = Judge(Sources(), module)
    assert judge.call(parse_source("log.info('x')").tree.body[0].value) == PURE  # type: ignore[attr-defined]
    assert judge.call(parse_source("writer.info('x')").tree.body[0].value) == UNKNOWN  # type: ignore[attr-defined]
