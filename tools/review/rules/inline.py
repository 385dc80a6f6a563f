"""Helpers that write through ``op``: their operations are read at the call site, as if the migration wrote them.

A statement ``helper(args)`` in upgrade()/downgrade() whose callee is a plain function found where
effects.Sources finds helpers (this file, the project, its virtualenv; nothing in a module that tampers) is
read when the helper's body holds only:

- ``op.<operation>(...)`` and ``with op.batch_alter_table(t) as b:`` blocks of ``b.<operation>(...)``, whose
  arguments are literals, the helper's parameters (``*columns`` / ``**kwargs`` spliced), or the variable of
  a loop over a ``*parameter`` (or over a list filled from one);
- code effects.Judge reads as pure or read-only (an inspector check, logging) in ``if`` tests, expression
  statements and assignments to names of its own;
- ``if``/``else``, ``return``, ``for`` over a ``*parameter`` (or over a list it filled from one), ``pass``.

The operations become OpCalls at the call's line, with the call site's arguments in place of the
parameters (a name the migration binds once to a string, its value) and one operation per element of a
loop. One under an ``if``, after a conditional ``return`` or in a loop over a filtered list is ``guarded``:
the helper may skip it, so a column it adds never counts as new (empty) in the revision. A table a helper
creates unless it exists counts as the revision's own, as ``op.create_table`` would: it is new wherever the
history runs in order. Anything else (a value of the helper's own in an operation, a
helper that writes in turn, try/except, ``execute``, a call the judge cannot read) leaves the call
unread, and it escalates as ``unread-statement`` as before.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

from alembic_mcp.tools.history.migration_ast import (
    TABLE_ARG,
    MigrationSource,
    OpCall,
    dialect_guard,
    dialect_scope,
    ops_of_statements,
)
from alembic_mcp.tools.review.rules.effects import (
    DRIVER_ATTRIBUTES,
    EXECUTING,
    MAX_DEPTH,
    OP_READS,
    PURE,
    READS,
    Judge,
    Module,
    Sources,
    _chain,
    _computed_getattr,
    _runs_code,
    bound_once,
    local_names,
    pure_module,
)
from alembic_mcp.tools.review.rules.tamper import bindings, tampering

# Operations a helper's op calls are read as (execute and bulk_insert stay unread: their SQL is read from the
# file itself, where a statement built in the helper is not).
OPERATIONS = set(TABLE_ARG) - {"bulk_insert"}
BATCH_OPERATIONS = OPERATIONS - {"create_table", "drop_table", "rename_table", "create_table_comment"}
UNSUPPORTED = (
    ast.Lambda,
    ast.NamedExpr,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Global,
    ast.Nonlocal,
)


class Unmapped(Exception):
    """The helper does something its call site cannot be read as."""


@dataclass
class Helper:
    name: str
    module: Module
    func: ast.FunctionDef


def resolve(sources: Sources, module: Module, chain: list[str], depth: int = 0) -> Helper | None:
    """The plain function ``a.b.c`` names in ``module``, followed through imports as Python would."""
    if module.tampered or not chain or depth > MAX_DEPTH or bindings(module.tree, chain[0]) != 1:
        return None
    root, attrs = chain[0], chain[1:]
    target = module.imports.get(root)
    if target is not None:
        if pure_module(target) or target.split(".")[0] == "alembic":
            return None
        found = sources.module(target)
        if found is not None:
            return resolve(sources, found, attrs, depth + 1) if attrs else None
        owner, _, name = target.rpartition(".")
        found = sources.module(owner) if owner else None
        return resolve(sources, found, [name, *attrs], depth + 1) if found is not None else None
    func = next((n for n in module.tree.body if isinstance(n, ast.FunctionDef) and n.name == root), None)
    if attrs or func is None or func.decorator_list:
        return None
    return Helper(root, module, func)


def bind_arguments(func: ast.FunctionDef, call: ast.Call) -> dict[str, object]:
    """Parameter -> the call site's expression (a list for ``*args``, keywords for ``**kwargs``); defaults
    only when literal."""
    spec = func.args
    positional = [*spec.posonlyargs, *spec.args]
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise Unmapped("a starred argument at the call site")
    bound: dict[str, object] = {}
    extra: list[ast.expr] = []
    for index, value in enumerate(call.args):
        if index < len(positional):
            bound[positional[index].arg] = value
        elif spec.vararg is not None:
            extra.append(value)
        else:
            raise Unmapped("too many arguments")
    by_keyword = {a.arg for a in [*spec.args, *spec.kwonlyargs]}
    extra_keywords: list[ast.keyword] = []
    for keyword in call.keywords:
        if keyword.arg in by_keyword and keyword.arg not in bound:
            bound[keyword.arg] = keyword.value
        elif spec.kwarg is not None and keyword.arg not in bound:
            extra_keywords.append(keyword)
        else:
            raise Unmapped(f"argument {keyword.arg}")
    with_default = positional[len(positional) - len(spec.defaults) :]
    defaults = dict(zip([a.arg for a in with_default], spec.defaults, strict=True))
    defaults |= {a.arg: d for a, d in zip(spec.kwonlyargs, spec.kw_defaults, strict=True) if d is not None}
    for arg in [*positional, *spec.kwonlyargs]:
        if arg.arg not in bound:
            if arg.arg not in defaults or not _literal(defaults[arg.arg]):
                raise Unmapped(f"parameter {arg.arg}")
            bound[arg.arg] = defaults[arg.arg]
    if spec.vararg is not None:
        bound[spec.vararg.arg] = extra
    if spec.kwarg is not None:
        bound[spec.kwarg.arg] = extra_keywords
    return bound


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return False
    return True


@dataclass
class _Reading:
    """One helper body read against one call site."""

    sources: Sources
    helper: Helper
    call: ast.Call
    backend: str | None
    constants: dict[str, str] = field(default_factory=dict)  # the migration's names bound once to a string
    env: dict[str, object] = field(default_factory=dict)  # name -> call-site expression (or list, keywords)
    filled: dict[str, str | None] = field(default_factory=dict)  # list bound to [] -> the *parameter it is filled from
    batches: set[str] = field(default_factory=set)
    guarded_calls: set[int] = field(default_factory=set)
    caller_nodes: set[int] = field(default_factory=set)
    passed: set[int] = field(default_factory=set)  # id() of the call site's nodes an operation receives
    returned: bool = False  # a conditional return ran before: what follows may be skipped
    looping: dict[str, str] = field(default_factory=dict)  # loop variable -> the *parameter it walks

    def __post_init__(self) -> None:
        func = self.helper.func
        if any(isinstance(n, UNSUPPORTED) for n in ast.walk(func) if n is not func):
            raise Unmapped("nested code")
        spans = self.helper.module.tampered_spans
        if tampering(func) or any(start <= func.lineno <= end for start, end in spans):
            raise Unmapped("the helper writes objects")  # an attribute or item of anything but its own list
        self.params = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
        if any(bindings(func, name) != 1 for name in self.params):
            raise Unmapped("a parameter rebound")
        self.aliases = _aliases_of(func, self.params)  # a method called on these changes a call-site value
        if _writes_into(func, self.params | self.aliases):
            raise Unmapped("an item or attribute of a call-site value written")
        self.env = bind_arguments(func, self.call)
        self.dialects = dialect_scope(func, self.helper.module.tree)
        self.judge = Judge(self.sources, self.helper.module, depth=1)
        self.judge.values = bound_once(func)
        self.local = local_names(func)
        self.judge.local = self.local
        module = self.helper.module
        self.alembic = {n for n, target in module.imports.items() if target in ("alembic.op", "alembic.context")}
        self.ops = {n for n, target in module.imports.items() if target == "alembic.op"}

    # ---------------------------------------------------------------- statements

    def block(self, body: list[ast.stmt], guarded: bool, out: list[ast.stmt]) -> None:
        for stmt in body:
            if self.statement(stmt, guarded or self.returned, out) == "return":
                self.returned = True  # nothing after it in this block runs; after the block, maybe not
                return

    def statement(self, stmt: ast.stmt, guarded: bool, out: list[ast.stmt]) -> str | None:
        """Read one statement of the helper; "return" when it returns."""
        if isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self.reads(stmt.value)
            return "return"
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            pass
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.expression(stmt.value, guarded, out)
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            self.assign(stmt.targets[0].id, stmt.value)
        elif isinstance(stmt, ast.If):
            self.branch(stmt, out)
        elif isinstance(stmt, ast.For) and not stmt.orelse:
            self.loop(stmt, guarded, out)
        elif isinstance(stmt, ast.With):
            self.with_block(stmt, guarded, out)
        else:
            raise Unmapped(f"line {stmt.lineno}: {type(stmt).__name__}")
        return None

    def expression(self, call: ast.Call, guarded: bool, out: list[ast.stmt]) -> None:
        func = call.func
        named = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
        receiver, method = (func.value.id, func.attr) if named else ("", "")  # type: ignore[attr-defined]
        if receiver in self.ops and method in OPERATIONS:
            self.emit(ast.Expr(self.operation("op", method, call)), guarded, out)
        elif receiver in self.batches and method in BATCH_OPERATIONS:
            self.emit(ast.Expr(self.operation(receiver, method, call)), guarded, out)
        elif receiver in self.filled and method == "append" and len(call.args) == 1:
            self.fill(receiver, call.args[0])
        else:
            self.reads(call)

    def assign(self, name: str, value: ast.expr) -> None:
        if name in self.params or name in self.batches or bindings(self.helper.func, name) != 1:
            raise Unmapped(f"{name} rebound")
        if isinstance(value, ast.List) and not value.elts:
            self.filled[name] = None  # a list filled below: from a *parameter, or unknown
        self.reads(value)

    def fill(self, name: str, value: ast.expr) -> None:
        """``cols.append(col)`` in a loop over ``*columns``: the list holds some of the parameter's values."""
        source = self.looping.get(value.id) if isinstance(value, ast.Name) else None
        if source is None or self.filled[name] not in (None, source):
            self.filled[name] = "?"  # filled from anything else: its elements are not the call site's
        else:
            self.filled[name] = source

    def branch(self, stmt: ast.If, out: list[ast.stmt]) -> None:
        self.reads(stmt.test)
        guard = dialect_guard(stmt.test, self.dialects) if self.backend else None
        runs = guard is None or (self.backend in guard[0]) != guard[1]  # another dialect's branch is not read
        if runs:
            self.block(stmt.body, True, out)
        if guard is None or not runs:
            self.block(stmt.orelse, True, out)

    def loop(self, stmt: ast.For, guarded: bool, out: list[ast.stmt]) -> None:
        """``for col in columns`` over ``*columns`` (or a list filled from it): the body once per value."""
        iterated = stmt.iter.id if isinstance(stmt.iter, ast.Name) else ""
        target = stmt.target.id if isinstance(stmt.target, ast.Name) else None
        walked = self.filled.get(iterated) if iterated in self.filled else iterated
        values = self.env.get(walked) if walked in self._starred() else None
        if not isinstance(values, list):
            if self._writes(stmt):
                raise Unmapped(f"line {stmt.lineno}: a loop over a value of the helper's own")
            self.reads(stmt)  # a loop that only reads or logs
            return
        if target is None or target in self.params or not self._loop_variable(target):
            raise Unmapped("loop variable")
        guarded = guarded or iterated in self.filled  # a filtered list: some values may be left out
        looping = self.looping
        for value in values:
            self.env[target] = value
            self.looping = {**looping, target: walked}  # type: ignore[dict-item]
            self.block(stmt.body, guarded, out)
        self.looping = looping
        self.env.pop(target, None)

    def _loop_variable(self, name: str) -> bool:
        """Bound only as the target of for loops (each rebinds it for its own body)."""
        loops = sum(
            isinstance(n, ast.For) and isinstance(n.target, ast.Name) and n.target.id == name
            for n in ast.walk(self.helper.func)
        )
        return loops == bindings(self.helper.func, name)

    def _starred(self) -> set[str]:
        vararg = self.helper.func.args.vararg
        return {vararg.arg} if vararg is not None else set()

    def with_block(self, stmt: ast.With, guarded: bool, out: list[ast.stmt]) -> None:
        item = stmt.items[0] if len(stmt.items) == 1 else None
        context = item.context_expr if item is not None else None
        alias = item.optional_vars if item is not None else None
        is_batch = (
            isinstance(context, ast.Call)
            and isinstance(context.func, ast.Attribute)
            and isinstance(context.func.value, ast.Name)
            and context.func.value.id in self.ops
            and context.func.attr == "batch_alter_table"
        )
        if not is_batch or not isinstance(alias, ast.Name) or bindings(self.helper.func, alias.id) != 1:
            if self._writes(stmt):
                raise Unmapped(f"line {stmt.lineno}: a with block")
            self.reads(stmt)
            return
        inner: list[ast.stmt] = []
        self.batches.add(alias.id)
        self.block(stmt.body, guarded, inner)
        self.batches.discard(alias.id)
        opened = self.operation("op", "batch_alter_table", context)  # type: ignore[arg-type]
        self.emit(ast.With(items=[ast.withitem(opened, ast.Name(alias.id, ast.Store()))], body=inner), guarded, out)

    def _writes(self, node: ast.AST) -> bool:
        names = self.ops | self.batches | set(self.filled)
        return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))

    # ---------------------------------------------------------------- operations

    def operation(self, receiver: str, name: str, call: ast.Call) -> ast.Call:
        """``receiver.name(...)`` with the call site's values in place of the helper's names."""
        args: list[ast.expr] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                args.extend(self.spliced(arg.value, ast.expr))
            else:
                args.append(self.value(arg))
        keywords: list[ast.keyword] = []
        for keyword in call.keywords:
            if keyword.arg is None:
                keywords.extend(self.spliced(keyword.value, ast.keyword))
            else:
                keywords.append(ast.keyword(keyword.arg, self.value(keyword.value)))
        func = ast.Attribute(ast.Name(receiver, ast.Load()), name, ast.Load())
        return ast.Call(func, args, keywords)

    def spliced(self, node: ast.expr, kind: type) -> list:
        """``*columns`` / ``**kwargs``: the call site's extra arguments of that kind."""
        bound = self.env.get(node.id) if isinstance(node, ast.Name) and node.id in self.params else None
        if not isinstance(bound, list) or not all(isinstance(v, kind) for v in bound):
            raise Unmapped(f"*{ast.unparse(node)}")
        return [self._caller(v) for v in bound]

    def value(self, node: ast.expr) -> ast.expr:
        """A literal (as written in the helper), or a name bound to a call-site expression."""
        if isinstance(node, ast.Name):
            bound = self.env.get(node.id)
            if isinstance(bound, ast.expr):
                return self._caller(bound)
            raise Unmapped(f"{node.id} is the helper's own value")
        if isinstance(node, ast.Constant):
            return copy.deepcopy(node)
        if isinstance(node, ast.List | ast.Tuple):
            return type(node)([self.value(e) for e in node.elts], ast.Load())
        if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            return copy.deepcopy(node)
        if isinstance(node, ast.Dict) and None not in node.keys:
            return ast.Dict([self.value(k) for k in node.keys if k is not None], [self.value(v) for v in node.values])
        if self._sqlalchemy(node):
            return self.construct(node)
        raise Unmapped(f"`{ast.unparse(node)[:60]}` in an operation")

    def construct(self, node: ast.expr) -> ast.expr:
        """``sa.Column("x", sa.Text, nullable=False)`` built in the helper: SQLAlchemy's constructors, with
        the same values inside as an operation's arguments."""
        if isinstance(node, ast.Call):
            if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
                raise Unmapped("a starred argument in a construct")
            func = self.construct(node.func) if not isinstance(node.func, ast.Name) else copy.deepcopy(node.func)
            args = [self.value(a) for a in node.args]
            return ast.Call(func, args, [ast.keyword(k.arg, self.value(k.value)) for k in node.keywords])
        if isinstance(node, ast.Attribute):
            if node.attr in DRIVER_ATTRIBUTES or node.attr.startswith("_") or node.attr in EXECUTING:
                raise Unmapped(f".{node.attr}")
            inner = node.value
            value = copy.deepcopy(inner) if isinstance(inner, ast.Name) else self.construct(inner)
            return ast.Attribute(value, node.attr, ast.Load())
        if isinstance(node, ast.Name):
            return copy.deepcopy(node)
        return self.value(node)

    def _sqlalchemy(self, node: ast.expr) -> bool:
        """An expression rooted at a name the helper's module imports from SQLAlchemy (bound once)."""
        root = node
        while isinstance(root, ast.Call | ast.Attribute):
            root = root.func if isinstance(root, ast.Call) else root.value
        if not isinstance(root, ast.Name) or root.id in self.local:
            return False
        module = self.helper.module
        target = module.imports.get(root.id, "")
        return bindings(module.tree, root.id) == 1 and target.split(".")[0] in ("sqlalchemy", "sqlmodel")

    def _caller(self, node):
        """A copy of a call-site expression (its own lines kept: they are the migration's)."""
        self.passed.update(id(n) for n in ast.walk(node))
        copied = _Literals(self.constants).visit(copy.deepcopy(node))
        self.caller_nodes.update(id(n) for n in ast.walk(copied.value if isinstance(copied, ast.keyword) else copied))
        self.caller_nodes.add(id(copied))
        return copied

    def emit(self, stmt: ast.stmt, guarded: bool, out: list[ast.stmt]) -> None:
        if guarded:
            self.guarded_calls.update(id(n) for n in ast.walk(stmt) if isinstance(n, ast.Call))
        out.append(stmt)

    # ---------------------------------------------------------------- read-only code

    def reads(self, node: ast.AST) -> None:
        """``node`` only computes or reads (effects.Judge), uses ``op`` only for a bind, calls no method of a
        call-site value (whose object the migration chose)."""
        reads_op = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr in OP_READS}
        looping = set(self.looping)
        for sub in ast.walk(node):
            if isinstance(sub, UNSUPPORTED) or _runs_code(sub):
                raise Unmapped("code the review cannot follow")
            if isinstance(sub, ast.Name) and sub.id in self.alembic and id(sub) not in reads_op:
                raise Unmapped("op used as a value")
            if isinstance(sub, ast.Name) and sub.id in self.batches:
                raise Unmapped("a batch proxy used as a value")
            if isinstance(sub, ast.Attribute) and (sub.attr in DRIVER_ATTRIBUTES or sub.attr.startswith("_")):
                raise Unmapped(f".{sub.attr}")
            if isinstance(sub, ast.Call):
                chain = _chain(sub.func)
                if chain and len(chain) > 1 and (chain[0] in self.params | self.aliases or chain[0] in looping):
                    raise Unmapped("a method of a call-site value")
                if _computed_getattr(sub) or self.judge.call(sub, self.local) not in (PURE, READS):
                    raise Unmapped(f"`{ast.unparse(sub.func)[:60]}` may write")

    def operations(self, function: str) -> list[OpCall]:
        out: list[ast.stmt] = []
        self.block(self.helper.func.body, False, out)
        for stmt in out:
            for node in ast.walk(stmt):
                if id(node) not in self.caller_nodes and "lineno" in node._attributes:
                    ast.copy_location(node, self.call)
        ops = ops_of_statements(out, function)
        for op in ops:
            op.helper, op.guarded = self.helper.name, id(op.node) in self.guarded_calls
        return ops


class _Literals(ast.NodeTransformer):
    """Names the migration binds once to a string, replaced by that string (``TASKS_TABLE`` -> "tasks")."""

    def __init__(self, constants: dict[str, str]) -> None:
        self.constants = constants

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.constants and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.constants[node.id]), node)
        return node


def helper_calls(func: ast.AST) -> Iterator[ast.Call]:
    """The calls that are a whole statement in ``func`` (outside nested functions)."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            yield node.value
        stack.extend(ast.iter_child_nodes(node))


@dataclass
class Inlined:
    """The helper calls read as operations: id(call) -> its operations, and id() of the call sites' values
    those operations receive (read as an operation's arguments, as in ``op.add_column(...)``)."""

    ops: dict[int, list[OpCall]] = field(default_factory=dict)
    arguments: set[int] = field(default_factory=set)


def read_helpers(migration: MigrationSource, sources: Sources, backend: str | None) -> Inlined:
    """The helper calls of upgrade()/downgrade() that read as operations."""
    module = Module("", migration.path, migration.tree)
    out = Inlined()
    if module.tampered:
        return out
    strings = {
        name: value.value
        for name, value in module.assigned.items()
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and bindings(module.tree, name) == 1
    }
    for function in ("upgrade", "downgrade"):
        func = migration.functions.get(function)
        if func is None:
            continue
        local = local_names(func)
        constants = {name: text for name, text in strings.items() if name not in local}
        for call in helper_calls(func):
            chain = _chain(call.func)
            if chain is None or chain[0] in local or chain[0] in ("op", "context"):
                continue
            helper = resolve(sources, module, chain)
            if helper is None:
                continue
            try:
                reading = _Reading(sources, helper, call, backend, constants)
                ops = reading.operations(function)
            except Unmapped:
                continue
            if not ops:
                continue  # no operation: the helper is effects.Judge's to read, as any other call
            for op in ops:
                op.in_autocommit = _in_autocommit(func, call)
            out.ops[id(call)] = ops
            out.arguments |= reading.passed
    return out


def _in_autocommit(func: ast.AST, call: ast.Call) -> bool:
    """The call is inside ``with op.get_context().autocommit_block():``."""
    blocks = [n for n in ast.walk(func) if isinstance(n, ast.With) and any(_autocommit(i) for i in n.items)]
    return any(sub is call for block in blocks for sub in ast.walk(block))


def _autocommit(item: ast.withitem) -> bool:
    func = item.context_expr.func if isinstance(item.context_expr, ast.Call) else None
    return isinstance(func, ast.Attribute) and func.attr == "autocommit_block"


def merged(own: list[OpCall], inlined: list[OpCall]) -> list[OpCall]:
    """The file's operations and the helpers' in the order they run (a helper's at its call's line)."""
    out: list[OpCall] = []
    pending = sorted(inlined, key=lambda op: op.line)  # stable: one call's operations keep their order
    for op in own:
        while pending and pending[0].line < op.line:
            out.append(pending.pop(0))
        out.append(op)
    out.extend(pending)
    created: set[str] = set()
    for op in out:
        if op.name == "create_table" and op.table:
            created.add(op.table)
        elif op.table in created:
            op.table_created_here = True
    return out


def _aliases_of(func: ast.AST, params: set[str]) -> set[str]:
    """Names the helper binds to a value built from a parameter (``options = kwargs``, ``cols = list(columns)``):
    they may be the call site's own object, so calling their methods may change it."""
    aliases: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in ast.walk(func):
            value = getattr(node, "value", None)
            if not isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr | ast.AugAssign) or value is None:
                continue
            used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
            if not used & (params | aliases):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} - aliases
                changed |= bool(names)
                aliases |= names
    return aliases


def _writes_into(func: ast.AST, names: set[str]) -> bool:
    """``options["type_"] = ...`` / ``del kwargs["x"]`` / ``col.name = ...`` on one of ``names``."""
    for node in ast.walk(func):
        targets = (
            node.targets
            if isinstance(node, ast.Assign | ast.Delete)
            else [node.target]
            if isinstance(node, ast.AugAssign | ast.AnnAssign)
            else []
        )
        for target in targets:
            while isinstance(target, ast.Subscript | ast.Attribute):
                target = target.value
                if isinstance(target, ast.Name) and target.id in names:
                    return True
    return False
