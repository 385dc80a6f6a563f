"""Code that can change what another line means: the review trusts nothing in a module that holds it.

Reading a helper as pure, or a name as the literal it was bound to, holds only while nothing rebinds or
mutates it behind the reader's back. A module is *tampering* when it writes an attribute or a subscript of
anything but a fresh local container, deletes one, reaches namespaces or code objects (``globals``,
``setattr``, ``exec``, ``sys.modules``, any ``__dunder__`` attribute) or imports ``*``. Such a module is
judged as main judged everything: unread. A name a function declares ``global``/``nonlocal`` counts as bound
twice (``bindings``), so it never resolves: only that name is lost, not the module.
"""

from __future__ import annotations

import ast

from alembic_mcp.tools.history.nodes import children, walk

NAMESPACE_NAMES = frozenset(
    {"setattr", "delattr", "globals", "locals", "vars", "exec", "eval", "compile", "__import__", "__builtins__"}
)
FRAME_ATTRIBUTES = frozenset({"_getframe", "f_globals", "f_locals", "f_builtins", "f_back", "gi_frame", "tb_frame"})
INTROSPECTION_MODULES = frozenset({"importlib", "gc", "ctypes", "inspect", "builtins", "sys"})
FRESH_CALLS = frozenset({"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque"})
FRESH_LITERALS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)


def tampering(tree: ast.AST) -> str | None:
    """The first construct in ``tree`` that may change what another line means, or None."""
    scopes = _scopes(tree)
    for node in walk(tree):
        reason = _construct(node, scopes)
        if reason:
            return f"line {getattr(node, 'lineno', '?')}: {reason}"
    return None


# The node types _construct has anything to say about (parsed nodes are exactly these classes, never subclasses).
CONSTRUCTS = frozenset(
    {ast.ImportFrom, ast.Import, ast.Name, ast.Attribute, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete}
    | {ast.For, ast.AsyncFor, ast.comprehension, ast.withitem}
)


def _construct(node: ast.AST, scopes: dict[int, ast.AST]) -> str | None:
    if type(node) not in CONSTRUCTS:
        return None
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        return "a star import"
    if isinstance(node, ast.Import | ast.ImportFrom):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        found = next((n for n in names if n.split(".")[0] in INTROSPECTION_MODULES), None)
        if found and (found != "sys" or isinstance(node, ast.ImportFrom)):  # ``import sys`` alone: sys.path
            return f"imports {found}"
    if isinstance(node, ast.Name) and node.id in NAMESPACE_NAMES:
        return f"uses {node.id}"
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("__") and node.attr.endswith("__"):
            return f"reaches {node.attr}"
        if node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id == "sys":
            return "reaches sys.modules"
        if node.attr in NAMESPACE_NAMES or node.attr in FRAME_ATTRIBUTES:
            return f"uses {node.attr}"
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    elif isinstance(node, ast.Delete):
        targets = node.targets
    elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension | ast.withitem):
        target = node.optional_vars if isinstance(node, ast.withitem) else node.target
        targets = [target] if target is not None else []
    for target in targets:
        for part in _flatten(target):
            if isinstance(part, ast.Attribute | ast.Subscript) and not _fresh(part, node, scopes):
                return f"writes `{ast.unparse(part)[:60]}`"
    return None


def _flatten(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        return [p for e in target.elts for p in _flatten(e)]
    if isinstance(target, ast.Starred):
        return _flatten(target.value)
    return [target]


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node


def _fresh(target: ast.expr, stmt: ast.AST, scopes: dict[int, ast.AST]) -> bool:
    """``rows[key] = v`` where ``rows`` is bound once in this scope to a new container, or ``self.x = v``
    in a class's ``__init__`` (the object being made)."""
    root = _root(target)
    if not isinstance(root, ast.Name):
        return False
    scope = scopes.get(id(stmt))
    if scope is None:
        return False
    if (
        isinstance(scope, ast.FunctionDef)
        and scope.name == "__init__"
        and scope.args.args
        and scope.args.args[0].arg == root.id
        and isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
    ):
        return bindings(scope, root.id) == 1  # the parameter itself, never rebound
    kwarg = scope.args.kwarg if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else None
    if kwarg is not None and kwarg.arg == root.id and bindings(scope, root.id) == 1:
        return True  # ``**kwargs``: a dict Python makes for each call
    values = [v for v in _assigned(scope, root.id)]
    return bindings(scope, root.id) == 1 and len(values) == 1 and _fresh_value(values[0])


def _fresh_value(value: ast.expr) -> bool:
    if isinstance(value, FRESH_LITERALS):
        return True
    func = value.func if isinstance(value, ast.Call) else None
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in FRESH_CALLS


def _assigned(scope: ast.AST, name: str) -> list[ast.expr]:
    return [
        node.value
        for node in _own_nodes(scope)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == name
    ] + [
        node.value
        for node in _own_nodes(scope)
        if isinstance(node, ast.AnnAssign)
        and node.value is not None
        and isinstance(node.target, ast.Name)
        and node.target.id == name
    ]


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of ``scope`` outside its nested functions and classes."""
    out: list[ast.AST] = []
    stack = children(scope)
    while stack:
        node = stack.pop()
        out.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(children(node))
    return out


def _scopes(tree: ast.AST) -> dict[int, ast.AST]:
    """id(statement) -> the function (or module) whose own body holds it."""
    out: dict[int, ast.AST] = {}
    scopes = [tree, *(n for n in walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]
    for scope in scopes:
        for node in _own_nodes(scope):
            out[id(node)] = scope
    return out


def bindings(tree: ast.AST, name: str) -> int:
    """How many times ``name`` is bound anywhere in the module (assignments, imports, parameters, defs)."""
    return sum(_binds(node, name) for node in walk(tree))


def _binds(node: ast.AST, name: str) -> int:
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        return 2  # may bind anything
    if isinstance(node, ast.Name):
        return int(node.id == name and not isinstance(node.ctx, ast.Load))
    if isinstance(node, ast.arg):
        return int(node.arg == name)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return int(node.name == name)
    if isinstance(node, ast.Import | ast.ImportFrom):
        return sum((a.asname or a.name.split(".")[0]) == name for a in node.names)
    if isinstance(node, ast.Global | ast.Nonlocal):
        return 2 * (name in node.names)  # rebound from a function
    if isinstance(node, ast.ExceptHandler):
        return int(node.name == name)
    if isinstance(node, ast.MatchAs | ast.MatchStar):
        return int(node.name == name)
    if isinstance(node, ast.MatchMapping):
        return int(node.rest == name)
    return 0
