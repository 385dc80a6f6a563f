"""The values a name in a migration may hold when the file alone fixes them: literal candidates, integers,
uuids.

``stmt`` assigned a literal UPDATE in each branch of a dialect test, ``BATCH_SIZE = 1000`` and
``offset += BATCH_SIZE``, ``empty_vals[dialect]`` over a literal dict, ``uuid4()``: none of these is input,
and the SQL they are pasted into can be read by writing out each candidate. The reading is
flow-insensitive and so conservative: a name resolves only when *every* binding of it in its scope is a plain
assignment (or, for integers, an augmented one or a ``for`` over ``range()``) of a value that resolves in
turn; a parameter, another loop or ``with`` target, an import, ``global``/``nonlocal``, a walrus or an
unpacking leaves it unknown. A file that tampers (tamper.py) is not read at all (the caller checks).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from alembic_mcp.tools.history.migration_ast import literal_value
from alembic_mcp.tools.history.nodes import children, walk
from alembic_mcp.tools.review.rules.tamper import bindings, bound_by

MAX_DEPTH = 8
MAX_CANDIDATES = 50


@dataclass(frozen=True)
class Exact:
    """One of these literal values (str or int)."""

    values: tuple[str | int, ...]


@dataclass(frozen=True)
class Number:
    """An int whose value the file does not fix (``int(...)``, a counter): only digits, after a minus sign
    unless ``nonnegative``."""

    nonnegative: bool


@dataclass(frozen=True)
class Uuid:
    """The text of a random uuid: hex digits (and dashes unless ``hex``), never a quote or a backslash."""

    hex: bool = False


Value = Exact | Number | Uuid

INT_OPS = (ast.Add, ast.Mult, ast.Sub, ast.FloorDiv, ast.Mod)
# Nodes whose bodies are a scope of their own: a name bound there is another variable
SCOPES: tuple[type, ...] = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
SCOPES += (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of a function's own scope: not inside a nested function, class, lambda or comprehension."""
    out: list[ast.AST] = []
    stack = children(scope)
    while stack:
        node = stack.pop()
        out.append(node)
        if not isinstance(node, SCOPES):
            stack.extend(children(node))
    return out


def in_own_scope(func: ast.AST, node: ast.AST) -> bool:
    """``node`` runs in ``func``'s own scope, where its names are ``func``'s."""
    return any(n is node for n in own_nodes(func))


class Values:
    """Resolves names and expressions of one function of a module (``func`` None: module level)."""

    def __init__(self, tree: ast.Module, func: ast.AST | None, shadowed: Callable[[str], bool] | None = None) -> None:
        self.tree = tree
        self.func = func
        self.shadowed = shadowed or (lambda module: False)  # a project module of the standard library's name
        self._busy: set[str] = set()
        declared = {n for node in walk(tree) if isinstance(node, ast.Global | ast.Nonlocal) for n in node.names}
        self._declared = declared
        self._module: Values | None = None
        # a walrus binds in the enclosing function even from a comprehension or a default: never read
        self._walrus = {n.target.id for n in walk(func or tree) if isinstance(n, ast.NamedExpr)}
        self._own = own_nodes(func) if func is not None else list(walk(tree))

    def _local(self, name: str) -> bool:
        return self.func is not None and (bound_by(self._own, name) > 0 or name in self._walrus)

    def _bound(self, name: str) -> int:
        """Bindings of ``name`` in the scope read: the function's own, or (module) anywhere in the file."""
        if name in self._walrus:
            return -1
        return bound_by(self._own, name) if self.func is not None else bindings(self.tree, name)

    def of(self, node: ast.expr, depth: int = 0) -> Value | None:
        """The values ``node`` may take, or None when any of them may come from outside the file."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int) and not isinstance(node.value, bool):
            return Exact((node.value,))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            return self.name(node.id, depth + 1)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.of(node.operand, depth + 1)
            return Number(False) if _integral(inner) else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, INT_OPS):
            return _arithmetic(node.op, self.of(node.left, depth + 1), self.of(node.right, depth + 1))
        if isinstance(node, ast.Subscript):
            return self._item(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Attribute) and node.attr == "hex" and isinstance(node.value, ast.Call):
            return Uuid(hex=True) if self._uuid_call(node.value) else None
        return None

    def name(self, name: str, depth: int = 0) -> Value | None:
        """A name of the function (every binding in it), else of the module (every binding in the file)."""
        if name in self._busy or name in self._declared or depth > MAX_DEPTH:
            return None
        if self.func is not None and not self._local(name):
            return self.module().name(name, depth)  # not bound in the function: the module's name
        plain, augmented = _assignments(self._own, name)
        ranges = self._ranges(name)
        if not (plain or ranges) or self._bound(name) != len(plain) + len(augmented) + len(ranges):
            return None
        self._busy.add(name)
        try:
            found = [self.of(value, depth + 1) for value in plain]
            found += [self._range(arguments, depth + 1) for arguments in ranges]
            steps = [(op, self.of(value, depth + 1)) for op, value in augmented]
        finally:
            self._busy.discard(name)
        if any(v is None for v in found) or any(v is None for _, v in steps):
            return None
        if steps:
            if not all(_integral(v) for v in found) or not all(_integral(v) for _, v in steps):
                return None
            nonnegative = all(_nonnegative(v) for v in found) and all(
                isinstance(op, ast.Add | ast.Mult) and _nonnegative(v) for op, v in steps
            )
            return Number(nonnegative)
        return _union(found)  # type: ignore[arg-type]

    def _ranges(self, name: str) -> list[list[ast.expr]]:
        """The arguments of each ``for name in range(...)`` of the scope (the builtin range)."""
        if bindings(self.tree, "range"):
            return []
        return [
            list(node.iter.args)
            for node in self._own
            if isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and isinstance(node.iter, ast.Call)
            and isinstance(node.iter.func, ast.Name)
            and node.iter.func.id == "range"
            and not node.iter.keywords
        ]

    def _range(self, arguments: list[ast.expr], depth: int) -> Value | None:
        """An int of ``range(...)``: never below its start (step > 0) or its stop (step < 0), so nonnegative when
        every argument is."""
        found = [self.of(a, depth) for a in arguments]
        if not found or any(not _integral(v) for v in found):
            return None
        return Number(all(_nonnegative(v) for v in found))

    def module(self) -> Values:
        """The same reading at module level (a name the function does not bind)."""
        if self._module is None:
            self._module = Values(self.tree, None, self.shadowed) if self.func is not None else self
        return self._module

    def _item(self, node: ast.Subscript, depth: int) -> Value | None:
        """``d[key]`` over a literal dict / list / tuple (in place, or in a name bound once to one and only ever
        read by subscript, so never changed nor handed on): one of its values, whatever the key."""
        if isinstance(node.slice, ast.Slice):
            return None
        container = node.value
        if isinstance(container, ast.Name):
            reader = self if self._local(container.id) else self.module()
            plain, augmented = _assignments(reader._own, container.id)
            if len(plain) != 1 or augmented or reader._bound(container.id) != 1 or container.id in self._declared:
                return None
            if not _only_subscripted(self.tree, container.id):
                return None
            container = plain[0]
        value = literal_value(container)
        items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list | tuple) else None
        if not items or len(items) > MAX_CANDIDATES:
            return None
        if not all(isinstance(i, str | int) and not isinstance(i, bool) for i in items):
            return None
        return Exact(tuple(dict.fromkeys(items)))

    def _call(self, node: ast.Call, depth: int) -> Value | None:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        plain = name is not None and not bindings(self.tree, name)  # the builtin, never shadowed in the file
        one = len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred)
        if plain and name == "int" and one:
            return Number(False)  # int() of anything is an exact int or raises
        if plain and name == "len" and one:
            return Number(True)
        if plain and name == "str" and one:
            inner = self.of(node.args[0], depth + 1)
            return inner if isinstance(inner, Uuid | Number) else None
        return Uuid() if self._uuid_call(node) else None

    def _uuid_call(self, node: ast.Call) -> bool:
        """``uuid4()`` / ``uuid.uuid4()`` (uuid1/uuid4) from the standard ``uuid`` module, imported once, with no
        module of that name in the project or its virtualenv to be imported instead."""
        if node.args or node.keywords or self.shadowed("uuid"):
            return False
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in ("uuid1", "uuid4") and self._imported(func.id, "uuid", func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in ("uuid1", "uuid4"):
            return self._imported(func.value.id, "uuid", None)
        return False

    def _imported(self, local: str, module: str, member: str | None) -> bool:
        if bindings(self.tree, local) != 1:
            return False
        for node in walk(self.tree):
            if member is None and isinstance(node, ast.Import):
                names = [(a.name, a.asname or a.name) for a in node.names]
                if (module, local) in names:
                    return True
            elif member is not None and isinstance(node, ast.ImportFrom) and node.module == module and not node.level:
                names = [(a.name, a.asname or a.name) for a in node.names]
                if (member, local) in names:
                    return True
        return False


def sole_assignments(tree: ast.Module, func: ast.AST, name: str) -> list[ast.Assign] | None:
    """Every ``name = value`` of ``func``'s own scope when those are all the bindings of ``name`` there (a local
    of the function, never declared global/nonlocal, no walrus): what the name holds wherever the function's
    own code reads it is one of their values."""
    if any(isinstance(n, ast.Global | ast.Nonlocal) and name in n.names for n in walk(tree)):
        return None
    if any(isinstance(n, ast.NamedExpr) and n.target.id == name for n in walk(func)):
        return None
    own = own_nodes(func)
    found = [
        node
        for node in own
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == name
    ]
    return found if found and bound_by(own, name) == len(found) else None


def _assignments(nodes: list[ast.AST], name: str) -> tuple[list[ast.expr], list[tuple[ast.operator, ast.expr]]]:
    """The values of ``name = value`` (one target) and ``name op= value`` among ``nodes``."""
    plain: list[ast.expr] = []
    augmented: list[tuple[ast.operator, ast.expr]] = []
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id == name:
                plain.append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            augmented.append((node.op, node.value))
    return plain, augmented


def _only_subscripted(scope: ast.AST, name: str) -> bool:
    """Every read of ``name`` in ``scope`` is ``name[...]`` (a load): no method call, alias or argument that
    could change the container."""
    subscripted = {
        id(node.value)
        for node in walk(scope)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
    }
    return all(
        id(node) in subscripted
        for node in walk(scope)
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
    )


def _integral(value: Value | None) -> bool:
    if isinstance(value, Number):
        return True
    return isinstance(value, Exact) and all(isinstance(v, int) for v in value.values)


def _nonnegative(value: Value | None) -> bool:
    if isinstance(value, Number):
        return value.nonnegative
    return isinstance(value, Exact) and all(isinstance(v, int) and v >= 0 for v in value.values)


def _arithmetic(op: ast.operator, left: Value | None, right: Value | None) -> Value | None:
    if not (_integral(left) and _integral(right)):
        return None
    nonnegative = _nonnegative(left) and _nonnegative(right) and not isinstance(op, ast.Sub)
    return Number(nonnegative)


def _union(found: list[Value]) -> Value | None:
    if all(isinstance(v, Exact) for v in found):
        merged = tuple(dict.fromkeys(x for v in found for x in v.values))  # type: ignore[union-attr]
        return Exact(merged) if len(merged) <= MAX_CANDIDATES else None
    if all(_integral(v) for v in found):
        return Number(all(_nonnegative(v) for v in found))
    if all(isinstance(v, Uuid) for v in found) and len({v.hex for v in found}) == 1:  # type: ignore[union-attr]
        return found[0]
    return None
