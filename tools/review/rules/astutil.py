"""Small readers of a migration's AST shared by the rule families: names, literals, column specs."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from alembic_mcp.tools.history.migration_ast import literal_value
from alembic_mcp.tools.history.nodes import walk


def name_value(node: ast.expr | None) -> str | None:
    """A literal name or ``op.f("name")`` / ``conv("name")``."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute | ast.Name):
        func = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if func in ("f", "conv"):
            node = node.args[0]
    value = literal_value(node)
    return value if isinstance(value, str) else None


def is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def callee(node: ast.expr) -> str | None:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def kw(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def truthy(node: ast.expr | None) -> bool:
    return literal_value(node) is True


def src(node: ast.AST | None) -> str:
    return ast.unparse(node) if node is not None else ""


def list_of_str(node: ast.expr | None) -> list[str]:
    value = literal_value(node)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


@dataclass
class ColumnSpec:
    name: str | None
    type_node: ast.expr | None
    type_name: str | None
    nullable: bool | None
    primary_key: bool
    server_default: ast.expr | None
    unique: bool
    index: bool
    foreign_keys: list[tuple[str | None, ast.Call]]  # (target "table.col", node)
    node: ast.Call


def column_spec(node: ast.expr | None) -> ColumnSpec | None:
    if not isinstance(node, ast.Call) or callee(node) != "Column":
        return None
    name = literal_value(node.args[0]) if node.args else literal_value(kw(node, "name"))
    type_node = node.args[1] if len(node.args) > 1 and callee(node.args[1]) != "ForeignKey" else kw(node, "type_")
    fks = []
    for arg in node.args[1:]:
        if isinstance(arg, ast.Call) and callee(arg) == "ForeignKey":
            fks.append((literal_value(arg.args[0]) if arg.args else None, arg))
    nullable = literal_value(kw(node, "nullable"))
    return ColumnSpec(
        name=name if isinstance(name, str) else None,
        type_node=type_node,
        type_name=callee(type_node) if type_node is not None else None,
        nullable=nullable if isinstance(nullable, bool) else None,
        primary_key=truthy(kw(node, "primary_key")),
        server_default=kw(node, "server_default"),
        unique=truthy(kw(node, "unique")),
        index=truthy(kw(node, "index")),
        foreign_keys=fks,
        node=node,
    )


def default_text(node: ast.expr | None) -> str:
    """Text of a server_default: a literal, sa.text("..."), sa.func.x() ..."""
    if node is None:
        return ""
    value = literal_value(node)
    if isinstance(value, str):
        return value
    if isinstance(node, ast.Call) and callee(node) == "text" and node.args:
        inner = literal_value(node.args[0])
        return inner if isinstance(inner, str) else src(node)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "func"
    ):
        return f"{node.func.attr}()"
    return src(node)


def type_label(node: ast.expr | None) -> str:
    return src(node) if node is not None else "<type>"


def shown(node: ast.expr | None, unnamed: str = "(unnamed)") -> str:
    """A name for a message: the literal, the expression that computes it (`table_name`), or ``unnamed``
    when it is None (a naming convention names it): never the word None."""
    value = name_value(node)
    if value is not None:
        return value
    if node is None or is_none(node):
        return unnamed
    return f"`{src(node)[:60]}`"


def q(value: str | None) -> str:
    return repr(value) if value is not None else "None"


def text_call(node: ast.expr) -> bool:
    """``sa.text(...)`` (optionally ``.bindparams(...)`` / ``.columns(...)``)."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("bindparams", "columns")
    ):
        node = node.func.value
    return isinstance(node, ast.Call) and callee(node) == "text"


def has_statements(func: ast.FunctionDef | None) -> bool:
    """The function does something: more than pass, a docstring or ``...``."""
    if func is None:
        return False
    for stmt in func.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        return True
    return False


def in_loop(func: ast.FunctionDef | None, line: int) -> bool:
    """``line`` lies inside a for/while loop of ``func``."""
    if func is None:
        return False
    return any(
        isinstance(node, ast.For | ast.While) and node.lineno <= line <= (node.end_lineno or node.lineno)
        for node in walk(func)
    )
