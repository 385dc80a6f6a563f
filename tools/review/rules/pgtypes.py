"""Where a migration creates and drops PostgreSQL enum types, read from its source (never run).

A type is created by ``sa.Enum(..., name="x").create(bind, ...)`` / ``postgresql.ENUM(...).create`` (the
call, or a name bound to it in the function or the module), by ``CREATE TYPE x`` in SQL text, or by a
``create_table`` with a column of that Enum type (unless ``create_type=False``); it is dropped by
``.drop(bind, ...)`` on such a type or ``DROP TYPE x``. Each is reported with its line, so a rule can ask
whether it happens before or after an operation.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from alembic_mcp.tools.history.migration_ast import MigrationSource, literal_value
from alembic_mcp.tools.review.rules.astutil import column_spec, kw
from alembic_mcp.tools.review.rules.casts import enum_name

_TYPE_SQL = re.compile(r"\b(create|drop)\s+type\s+(?:if\s+exists\s+)?(?:\"?\w+\"?\.)?\"?(\w+)\"?", re.I)


@dataclass(frozen=True)
class TypeStep:
    """One creation or drop of type ``name`` at ``line``; ``idempotent``: it runs again without failing
    (checkfirst=True, IF EXISTS)."""

    kind: str  # "create" | "drop"
    name: str
    line: int
    idempotent: bool
    node: ast.AST


def type_steps(migration: MigrationSource, function: str) -> list[TypeStep]:
    """Every creation and drop of an enum type in ``function``, in line order."""
    func = migration.functions.get(function)
    if func is None:
        return []
    names = _bound_types(migration.tree, func)
    steps: list[TypeStep] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            steps.extend(_method_step(node, names))
            steps.extend(_table_steps(node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            steps.extend(_sql_steps(node))
    return sorted(steps, key=lambda step: step.line)


def created_before(migration: MigrationSource, function: str, name: str, line: int) -> bool:
    """``function`` creates type ``name`` above ``line``."""
    return any(s.kind == "create" and s.name == name and s.line < line for s in type_steps(migration, function))


def mentions(migration: MigrationSource, name: str) -> bool:
    """The migration's text names ``name`` anywhere (a conservative "may create it")."""
    return re.search(rf"\b{re.escape(name)}\b", migration.source) is not None


def _bound_types(tree: ast.Module, func: ast.FunctionDef) -> dict[str, str]:
    """Variable -> enum type name, for ``x = sa.Enum(..., name="n")`` at module level or in the function."""
    out: dict[str, str] = {}
    for body in (tree.body, func.body):
        for statement in body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, name = statement.targets[0], enum_name(statement.value)
                if isinstance(target, ast.Name) and name:
                    out[target.id] = name
    return out


def _method_step(node: ast.Call, names: dict[str, str]) -> list[TypeStep]:
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in ("create", "drop")):
        return []
    receiver = func.value
    name = names.get(receiver.id) if isinstance(receiver, ast.Name) else enum_name(receiver)
    if name is None:
        return []
    idempotent = literal_value(kw(node, "checkfirst")) is True
    return [TypeStep(func.attr, name, node.lineno, idempotent, node)]


def _table_steps(node: ast.Call) -> list[TypeStep]:
    """``op.create_table`` with Enum columns creates their types (SQLAlchemy's table events)."""
    if not (isinstance(node.func, ast.Attribute) and node.func.attr == "create_table"):
        return []
    steps = []
    for arg in node.args[1:]:
        spec = column_spec(arg)
        name = enum_name(spec.type_node) if spec else None
        if spec and name and literal_value(kw(spec.type_node, "create_type")) is not False:  # type: ignore[arg-type]
            steps.append(TypeStep("create", name, node.lineno, False, node))
    return steps


def _sql_steps(node: ast.Constant) -> list[TypeStep]:
    text = node.value if isinstance(node.value, str) else ""
    return [
        TypeStep(match.group(1).lower(), match.group(2), node.lineno, "if exists" in match.group(0).lower(), node)
        for match in _TYPE_SQL.finditer(text)
    ]
