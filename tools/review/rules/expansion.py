"""SQL built in a loop over literal values, read as the statements it builds.

``for table in ("connection", "variable"): op.execute(f"UPDATE {table} SET ...")`` is interpolated, but
every value is in the file: the review writes out one statement per value and lints those, instead of
calling the SQL unreadable. Only names bound by the loop alone (never rebound in its body) over a literal (in place, or
a module-level constant bound once) are filled in; anything else stays interpolated.
"""

from __future__ import annotations

import ast
import itertools
import string

from alembic_mcp.tools.history.migration_ast import literal_value
from alembic_mcp.tools.review.rules.effects import bindings

MAX_STATEMENTS = 200


def enclosing_function(functions: dict[str, ast.FunctionDef], node: ast.expr) -> ast.FunctionDef | None:
    """The top-level function of the migration whose lines hold ``node``."""
    return next(
        (f for f in functions.values() if f.lineno <= node.lineno <= (f.end_lineno or f.lineno)),
        None,
    )


def expanded_sql(tree: ast.Module, func: ast.AST | None, node: ast.expr) -> list[str] | None:
    """Every text ``node`` takes over the literal loops around it, or None when any part is not known."""
    if func is None:
        return None
    names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)})
    loops = _loops_over(tree, func, node, names)
    if loops is None:
        return None
    texts = []
    for combination in itertools.islice(itertools.product(*loops), MAX_STATEMENTS + 1):
        values: dict[str, object] = {}
        for binding in combination:
            values.update(binding)
        text = _render(node, values)
        if text is None:
            return None
        texts.append(text)
    return texts if 0 < len(texts) <= MAX_STATEMENTS else None


def _loops_over(tree: ast.Module, func: ast.AST, node: ast.expr, names: list[str]) -> list[list[dict]] | None:
    """For each loop binding some of ``names``: the list of {name: value} it runs through."""
    covered: set[str] = set()
    loops = []
    for loop in ast.walk(func):
        if not isinstance(loop, ast.For) or not _encloses(loop, node):
            continue
        targets = _target_names(loop.target)
        if not targets or not set(targets) & set(names):
            continue
        items = _literal_items(tree, loop.iter)
        if items is None or any(bindings(loop, name) != 1 for name in targets):  # rebound in its body
            return None
        rows = [_unpack(targets, item) for item in items]
        kept = [row for row in rows if row is not None]
        if len(kept) != len(rows):
            return None
        loops.append(kept)
        covered |= set(targets)
    return loops if set(names) <= covered and loops else None


def _encloses(loop: ast.For, node: ast.expr) -> bool:
    end = loop.end_lineno or loop.lineno
    return any(child is node for stmt in loop.body for child in ast.walk(stmt)) and loop.lineno <= node.lineno <= end


def _target_names(target: ast.expr) -> list[str] | None:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
        return [e.id for e in target.elts]  # type: ignore[attr-defined]
    return None


def _literal_items(tree: ast.Module, iterable: ast.expr) -> list | None:
    """A literal list/tuple/set, in place or in a module-level name bound once."""
    if isinstance(iterable, ast.Name):
        if bindings(tree, iterable.id) != 1:
            return None
        assigned = next(
            (
                stmt.value
                for stmt in tree.body
                if isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == iterable.id for t in stmt.targets)
            ),
            None,
        )
        iterable = assigned if assigned is not None else iterable
    value = literal_value(iterable)
    return list(value) if isinstance(value, list | tuple | set | frozenset) else None


def _unpack(targets: list[str], item: object) -> dict | None:
    if len(targets) == 1:
        return {targets[0]: item} if isinstance(item, str | int) else None
    if isinstance(item, list | tuple) and len(item) == len(targets) and all(isinstance(v, str | int) for v in item):
        return dict(zip(targets, item, strict=True))
    return None


def _render(node: ast.expr, values: dict[str, object]) -> str | None:
    """The text of an f-string, ``+``, ``%`` or ``.format()`` over literals and the loop's values."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        value = values.get(node.id)
        return str(value) if value is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.format_spec is not None or part.conversion not in (-1, ord("s")):
                    return None
                text = _render(part.value, values)
            else:
                text = _render(part, values)
            if text is None:
                return None
            parts.append(text)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _render(node.left, values), _render(node.right, values)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _percent(node, values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _format(node, values)
    return None


def _arguments(nodes: list[ast.expr], values: dict[str, object]) -> list[str] | None:
    out = [_render(n, values) for n in nodes]
    return None if any(o is None for o in out) else out  # type: ignore[return-value]


def _percent(node: ast.BinOp, values: dict[str, object]) -> str | None:
    template = _render(node.left, values)
    items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
    args = _arguments(items, values)
    if template is None or args is None:
        return None
    try:
        return template % tuple(args)
    except (TypeError, ValueError, KeyError):
        return None


def _format(node: ast.Call, values: dict[str, object]) -> str | None:
    """``"...{0}...".format(a, b)`` with positional arguments only."""
    template = _render(node.func.value, values)  # type: ignore[attr-defined]
    args = _arguments(list(node.args), values)
    if template is None or args is None or node.keywords:
        return None
    return _plain_format(template, args)


def _plain_format(template: str, args: list[str]) -> str | None:
    """str.format over plain positional fields; a field with attribute/index access or a spec is refused."""
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None and (spec or conv)]
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError:
        return None
    if fields or any(not (n == "" or n.isdigit()) for n in names):
        return None
    try:
        return template.format(*args)
    except (IndexError, KeyError, ValueError):
        return None
