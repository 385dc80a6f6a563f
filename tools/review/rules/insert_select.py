"""``insert(Model).from_select(names, query)``: an INSERT ... SELECT written with SQLAlchemy Core, read as one.

It adds rows to one table and changes nothing else, as long as what it renders holds no code of its own: the
SELECT is proven to only read (reads.select_reads: known builders, pure SQL functions), with an ORM query
``session.query(...)`` on a session the function opens read as the ``select(...)`` it compiles to (building a
query runs nothing; opening the session is unread-statement on its own line, so the revision still
escalates), and the classes it names and the table it fills are plain mapped classes of this file (columns
only: no Python-side default, no column_property, no method) or ``sa.table(...)`` values.
"""

from __future__ import annotations

import ast
import copy

from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review import reads
from alembic_mcp.tools.review.rules.astutil import callee
from alembic_mcp.tools.review.rules.effects import bound_once, local_names, migration_module, resolver
from alembic_mcp.tools.review.rules.tamper import SESSION_FACTORIES, bindings, mapped_classes

QUERY = "\x00query"  # the stand-in receiver of ``select(...)`` for a session's query (no Python name)
COLUMN_DEFAULTS = {"default", "onupdate", "insert_default"}
# Column arguments SQLAlchemy may render into an INSERT (a sequence's nextval) or a SELECT
COLUMN_CODE = {"Sequence", "Identity", "Computed", "FetchedValue", "DefaultClause", "text", "literal_column"}


def source_of(construct: ast.expr) -> ast.expr | None:
    """The SELECT of ``....from_select(names, select)`` in a construct chain, or None."""
    node = construct
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "from_select":
            chosen = node.args[1] if len(node.args) > 1 else {k.arg: k.value for k in node.keywords}.get("select")
            return chosen
        node = node.func.value
    return None


def reads_only(state, op, source: ast.expr, target: str | None) -> bool:
    """The INSERT ... SELECT writes only the rows it inserts into ``target`` (the construct's table variable)."""
    func = state.migration.functions.get(op.function)
    if func is None or state.tampered or op.helper is not None:
        return False
    module = migration_module(state.migration)
    values = bound_once(func)
    plain = _plain_classes(state.migration.tree)
    local = local_names(func)
    if target is None or not ((target in plain and target not in local) or _table_value(module, values, target)):
        return False
    base = resolver(module, values, local)

    def resolve(name: str) -> object:
        if name == QUERY or (name in plain and name not in local):
            return reads.TRUSTED
        return base(name)

    select = _as_select(source, values)
    return select is not None and reads.select_reads(select, resolve) and _is_select_chain(select)


def _as_select(source: ast.expr, values: dict[str, ast.expr]) -> ast.expr | None:
    """``session.query(cols).filter(...)`` (session bound once to an ORM session) as ``select(cols).filter(...)``;
    anything else as it is."""
    source = copy.deepcopy(source)
    node: ast.expr = source
    parent: ast.Attribute | None = None
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        if node.func.attr == "query" and isinstance(receiver, ast.Name) and _session(values.get(receiver.id)):
            select = ast.Call(
                ast.Attribute(ast.Name(QUERY, ast.Load()), "select", ast.Load()), node.args, node.keywords
            )
            if parent is None:
                return select
            parent.value = select
            return source
        parent, node = node.func, receiver
    return source


def _is_select_chain(node: ast.expr) -> bool:
    """The outermost chain starts at ``select(...)`` (or the query stand-in)."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id == "select"
        if func.attr == "select" and not isinstance(func.value, ast.Call):
            return True
        node = func.value
    return False


def _table_value(module, values: dict[str, ast.expr], name: str) -> bool:
    """``name`` holds a lightweight table: bound once in the function, or once in the module, to ``sa.table()``."""
    if name in values:
        return _light_table(values[name])
    return bindings(module.tree, name) == 1 and _light_table(module.assigned.get(name))


def _session(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Call) and callee(value) in SESSION_FACTORIES


def _light_table(value: ast.expr | None) -> bool:
    """``sa.table("name", sa.column("x"), ...)``: a lightweight table, no defaults of its own."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    columns = [a for a in value.args[1:]]
    return name == "table" and not value.keywords and all(_light_column(c) for c in columns)


def _light_column(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name == "column" and all(
        isinstance(a, ast.Constant | ast.Name | ast.Attribute | ast.Call) for a in node.args
    )


def _plain_classes(tree: ast.Module) -> set[str]:
    """Mapped classes of the file (tamper.mapped_classes) whose body is ``__tablename__`` and columns without
    Python-side defaults: what they render in a statement is their table's columns, nothing else."""
    classes = {stmt.name: stmt for stmt in tree.body if isinstance(stmt, ast.ClassDef)}
    return {name for name in mapped_classes(tree) if name in classes and _columns_only(classes[name])}


def _columns_only(cls: ast.ClassDef) -> bool:
    for stmt in cls.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            return False
        if stmt.targets[0].id == "__tablename__":
            if not isinstance(stmt.value, ast.Constant):
                return False
            continue
        value = stmt.value
        if not (isinstance(value, ast.Call) and callee(value) == "Column"):
            return False
        if any(k.arg in COLUMN_DEFAULTS or k.arg is None for k in value.keywords):
            return False
        if any(isinstance(n, ast.Lambda) or (isinstance(n, ast.Attribute) and n.attr == "func") for n in walk(value)):
            return False
        if any(isinstance(n, ast.Call) and callee(n) in COLUMN_CODE for n in walk(value)):
            return False
    return True
