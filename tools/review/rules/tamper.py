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
from collections import Counter

from alembic_mcp.tools.history.nodes import children, walk

NAMESPACE_NAMES = frozenset(
    {"setattr", "delattr", "globals", "locals", "vars", "exec", "eval", "compile", "__import__", "__builtins__"}
)
FRAME_ATTRIBUTES = frozenset({"_getframe", "f_globals", "f_locals", "f_builtins", "f_back", "gi_frame", "tb_frame"})
INTROSPECTION_MODULES = frozenset({"importlib", "gc", "ctypes", "inspect", "builtins", "sys"})
FRESH_CALLS = frozenset({"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque"})
FRESH_LITERALS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)


def tampering(tree: ast.AST, uses: frozenset[str] = frozenset()) -> str | None:
    """The first construct in ``tree`` that may change what another line means, or None. ``uses``: names
    bound by introspection imports judged elsewhere (introspection_import): any use of one counts."""
    scopes = _scopes(tree)
    rows = orm_rows(tree)
    for node in walk(tree):
        reason = _construct(node, scopes, rows, uses)
        if reason:
            return f"line {getattr(node, 'lineno', '?')}: {reason}"
    return None


def tampering_statements(tree: ast.AST, functions: list[ast.FunctionDef]) -> dict[int, str]:
    """id(statement) -> the first construct in it that may change what another line means (as ``tampering``
    judges it, with the scopes of the whole ``tree``), for the top-level statements of ``functions`` that hold
    one. Not counted: a read of a mapped class's ``__tablename__``, a ``.compile()`` method, and a write into a
    local value the function made itself (``data = json.loads(row.data); data["k"] = v``)."""
    scopes, rows = _scopes(tree), orm_rows(tree)
    found: dict[int, str] = {}
    for func in functions:
        made = _made_here(func)
        for statement in func.body:
            for node in walk(statement):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in HARMLESS_ATTRIBUTES
                    and isinstance(node.ctx, ast.Load)
                ):
                    continue
                reason = _construct(node, scopes, rows)
                if reason and not _writes_only_into(node, made):
                    found[id(statement)] = reason
                    break
    return found


# Model.__tablename__ is a name, not a way into a namespace; x.compile() is a clause's method, not the builtin.
HARMLESS_ATTRIBUTES = frozenset({"__tablename__", "__table__", "__name__", "compile"})
# Calls that return a new value of the caller's own (decoded JSON, a copy): writing into it changes nothing else.
NEW_VALUE_CALLS = frozenset({"loads", "deepcopy", "copy"}) | FRESH_CALLS


def _made_here(func: ast.FunctionDef) -> frozenset[str]:
    """Names every binding of which, in ``func``, is a new value (a literal container or NEW_VALUE_CALLS)."""
    values: dict[str, list[ast.AST]] = {}
    stores: Counter[str] = Counter()
    for node in walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values.setdefault(node.targets[0].id, []).append(node.value)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            stores[node.id] += 1
    # every binding is one of those single-name assignments (no loop, with, augmented, tuple binding or del)
    return frozenset(
        name for name, bound in values.items() if len(bound) == stores[name] and all(map(_new_value, bound))
    )


def _new_value(value: ast.AST) -> bool:
    if isinstance(value, FRESH_LITERALS):
        return True
    func = value.func if isinstance(value, ast.Call) else None
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in NEW_VALUE_CALLS


def _writes_only_into(node: ast.AST, made: frozenset[str]) -> bool:
    """``node`` is an assignment (or del) whose every written attribute or item hangs off a value the
    function made."""
    if not isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
        return False
    targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
    parts = [part for target in targets for part in _flatten(target) if isinstance(part, ast.Attribute | ast.Subscript)]
    roots = [_root(part) for part in parts]
    return (
        bool(parts)
        and all(_items_only(part) for part in parts)
        and all(isinstance(root, ast.Name) and root.id in made for root in roots)
    )


# The node types _construct has anything to say about (parsed nodes are exactly these classes, never subclasses).
CONSTRUCTS = frozenset(
    {ast.ImportFrom, ast.Import, ast.Name, ast.Attribute, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete}
    | {ast.For, ast.AsyncFor, ast.comprehension, ast.withitem}
)


def introspection_import(stmt: ast.stmt) -> frozenset[str] | None:
    """The names ``import importlib`` / ``from importlib.metadata import entry_points`` binds (the import
    alone runs only the standard library's module; what can change another line is a use of those names),
    or None when ``stmt`` is no such import (a star import binds names no reader can follow: not one)."""
    if isinstance(stmt, ast.Import) and all(a.name == "sys" for a in stmt.names):
        return None  # ``import sys`` is no tampering alone (sys.path); sys.modules is caught where it is used
    if isinstance(stmt, ast.Import):
        names = [a.name for a in stmt.names]
        bound = {a.asname or a.name.split(".")[0] for a in stmt.names}
    elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and all(a.name != "*" for a in stmt.names):
        names = [stmt.module or ""]
        bound = {a.asname or a.name for a in stmt.names}
    else:
        return None
    if not all(n.split(".")[0] in INTROSPECTION_MODULES for n in names):
        return None
    return frozenset(bound)


def _construct(
    node: ast.AST, scopes: dict[int, ast.AST], rows: frozenset[int] = frozenset(), uses: frozenset[str] = frozenset()
) -> str | None:
    if type(node) not in CONSTRUCTS:
        return None
    if isinstance(node, ast.Name) and node.id in uses:
        return f"uses {node.id}"
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
            if id(part) in rows and isinstance(node, ast.Assign):
                continue  # a column of an ORM row: a data write the session's flush makes (and that escalates)
            if isinstance(part, ast.Attribute | ast.Subscript) and not _fresh(part, node, scopes):
                return f"writes `{ast.unparse(part)[:60]}`"
    return None


SESSION_FACTORIES = frozenset({"Session", "sessionmaker", "scoped_session"})
QUERY_METHODS = frozenset({"filter", "filter_by", "all", "order_by", "limit", "offset", "yield_per", "distinct"})


def orm_rows(tree: ast.AST) -> frozenset[int]:
    """id() of ``row.column = value`` targets where ``row`` walks ``session.query(Model)``: ``session`` is
    bound once in the function to an ORM session (``Session(...)``: opening one is unread-statement, so the
    revision escalates whatever the rows are) and ``Model`` a class of this file mapped on a
    ``declarative_base()``, with no decorator, metaclass or method of its own. Such a write changes a row,
    not what another line of the file means."""
    if not isinstance(tree, ast.Module):
        return frozenset()
    models = mapped_classes(tree)
    if not models or bindings(tree, "enumerate"):
        return frozenset()
    out: set[int] = set()
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for loop in (n for n in _own_nodes(func) if isinstance(n, ast.For)):
            row = _row_variable(func, loop, models)
            if row is None:
                continue
            for node in _own_nodes(loop):
                if isinstance(node, ast.Assign):
                    out.update(
                        id(t)
                        for t in node.targets
                        if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == row
                    )
    return frozenset(out)


def _row_variable(func: ast.FunctionDef, loop: ast.For, models: set[str]) -> str | None:
    """The loop's variable when it walks a session query of a mapped class (``for i, row in enumerate(q)``)."""
    target, walked = loop.target, loop.iter
    if isinstance(walked, ast.Call) and isinstance(walked.func, ast.Name) and walked.func.id == "enumerate":
        if len(walked.args) != 1 or not isinstance(target, ast.Tuple):
            return None
        walked, target = walked.args[0], target.elts[-1] if len(target.elts) == 2 else target
    if isinstance(walked, ast.Name) and bindings(func, walked.id) == 1:
        values = _assigned(func, walked.id)
        walked = values[0] if len(values) == 1 else walked
    if not isinstance(target, ast.Name) or bindings(func, target.id) != 1 or not _session_query(func, walked, models):
        return None
    return target.id


def _session_query(func: ast.FunctionDef, node: ast.expr, models: set[str]) -> bool:
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERY_METHODS:
        node = node.func.value
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "query"):
        return False
    session = node.func.value
    if not (isinstance(session, ast.Name) and bindings(func, session.id) == 1) or len(node.args) != 1:
        return False
    model = node.args[0]
    opened = _assigned(func, session.id)
    factory = opened[0].func if len(opened) == 1 and isinstance(opened[0], ast.Call) else None
    name = factory.attr if isinstance(factory, ast.Attribute) else factory.id if isinstance(factory, ast.Name) else ""
    return name in SESSION_FACTORIES and isinstance(model, ast.Name) and model.id in models


def mapped_classes(tree: ast.Module) -> set[str]:
    bases = {
        t.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
        for t in stmt.targets
        if isinstance(t, ast.Name) and _called(stmt.value) == "declarative_base" and bindings(tree, t.id) == 1
    }
    return {
        stmt.name
        for stmt in tree.body
        if isinstance(stmt, ast.ClassDef)
        and not stmt.decorator_list
        and not stmt.keywords
        and bindings(tree, stmt.name) == 1
        and all(isinstance(b, ast.Name) and b.id in bases for b in stmt.bases)
        and stmt.bases
        and not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in stmt.body)
    }


def _called(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


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
    if not _items_only(target):
        return False  # ``holder[0].String = v``: an attribute of what the container holds, not the container
    kwarg = scope.args.kwarg if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else None
    if kwarg is not None and kwarg.arg == root.id and bindings(scope, root.id) == 1:
        return True  # ``**kwargs``: a dict Python makes for each call
    values = [v for v in _assigned(scope, root.id)]
    return bindings(scope, root.id) == 1 and len(values) == 1 and _fresh_value(values[0])


def _items_only(target: ast.expr) -> bool:
    """``x[a][b]``: items of items down to a name, no attribute on the way."""
    while isinstance(target, ast.Subscript):
        target = target.value
    return isinstance(target, ast.Name)


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


def bound_by(nodes: list[ast.AST], name: str) -> int:
    """How many times ``name`` is bound by these nodes themselves (``bindings`` over a listing of a scope)."""
    return sum(_binds(node, name) for node in nodes)


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
