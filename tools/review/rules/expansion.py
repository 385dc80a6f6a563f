"""SQL built from values the file fixes, read as the statements it builds.

``for table in ("connection", "variable"): op.execute(f"UPDATE {table} SET ...")`` is interpolated, but
every value is in the file: the review writes out one statement per value and lints those, instead of
calling the SQL unreadable. Names bound by a loop alone (never rebound in its body) over a literal (in place,
or a module-level constant bound once) are filled in value by value; any other value must be one
``values.Values`` fixes: literal candidates are written out each, while an integer or a uuid the file does not
fix is written as a stand-in, and only where its own characters cannot change what the statement says (an
integer between spaces, operators or parentheses; a uuid inside a quoted string). Anything else stays
interpolated.
"""

from __future__ import annotations

import ast
import itertools
import string
from collections.abc import Callable
from dataclasses import dataclass

from alembic_mcp.tools.history.migration_ast import literal_value
from alembic_mcp.tools.review.rules.effects import bindings
from alembic_mcp.tools.review.rules.values import Exact, Number, Uuid, Value, Values, in_own_scope

MAX_STATEMENTS = 200


@dataclass(frozen=True)
class _Marker:
    """Where a value the file does not fix (an int, a uuid) goes in the text, until it is checked."""

    index: int

    def __str__(self) -> str:
        return f"\x00{self.index}\x00"


def enclosing_function(functions: dict[str, ast.FunctionDef], node: ast.expr) -> ast.FunctionDef | None:
    """The top-level function of the migration whose lines hold ``node``."""
    return next(
        (f for f in functions.values() if f.lineno <= node.lineno <= (f.end_lineno or f.lineno)),
        None,
    )


def expanded_sql(
    tree: ast.Module, func: ast.AST | None, node: ast.expr, shadowed: Callable[[str], bool] | None = None
) -> list[str] | None:
    """Every text ``node`` takes, or None when any part is not known. ``shadowed(module)``: a project module
    of a standard library module's name exists (values.Values)."""
    if func is None or not in_own_scope(func, node):  # in a nested function, its names are not func's
        return None
    leaves = _leaves(node)
    if leaves is None:
        return None
    names = sorted({leaf.id for leaf in leaves if isinstance(leaf, ast.Name)})
    found = _loops_over(tree, func, node, names)
    if found is None:
        return None
    dimensions, covered = found
    stand_ins: list[Value] = []
    values = Values(tree, func, shadowed)
    for leaf in leaves:
        if isinstance(leaf, ast.Name) and leaf.id in covered:
            continue
        value = values.of(leaf)
        if value is None:
            return None
        key = _key(leaf)
        if isinstance(value, Exact):
            dimensions.append([{key: v} for v in value.values])
        else:
            dimensions.append([{key: _Marker(len(stand_ins))}])
            stand_ins.append(value)
    texts = []
    for combination in itertools.islice(itertools.product(*dimensions), MAX_STATEMENTS + 1):
        bound: dict[object, object] = {}
        for binding in combination:
            bound.update(binding)
        text = _render(node, bound)
        text = _settle(text, stand_ins) if text is not None else None
        if text is None:
            return None
        texts.append(text)
    return texts if 0 < len(texts) <= MAX_STATEMENTS else None


def _key(leaf: ast.expr) -> object:
    return leaf.id if isinstance(leaf, ast.Name) else id(leaf)


def _leaves(node: ast.expr, formatted: bool = False) -> list[ast.expr] | None:
    """The values a string expression pastes in (names, and any expression inside a format field), or None
    when its shape is not one _render writes out."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return []
    if isinstance(node, ast.Name):
        return [node]
    if isinstance(node, ast.JoinedStr):
        out: list[ast.expr] = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.format_spec is not None or part.conversion not in (-1, ord("s")):
                    return None
                inner = _leaves(part.value, formatted=True)
            else:
                inner = _leaves(part)
            if inner is None:
                return None
            out += inner
        return out
    if formatted:
        return [node]  # a Python value formatted into the text: values.Values reads it
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _leaves(node.left), _leaves(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        return _all_leaves([node.left], items)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return None if node.keywords else _all_leaves([node.func.value], list(node.args))
    return None


def _all_leaves(templates: list[ast.expr], arguments: list[ast.expr]) -> list[ast.expr] | None:
    out: list[ast.expr] = []
    for template in templates:
        found = _leaves(template)
        if found is None:
            return None
        out += found
    for argument in arguments:
        found = _leaves(argument, formatted=True)
        if found is None:
            return None
        out += found
    return out


# Characters next to an integer stand-in that keep it one number token whatever its digits: before a
# possible minus sign, none that makes ``--`` (a comment) or an operator of its own with it (``%-``, ``|-``).
BEFORE_NUMBER = frozenset(" \t\r\n(,[=<>+*/'")
BEFORE_NONNEGATIVE = BEFORE_NUMBER | {"-", "%", "|"}
AFTER_NUMBER = frozenset(" \t\r\n),;]=<>+-*/%|'")
UUID_TEXT = {False: "00000000-0000-4000-8000-000000000000", True: "00000000000040008000000000000000"}


def _settle(text: str, stand_ins: list[Value]) -> str | None:
    """The text with each marker replaced by a stand-in, when its neighbours allow any value of its kind."""
    for index, value in enumerate(stand_ins):
        marker = str(_Marker(index))
        if text.count(marker) != 1:
            return None
        at = text.index(marker)
        before = text[at - 1] if at else " "
        after = text[at + len(marker)] if at + len(marker) < len(text) else " "
        if isinstance(value, Uuid):
            allowed = _quoted(text, at)
            stand_in = UUID_TEXT[value.hex]
        elif isinstance(value, Number):
            allowed = before in (BEFORE_NONNEGATIVE if value.nonnegative else BEFORE_NUMBER) and after in AFTER_NUMBER
            stand_in = "1"
        else:
            return None
        if not allowed:
            return None
        text = text.replace(marker, stand_in)
    return None if "\x00" in text else text


def _quoted(text: str, at: int) -> bool:
    """Position ``at`` is inside a single-quoted string literal (``''`` escapes a quote). A backslash, a dollar
    quote or a ``#`` before it (escapes and comments that differ between dialects) answers no."""
    if any(c in text[:at] for c in "\\$#"):
        return False
    state, index = "", 0
    while index < at:
        char, two = text[index], text[index : index + 2]
        if not state:
            state = two if two in ("--", "/*") else char if char in "'\"`" else ""
            index += 2 if two in ("--", "/*") else 1
            continue
        if state == "'" and char == "'" and text[index + 1 : index + 2] == "'" and index + 1 < at:
            index += 2  # an escaped quote inside the string
            continue
        ends = {"'": "'", '"': '"', "`": "`", "--": "\n", "/*": "*/"}[state]
        if text.startswith(ends, index):
            state, index = "", index + len(ends)
            continue
        index += 1
    return state == "'"


def _loops_over(
    tree: ast.Module, func: ast.AST, node: ast.expr, names: list[str]
) -> tuple[list[list[dict]], set[str]] | None:
    """For each literal loop around ``node`` binding some of ``names``: the list of {name: value} it runs
    through; with the names the loops bind. A loop over anything else is left to values.Values (which reads
    ``range()`` and refuses the rest); None when a literal loop's name is rebound in its body."""
    covered: set[str] = set()
    loops = []
    for loop in ast.walk(func):
        if not isinstance(loop, ast.For) or not _encloses(loop, node):
            continue
        targets = _target_names(loop.target)
        if not targets or not set(targets) & set(names):
            continue
        items = _literal_items(tree, loop.iter)
        if items is None:
            continue
        if any(bindings(loop, name) != 1 for name in targets):  # rebound in its body
            return None
        rows = [_unpack(targets, item) for item in items]
        kept = [row for row in rows if row is not None]
        if len(kept) != len(rows):
            return None
        loops.append(kept)
        covered |= set(targets)
    return loops, covered


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


def _render(node: ast.expr, values: dict[object, object], formatted: bool = False) -> str | None:
    """The text of an f-string, ``+``, ``%`` or ``.format()`` over literals and the values bound to its leaves
    (by name, or by id() of an expression in a format field)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) or (formatted and not isinstance(node, ast.JoinedStr)):
        value = values.get(_key(node))
        return str(value) if value is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.format_spec is not None or part.conversion not in (-1, ord("s")):
                    return None
                text = _render(part.value, values, formatted=True)
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


def _arguments(nodes: list[ast.expr], values: dict[object, object]) -> list[str] | None:
    out = [_render(n, values, formatted=True) for n in nodes]
    return None if any(o is None for o in out) else out  # type: ignore[return-value]


def _percent(node: ast.BinOp, values: dict[object, object]) -> str | None:
    template = _render(node.left, values)
    items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
    args = _arguments(items, values)
    if template is None or args is None:
        return None
    try:
        return template % tuple(args)
    except (TypeError, ValueError, KeyError):
        return None


def _format(node: ast.Call, values: dict[object, object]) -> str | None:
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
