"""Inside the worker: the text columns the revisions under test parse as JSON, so seed rows hold JSON there.

Real rows of a column an application stores JSON in are JSON; generated text (``params_3``) is not, and a
migration doing ``json.loads(dash.position_json or "{}")`` fails on seed rows alone (superset). Read
statically, never run: the revision files and the helper modules they import whose dotted name says
``migration`` (``superset.migrations.shared.utils``). A ``loads(...)`` call (json, simplejson or a
wrapper module's) or a call to a function that hands its parameter to one (``try_load_json(data)``)
names a column when its argument is, through ``x or "{}"`` and plain local assignments, a row attribute
(``dash.position_json``), a row key (``row["params"]``) or a name a ``for`` loop binds (``for id, params
in rows``). An attribute of a model class the file declares (``__tablename__``) names that table's
column; anything else names the column in whichever table has it. Beside what the code reads, a column
whose name has ``json`` as a word (``position_json``, ``json_metadata``) or whose comment says JSON.

The JSON seeded is an empty object, spelt with a different number of spaces per row: it parses to ``{}``
(code iterating it finds nothing to trip on) and the values stay distinct for a later unique constraint.
"""

from __future__ import annotations

import ast
import re
import sys
from typing import Any

from sqlalchemy import Enum, LargeBinary, types

JsonColumns = set[tuple[str | None, str]]  # (table, or None: any table having it; column)

_JSON_WORD = re.compile(r"(?:^|_)json(?:_|$)", re.IGNORECASE)
_JSON_COMMENT = re.compile(r"\bjson\b", re.IGNORECASE)
_MAX_HELPERS = 50


def json_reads(sources: list[str]) -> JsonColumns:
    """The columns the given sources parse as JSON."""
    trees = []
    for source in sources:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            continue
    readers = {"loads": 0}
    for tree in trees:
        readers.update(_wrappers(tree))
    found: JsonColumns = set()
    for tree in trees:
        models = _model_columns(tree)
        for function in _functions(tree):
            for ref_kind, name in _reads_in(function, readers):
                tables = models.get(name) if ref_kind == "attr" else None
                found |= tables if tables else {(None, name)}
    return found


def helper_sources(revision_sources: list[str]) -> list[str]:
    """The source of the modules the revisions import (already loaded) whose name says ``migration``, and of
    the like modules those import."""
    seen: set[str] = set()
    out: list[str] = []
    pending = list(revision_sources)
    while pending and len(seen) < _MAX_HELPERS:
        source = pending.pop()
        for name in _imported_modules(source):
            if name in seen or not any("migration" in part for part in name.split(".")):
                continue
            seen.add(name)
            text = _module_source(name)
            if text is not None:
                out.append(text)
                pending.append(text)
    return out


def json_text_value(column: Any, i: int) -> Any:
    """Row ``i``'s JSON for a text or binary column: ``{}`` with ``i - 1`` spaces inside (distinct per row)."""
    length = getattr(column.type, "length", None)
    spaces = i - 1 if length is None or length >= i + 1 else 0
    value = "{" + " " * spaces + "}"
    return value.encode() if isinstance(column.type, LargeBinary) else value


def json_text_columns(table: Any, hinted: JsonColumns) -> set[str]:
    """The columns of ``table`` to seed with JSON: read as JSON by a revision, or named/commented so."""
    out = set()
    for column in table.columns:
        if not _holds_text(column):
            continue
        read = (table.name, column.name) in hinted or (None, column.name) in hinted
        named = bool(_JSON_WORD.search(column.name)) or bool(_JSON_COMMENT.search(column.comment or ""))
        if read or named:
            out.add(column.name)
    return out


def _holds_text(column: Any) -> bool:
    t = column.type
    if isinstance(t, Enum) or column.foreign_keys:
        return False
    if isinstance(t, LargeBinary):
        return True
    return isinstance(t, types.String) and (t.length is None or t.length >= 2)


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _wrappers(tree: ast.AST) -> dict[str, int]:
    """Functions that hand a parameter straight to ``loads``: name -> the argument's position in a call."""
    out: dict[str, int] = {}
    for func in _functions(tree):
        params = [a.arg for a in func.args.posonlyargs + func.args.args]
        if params and params[0] in ("self", "cls"):  # a method: called without it
            params = params[1:]
        for arg in _json_args(func, {"loads": 0}):
            for expr in _alternatives(arg):
                if isinstance(expr, ast.Name) and expr.id in params and func.name != "loads":
                    out[func.name] = params.index(expr.id)
    return out


def _json_args(scope: ast.AST, readers: dict[str, int]):
    """The argument each call to a reader (``loads`` or a wrapper) parses as JSON."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Call):
            index = readers.get(_called_name(node) or "")
            if index is not None and len(node.args) > index:
                yield node.args[index]


def _alternatives(expr: ast.expr) -> list[ast.expr]:
    """``a or "{}"`` and ``a and b``: each operand."""
    if isinstance(expr, ast.BoolOp):
        return [e for value in expr.values for e in _alternatives(value)]
    return [expr]


def _reads_in(scope: ast.AST, readers: dict[str, int]) -> list[tuple[str, str]]:
    """("attr" | "key" | "loop", name) for each argument of a JSON read in this function."""
    assigned, loop_names = _bindings(scope)
    out = []
    for arg in _json_args(scope, readers):
        out += _refs(arg, assigned, loop_names, depth=3)
    return out


def _refs(expr: ast.expr, assigned: dict[str, ast.expr], loop_names: set[str], depth: int) -> list[tuple[str, str]]:
    out = []
    for e in _alternatives(expr):
        if isinstance(e, ast.Attribute):
            out.append(("attr", e.attr))
        elif isinstance(e, ast.Subscript) and isinstance(e.slice, ast.Constant) and isinstance(e.slice.value, str):
            out.append(("key", e.slice.value))
        elif isinstance(e, ast.Name) and e.id in assigned and depth > 0:
            out += _refs(assigned[e.id], assigned, loop_names, depth - 1)
        elif isinstance(e, ast.Name) and e.id in loop_names:
            out.append(("loop", e.id))
    return out


def _bindings(scope: ast.AST) -> tuple[dict[str, ast.expr], set[str]]:
    """Names bound once by a plain assignment in the scope, and names ``for`` loops bind."""
    assigned: dict[str, ast.expr] = {}
    twice: set[str] = set()
    loops: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in assigned:
                twice.add(name)
            assigned[name] = node.value
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            loops |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return {k: v for k, v in assigned.items() if k not in twice}, loops


def _model_columns(tree: ast.AST) -> dict[str, set[tuple[str | None, str]]]:
    """Attribute -> {(table, column)} for the model classes the file declares (``__tablename__``)."""
    out: dict[str, set[tuple[str | None, str]]] = {}
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        table = None
        columns: dict[str, str] = {}
        for stmt in cls.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
                continue
            attr, value = stmt.targets[0].id, stmt.value
            if attr == "__tablename__" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                table = value.value
            elif isinstance(value, ast.Call) and _called_name(value) in ("Column", "mapped_column"):
                named = value.args[0] if value.args else None
                is_name = isinstance(named, ast.Constant) and isinstance(named.value, str)
                columns[attr] = named.value if is_name else attr  # type: ignore[union-attr]
        if table is not None:
            for attr, column in columns.items():
                out.setdefault(attr, set()).add((table, column))
    return out


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _imported_modules(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _module_source(name: str) -> str | None:
    """The text of an already imported module's ``.py`` file (nothing is imported here)."""
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None
