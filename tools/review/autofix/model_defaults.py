"""The default the models give a column, read from the model sources (nothing is imported).

A declarative attribute ``active = mapped_column(sa.Boolean, default=False, server_default=...)`` (or
``Column(...)``) in a class with ``__tablename__``, or a ``Column("name", ..., default=...)`` inside
``Table("name", ...)``. Only a literal default (a constant the model would write for every row) is a
backfill value; a callable or computed default is a human's choice.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.generate.model_scan import python_files
from alembic_mcp.tools.history.migration_ast import literal_value

_NO_VALUE = object()


@dataclass(frozen=True)
class ModelDefault:
    """A column's model defaults: ``value`` the Python-side literal (``_NO_VALUE`` when none or not a
    literal), ``server_default`` the server default's source text as the model writes it."""

    table: str
    column: str
    value: object
    server_default: str | None

    @property
    def literal(self) -> bool:
        return self.value is not _NO_VALUE


def _callee(node: ast.expr) -> str | None:
    func = node.func if isinstance(node, ast.Call) else node
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _column_default(table: str, name: str | None, call: ast.Call) -> ModelDefault | None:
    if not isinstance(name, str):
        return None
    default, server = _keyword(call, "default"), _keyword(call, "server_default")
    if default is None and server is None:
        return None
    value = literal_value(default) if default is not None else _NO_VALUE
    if default is not None and not isinstance(value, bool | int | float | str):
        value = _NO_VALUE  # a callable or an expression: not one value for every row
    return ModelDefault(table, name, value, ast.unparse(server) if server is not None else None)


def _from_class(node: ast.ClassDef) -> list[ModelDefault]:
    table = None
    columns: list[tuple[str, ast.Call]] = []
    for stmt in node.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
        target = stmt.target if isinstance(stmt, ast.AnnAssign) else target
        value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
        if not isinstance(target, ast.Name) or value is None:
            continue
        if target.id == "__tablename__":
            table = literal_value(value)
        elif isinstance(value, ast.Call) and _callee(value) in ("mapped_column", "Column"):
            first = literal_value(value.args[0]) if value.args else None
            columns.append((first if isinstance(first, str) else target.id, value))
    if not isinstance(table, str):
        return []
    return [d for name, call in columns if (d := _column_default(table, name, call)) is not None]


def _from_table_call(node: ast.Call) -> list[ModelDefault]:
    table = literal_value(node.args[0]) if node.args else None
    if not isinstance(table, str):
        return []
    out = []
    for arg in node.args[1:]:
        if isinstance(arg, ast.Call) and _callee(arg) == "Column" and arg.args:
            found = _column_default(table, literal_value(arg.args[0]), arg)
            if found is not None:
                out.append(found)
    return out


def defaults_in_source(source: str) -> list[ModelDefault]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[ModelDefault] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found.extend(_from_class(node))
        elif isinstance(node, ast.Call) and _callee(node) == "Table":
            found.extend(_from_table_call(node))
    return found


def model_defaults(project: Project) -> dict[tuple[str, str], ModelDefault]:
    """(table, column) -> the model's defaults, over every model module of the project."""
    found: dict[tuple[str, str], ModelDefault] = {}
    for path in python_files(project.root, [Path(project.script_location)]):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for default in defaults_in_source(source):
            found.setdefault((default.table, default.column), default)
    return found
