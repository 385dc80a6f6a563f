"""A create_index call as a fix can carry it: the columns and options as written in the migration, and, for
the review's duplicate check, its key as SQL when every part of it can be rendered without guessing.

An expression index (``[sa.text("lower(email)")]``, ``[sa.literal_column(...)]``, ``[sa.func.lower(...)]``)
has no column names; a fix that wrote ``[]`` in its place would build a different index. ``for_new_file``
says how the call reads in a new revision file (it imports only ``sa`` and ``op``): the SQLAlchemy names the
migration imported bare are spelled ``sa.<name>``, and anything else (a variable, a project helper) makes the
call one a fix cannot carry.
"""

from __future__ import annotations

import ast
import copy
import re

from alembic_mcp.tools.history.migration_ast import OpCall
from alembic_mcp.tools.review.rules.astutil import q

# Builders whose call (with carried arguments) means the same in any file that imports sqlalchemy as sa.
SA_BUILDERS = frozenset({"text", "literal_column", "column", "desc", "asc", "nulls_first", "nulls_last"})
SA_METHODS = frozenset({"desc", "asc", "nulls_first", "nulls_last"})
SA_MODULES = frozenset({"sa", "sqlalchemy"})
# keywords the fix sets itself
OWN_KEYWORDS = frozenset({"postgresql_concurrently", "if_not_exists", "unique"})
PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def concurrent_build(
    name: str | None, table: str | None, columns: list[str], unique: bool = False, options: list[str] | None = None
) -> str:
    """CREATE INDEX CONCURRENTLY that a re-run recovers: a failed concurrent build (duplicates, a lock
    timeout, a cancel) leaves an INVALID index of that name behind, which IF NOT EXISTS would keep (the
    revision then passes, and a unique index enforces nothing); the leftover is dropped first. The session
    lock_timeout holds in the autocommit block (a SET LOCAL would not) and is reset after it."""
    keywords = ", ".join([*(["unique=True"] if unique else []), *(options or []), "postgresql_concurrently=True"])
    return (
        "with op.get_context().autocommit_block():\n"
        "    op.execute(\"SET lock_timeout = '5s'\")\n"
        f"    {drop_leftover(name, table)}\n"
        f"    op.create_index({q(name)}, {q(table)}, [{', '.join(columns)}], {keywords})\n"
        '    op.execute("RESET lock_timeout")'
    )


def drop_leftover(name: str | None, table: str | None) -> str:
    return f"op.drop_index({q(name)}, table_name={q(table)}, postgresql_concurrently=True, if_exists=True)"


def columns_node(op: OpCall) -> ast.expr | None:
    return op.arg(2, "columns")


def _elements(node: ast.expr | None) -> list[ast.expr] | None:
    if isinstance(node, ast.List | ast.Tuple):
        return list(node.elts)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    return None


def as_written(op: OpCall) -> list[str] | None:
    """Each column of the index as the migration writes it (in the same file it means the same); None when
    the columns are not a literal list (a variable: the fix cannot tell how many or which)."""
    elements = _elements(columns_node(op))
    return None if elements is None else [ast.unparse(e) for e in elements]


def options_as_written(op: OpCall) -> list[str]:
    """The call's other keywords (postgresql_where=..., postgresql_using=...) as written."""
    return [f"{k.arg}={ast.unparse(k.value)}" for k in op.node.keywords if k.arg and k.arg not in OWN_KEYWORDS]


def _portable(node: ast.expr) -> ast.expr | None:
    """``node`` with bare SQLAlchemy builders spelled ``sa.<name>``; None when it uses anything else."""
    if isinstance(node, ast.Constant):
        return node
    if isinstance(node, ast.List | ast.Tuple):
        parts = [_portable(e) for e in node.elts]
        return None if any(p is None for p in parts) else type(node)(elts=parts, ctx=ast.Load())  # type: ignore[arg-type]
    if isinstance(node, ast.Call):
        func = _portable_callee(node.func)
        args = [_portable(a) for a in node.args]
        keywords = [(k.arg, _portable(k.value)) for k in node.keywords]
        if func is None or None in args or any(k is None or v is None for k, v in keywords):
            return None
        return ast.Call(func, args, [ast.keyword(k, v) for k, v in keywords])  # type: ignore[arg-type]
    return None


def _sa(*path: str) -> ast.expr:
    node: ast.expr = ast.Name("sa", ast.Load())
    for part in path:
        node = ast.Attribute(node, part, ast.Load())
    return node


def _portable_callee(func: ast.expr) -> ast.expr | None:
    """sa.text / text / sqlalchemy.text, sa.func.lower / func.lower, <carried>.desc(): as ``sa.`` names."""
    if isinstance(func, ast.Name):
        return _sa(func.id) if func.id in SA_BUILDERS else None
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value
    if isinstance(owner, ast.Name) and owner.id in SA_MODULES and func.attr in SA_BUILDERS:
        return _sa(func.attr)
    if isinstance(owner, ast.Name) and owner.id == "func":
        return _sa("func", func.attr)
    if isinstance(owner, ast.Attribute) and owner.attr == "func" and isinstance(owner.value, ast.Name):
        return _sa("func", func.attr) if owner.value.id in SA_MODULES else None
    if func.attr in SA_METHODS:
        carried = _portable(owner)
        return None if carried is None else ast.Attribute(carried, func.attr, ast.Load())
    return None


def for_new_file(op: OpCall) -> tuple[list[str], list[str]] | None:
    """(columns, options) as they read in a new revision file; None when one of them cannot be carried."""
    elements = _elements(columns_node(op))
    if elements is None:
        return None
    columns = [_portable(copy.deepcopy(e)) for e in elements]
    options = [(k.arg, _portable(copy.deepcopy(k.value))) for k in op.node.keywords if k.arg not in OWN_KEYWORDS]
    if any(c is None for c in columns) or any(k is None or v is None for k, v in options):
        return None
    return [ast.unparse(c) for c in columns if c is not None], [f"{k}={ast.unparse(v)}" for k, v in options if v]


# ------------------------------------------------------------------ the key as SQL (duplicate check)


def _text_argument(node: ast.Call) -> str | None:
    if len(node.args) == 1 and not node.keywords:
        value = node.args[0]
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def key_sql(node: ast.expr) -> str | None:
    """One index element as SQL over the table's columns: a column name, the text of sa.text() /
    literal_column(), or a func call over those; None for anything else (a bound literal, a variable). The
    text is the migration's own SQL: the caller proves the whole query a read before it runs."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if PLAIN_IDENTIFIER.fullmatch(node.value) else None
    portable = _portable(copy.deepcopy(node))
    if not isinstance(portable, ast.Call) or not isinstance(portable.func, ast.Attribute):
        return None
    func = portable.func
    if func.attr in ("text", "literal_column", "column") and isinstance(func.value, ast.Name):
        inner = _text_argument(portable)
        if func.attr == "column" and (inner is None or not PLAIN_IDENTIFIER.fullmatch(inner)):
            return None
        return inner
    if isinstance(func.value, ast.Attribute) and func.value.attr == "func" and PLAIN_IDENTIFIER.fullmatch(func.attr):
        parts = [_func_argument(a) for a in portable.args]
        if portable.keywords or not parts or None in parts:
            return None
        return f"{func.attr}({', '.join(p for p in parts if p)})"
    return None


def _func_argument(node: ast.expr) -> str | None:
    """A func call's argument: a column (sa.column / literal_column / text) or a nested func call; a bare
    string is a bound literal in SQLAlchemy, not a column, so it is not rendered."""
    if isinstance(node, ast.Constant):
        return None
    return key_sql(node)


def index_key_sql(op: OpCall) -> list[str] | None:
    """The index's key as SQL, one entry per element, or None when one element cannot be rendered."""
    elements = _elements(columns_node(op))
    if not elements:
        return None
    parts = [key_sql(e) for e in elements]
    return None if any(p is None for p in parts) else [p for p in parts if p]


def is_expression_index(op: OpCall) -> bool:
    elements = _elements(columns_node(op))
    return elements is None or any(not (isinstance(e, ast.Constant) and isinstance(e.value, str)) for e in elements)
