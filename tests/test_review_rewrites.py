"""A statement that changes what other lines mean (a write into an imported module, through any alias) is
unread-statement and escalates; writes into values the function made itself, reads of a mapped class's
__tablename__ and a clause's .compile() are not."""

from __future__ import annotations

import textwrap

import pytest

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.rules import lint_migration

HEADER = (
    "import functools\nimport json\nimport sqlalchemy as sa\nfrom alembic import op\n"
    "from sqlalchemy.ext.compiler import compiles\n\nrevision = 'r1'\ndown_revision = None\n"
)
ALTER = "op.alter_column('persons', 'pgy_level', type_=sa.String(10), existing_type=sa.Integer())"


def _unread(body: str, backend: str) -> list[str]:
    source = (
        HEADER
        + "\n\ndef upgrade():\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n\ndef downgrade():\n    pass\n"
    )
    hits = lint_migration(parse_source(source), "m.py", backend).hits
    return [h.finding.message for h in hits if h.finding.rule == "unread-statement" and h.escalation is not None]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    "rewrite",
    [
        "sa.String = lambda n: sa.Integer()",
        "alias = sa\nalias.String = lambda n: sa.Integer()",
        "types = sa.types\ntypes.String = sa.Integer",
        "first = next(iter([sa]))\nfirst.String = sa.Integer",
        "data = json.loads('{}')\ndata = sa\ndata.String = sa.Integer",
        "for module in [sa]:\n    module.String = sa.Integer",
        "del sa.String",
        "sa.types.String.__init__ = lambda self, n: None",
        "holder = [sa]\nholder[0].String = sa.Boolean",  # hostile review: an element of a fresh container
        "holder = dict(m=sa)\nholder['m'].String = sa.Boolean",
        "functools.update_wrapper(sa, object(), assigned=(), updated=())",
        "compiles(sa.String)(lambda element, compiler, **kw: 'BOOLEAN')",
        "sa.event.listen(sa.engine.Engine, 'before_cursor_execute', lambda *a: None)",
    ],
)
def test_rewriting_what_a_name_means_escalates(rewrite, backend):
    assert _unread(f"{rewrite}\n{ALTER}", backend), rewrite


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    "body",
    [
        "data = json.loads('{\"a\": 1}')\ndata['b'] = 2\ndel data['a']",
        "rows = []\nrows.append(1)\nitems = {}\nitems['k'] = rows",
        "false = sa.false().compile(op.get_bind())",
        "name = sa.table('persons').name",
    ],
)
def test_values_the_function_made_and_plain_reads_are_read(body, backend):
    assert _unread(f"{body}\n{ALTER}", backend) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_keywords_spread_into_an_operation_escalate(backend):
    """Hostile review: **{"type_": ...} hid the type change from every rule."""
    body = "op.alter_column('persons', 'pgy_level', existing_type=sa.Integer(), **{'type_': sa.Boolean()})"
    assert _unread(body, backend)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_compile_hook_registered_on_import_escalates(backend):
    module_code = "\n\n@compiles(sa.String)\ndef _as_boolean(element, compiler, **kw):\n    return 'BOOLEAN'\n"
    source = HEADER + module_code + "\n\ndef upgrade():\n    " + ALTER + "\n\n\ndef downgrade():\n    pass\n"
    hits = lint_migration(parse_source(source), "m.py", backend).hits
    assert any(h.escalation is not None for h in hits), [h.finding.rule for h in hits]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_spread_existence_keywords_are_read(backend):
    """mlflow 1b5f0d9ad7c1: ``kw = {} if mysql else {"if_exists": True}`` then ``op.drop_index(..., **kw)``."""
    ok = "kw = {} if op.get_bind().dialect.name == 'mysql' else {'if_exists': True}\n"
    assert _unread(ok + "op.drop_index('ix', table_name='t', **kw)", backend) == []
    for hostile in (
        "kw = {'if_exists': True}\nkw = {'type_': sa.Boolean()}\nop.alter_column('persons', 'pgy_level', **kw)",
        "kw = {'if_exists': True, 'type_': sa.Boolean()}\nop.alter_column('persons', 'pgy_level', **kw)",
        "kw = dict(if_exists=True)\nop.drop_index('ix', table_name='t', **kw)",
    ):
        assert _unread(hostile, backend), hostile
