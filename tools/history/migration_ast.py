"""Read a migration file without importing it: its revision ids and every ``op.*`` call, with lines.

Understands ``op.<name>(...)`` in upgrade()/downgrade(), ``with op.batch_alter_table("t") as b:``
blocks (``b.<name>(...)`` calls get the batch's table), ``with op.get_context().autocommit_block():``
and the tables created earlier in the same function.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic_mcp.tools.history.nodes import children, walk

# Position of the table-name argument for op.<name>(...) outside a batch block; keyword alternatives.
TABLE_ARG: dict[str, tuple[int, tuple[str, ...]]] = {
    "add_column": (0, ("table_name",)),
    "drop_column": (0, ("table_name",)),
    "alter_column": (0, ("table_name",)),
    "create_table": (0, ("table_name",)),
    "drop_table": (0, ("table_name",)),
    "rename_table": (0, ("old_table_name",)),
    "create_index": (1, ("table_name",)),
    "drop_index": (1, ("table_name",)),
    "create_foreign_key": (1, ("source_table", "source")),
    "create_unique_constraint": (1, ("table_name", "source")),
    "create_check_constraint": (1, ("table_name", "source")),
    "create_primary_key": (1, ("table_name",)),
    "create_exclude_constraint": (1, ("table_name",)),
    "drop_constraint": (1, ("table_name",)),
    "create_table_comment": (0, ("table_name",)),
    "drop_table_comment": (0, ("table_name",)),
    "bulk_insert": (0, ("table",)),
}


@dataclass
class OpCall:
    """One ``op.<name>(...)`` call (or a batch-op call) in upgrade() or downgrade()."""

    name: str
    function: str
    line: int
    node: ast.Call
    table: str | None = None
    batch_table: str | None = None  # "?" when the batch's table name is not a literal
    in_autocommit: bool = False
    table_created_here: bool = False
    # read from a helper the migration calls (review/rules/inline.py): the helper's name, and whether the
    # helper may skip it (an existence check, an early return, a loop over a filtered list)
    helper: str | None = None
    guarded: bool = False

    @property
    def args(self) -> list[ast.expr]:
        return list(self.node.args)

    @property
    def kwargs(self) -> dict[str, ast.expr]:
        return {kw.arg: kw.value for kw in self.node.keywords if kw.arg}

    def arg(self, position: int, keyword: str | None = None) -> ast.expr | None:
        """Argument by its position in the non-batch signature, or by keyword.

        Inside a batch block the table argument is implicit, so later positions shift left.
        """
        if keyword and keyword in self.kwargs:
            return self.kwargs[keyword]
        if self.batch_table is not None and self.name in TABLE_ARG:
            table_position = TABLE_ARG[self.name][0]
            if position == table_position:
                return None
            if position > table_position:
                position -= 1
        args = self.args
        return args[position] if 0 <= position < len(args) else None

    def literal(self, position: int, keyword: str | None = None):
        return literal_value(self.arg(position, keyword))


DIALECT_ALIASES = {"mariadb": "mysql", "postgres": "postgresql"}


@dataclass(frozen=True)
class DialectBranch:
    """Lines of an ``if <dialect> == "x":`` body (or its else) and the dialects that run them."""

    start: int
    end: int
    dialects: frozenset[str]
    negated: bool = False  # the lines run on every dialect but these

    def runs_on(self, dialect: str) -> bool:
        return (DIALECT_ALIASES.get(dialect, dialect) in self.dialects) != self.negated


def _dialect_names(node: ast.expr) -> frozenset[str] | None:
    """The string constants a dialect is compared with (``"mysql"``, ``("mysql", "mariadb")``)."""
    values = literal_value(node)
    names = [values] if isinstance(values, str) else list(values) if isinstance(values, list | tuple | set) else []
    if not names or not all(isinstance(n, str) for n in names):
        return None
    return frozenset(DIALECT_ALIASES.get(n.lower(), n.lower()) for n in names)


@dataclass(frozen=True)
class DialectScope:
    """What makes a dialect test believable in one function: the names it binds only by plain assignments of
    one same expression (``conn = op.get_bind()``, perhaps again in a branch: a name bound to anything else
    too, a parameter or a loop variable may hold anything), and the names its module imports from
    SQLAlchemy (dialect classes for isinstance)."""

    bound: dict[str, ast.expr] = field(default_factory=dict)
    sqlalchemy_names: frozenset[str] = frozenset()
    sqlalchemy_modules: frozenset[str] = frozenset()  # ``import sqlalchemy as sa``: sa.inspect is SQLAlchemy's


def dialect_scope(func: ast.AST | None, module: ast.AST | None = None) -> DialectScope:
    """The DialectScope of ``func`` in ``module``."""
    counts: dict[str, int] = {}
    values: dict[str, list[ast.expr]] = {}
    for node in walk(func) if func is not None else ():
        names: list[str] = []
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names = [node.id]
        elif isinstance(node, ast.arg):
            names = [node.arg, node.arg]  # a parameter holds what the caller passes: never believed
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names = [*node.names, *node.names]
        elif isinstance(node, ast.alias):
            names = [(node.asname or node.name).split(".")[0]]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node is not func:
            names = [node.name]
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values.setdefault(node.targets[0].id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values.setdefault(node.target.id, []).append(node.value)  # ``bind: Connection = op.get_bind()``
    imported: set[str] = set()
    modules: set[str] = set()
    for node in module.body if isinstance(module, ast.Module) else []:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            imported |= {alias.asname or alias.name for alias in node.names}
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "sqlalchemy"}
    defined: set[str] = set()  # a name the module also binds itself may not be the imported class
    for node in walk(module) if module is not None else ():
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            defined.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
    # every binding is one of these assignments, all of one expression: whichever ran, the name holds it
    # (only the migration's own connection and what is read from it resolve: op.get_bind() is one object)
    bound = {
        name: found[0]
        for name, found in values.items()
        if counts.get(name) == len(found) and len({ast.dump(v) for v in found}) == 1
    }
    return DialectScope(bound, frozenset(imported - defined), frozenset(modules - defined))


def _from_bind(node: ast.expr, scope: DialectScope, depth: int = 0) -> bool:
    """``op.get_bind()`` / ``op.get_context()`` (or its ``.bind`` / ``.connection`` / ``.engine``), or a name
    bound once to one: the connection the migration runs on, whose dialect is the target's."""
    if depth > 8:
        return False
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in scope.sqlalchemy_names:
        inspected = node.func.id == "inspect" and len(node.args) == 1
        return inspected and _from_bind(node.args[0], scope, depth + 1)
    if isinstance(node, ast.Call):
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return False
        own = func.value.id in ("op", "context") and func.attr in ("get_bind", "get_context")
        if own:
            return not node.args and not node.keywords
        inspected = func.attr == "inspect" and func.value.id in scope.sqlalchemy_modules
        return inspected and len(node.args) == 1 and _from_bind(node.args[0], scope, depth + 1)
    if isinstance(node, ast.Attribute):
        return node.attr in ("bind", "connection", "engine") and _from_bind(node.value, scope, depth + 1)
    if isinstance(node, ast.Name) and node.id in scope.bound:
        return _from_bind(scope.bound[node.id], scope, depth + 1)
    return False


def _is_dialect_expr(node: ast.expr, scope: DialectScope, depth: int = 0) -> bool:
    """``<connection>.dialect.name`` / ``<connection>.engine.name`` of the migration's own connection, or a
    name bound once to it. Any other ``dialect`` variable or attribute may hold anything."""
    if isinstance(node, ast.Attribute) and node.attr == "name":
        inner = node.value
        return (
            isinstance(inner, ast.Attribute) and inner.attr in ("dialect", "engine") and _from_bind(inner.value, scope)
        )
    if isinstance(node, ast.Name) and node.id in scope.bound and depth < 8:
        return _is_dialect_expr(scope.bound[node.id], scope, depth + 1)
    return False


DIALECT_CLASSES = (("MySQL", "mysql"), ("MariaDB", "mysql"), ("PG", "postgresql"), ("SQLite", "sqlite"))


def _dialect_class(test: ast.expr, scope: DialectScope) -> frozenset[str] | None:
    """``isinstance(bind.dialect, MySQLDialect)`` (or a tuple of dialect classes imported from SQLAlchemy):
    the dialects it names."""
    if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance"):
        return None
    if len(test.args) != 2 or not (isinstance(test.args[0], ast.Attribute) and test.args[0].attr == "dialect"):
        return None
    if not _from_bind(test.args[0].value, scope):
        return None
    classes = test.args[1].elts if isinstance(test.args[1], ast.Tuple) else [test.args[1]]
    names = [c.id if isinstance(c, ast.Name) and c.id in scope.sqlalchemy_names else "" for c in classes]
    found = [next((d for prefix, d in DIALECT_CLASSES if n.startswith(prefix)), None) for n in names]
    return frozenset(d for d in found if d) if found and all(found) else None


def _dialect_named_in(test: ast.expr, scope: DialectScope) -> tuple[frozenset[str], bool] | None:
    """``"sqlite" in bind.dialect.dialect_description`` / ``"mysql" not in bind.dialect.name``."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.In | ast.NotIn)):
        return None
    described = test.comparators[0]
    if not (isinstance(described, ast.Attribute) and described.attr in ("name", "dialect_description")):
        return None
    dialect = described.value
    if not (isinstance(dialect, ast.Attribute) and dialect.attr == "dialect" and _from_bind(dialect.value, scope)):
        return None
    names = _dialect_names(test.left)
    return (names, isinstance(test.ops[0], ast.NotIn)) if names else None


def dialect_guard(test: ast.expr, scope: DialectScope | None = None) -> tuple[frozenset[str], bool] | None:
    """(dialects, negated) of an if-test comparing the name of the migration's own connection's dialect,
    or None. ``scope`` (dialect_scope) lets names bound once in the function count; without it, only the
    connection read in the test itself does."""
    scope = scope or DialectScope()
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = dialect_guard(test.operand, scope)
        return (inner[0], not inner[1]) if inner else None
    if (classes := _dialect_class(test, scope)) is not None:
        return classes, False
    if (named := _dialect_named_in(test, scope)) is not None:
        return named

    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "startswith":
        names = _dialect_names(test.args[0]) if test.args and _is_dialect_expr(test.func.value, scope) else None
        return (names, False) if names else None  # dialect.name.startswith("mysql")
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and _is_dialect_expr(test.left, scope)):
        return None
    names = _dialect_names(test.comparators[0])
    if names is None or not isinstance(test.ops[0], ast.Eq | ast.NotEq | ast.In | ast.NotIn):
        return None
    return names, isinstance(test.ops[0], ast.NotEq | ast.NotIn)


def dialect_branches(func: ast.AST | None, module: ast.AST | None = None) -> list[DialectBranch]:
    """Every dialect-guarded block of a function, with its else block (the other dialects)."""
    out: list[DialectBranch] = []
    scope = dialect_scope(func, module)
    for node in walk(func) if func is not None else ():
        if not isinstance(node, ast.If) or (guard := dialect_guard(node.test, scope)) is None:
            continue
        names, negated = guard
        out.append(DialectBranch(node.body[0].lineno, _end(node.body), names, negated))
        if node.orelse:
            out.append(DialectBranch(node.orelse[0].lineno, _end(node.orelse), names, not negated))
    body = getattr(func, "body", [])
    for index, stmt in enumerate(body[:-1]):  # ``if dialect != "mysql": return`` and the rest of the function
        returns = isinstance(stmt, ast.If) and not stmt.orelse and all(isinstance(s, ast.Return) for s in stmt.body)
        if returns and (guard := dialect_guard(stmt.test, scope)) is not None:
            rest = body[index + 1 :]
            out.append(DialectBranch(rest[0].lineno, _end(rest), guard[0], not guard[1]))
    return out


def _end(body: list[ast.stmt]) -> int:
    return max(getattr(stmt, "end_lineno", stmt.lineno) or stmt.lineno for stmt in body)


@dataclass
class MigrationSource:
    path: Path
    source: str
    tree: ast.Module
    revision: str | None
    down_revision: object
    functions: dict[str, ast.FunctionDef]
    ops: list[OpCall] = field(default_factory=list)
    branches: list[DialectBranch] = field(default_factory=list)  # dialect-guarded blocks
    # Facts later layers derive from this parse alone (the review's reading of its module): kept as long as
    # the parse is, so a changed file, parsed again into a new object, has them computed again.
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def ops_in(self, function: str) -> list[OpCall]:
        return [op for op in self.ops if op.function == function]

    def runs_on(self, line: int, dialect: str | None) -> bool:
        """Whether the code at ``line`` runs on ``dialect`` (None: unknown, every branch counts)."""
        if dialect is None:
            return True
        return all(b.runs_on(dialect) for b in self.branches if b.start <= line <= b.end)

    def tables_changed(self, function: str = "upgrade") -> set[str]:
        return {op.table for op in self.ops_in(function) if op.table}


def literal_value(node: ast.expr | None):
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def _call_name(func: ast.expr) -> tuple[str | None, str | None]:
    """(receiver, attribute) of ``receiver.attribute(...)``."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id, func.attr
    return None, None


def _is_autocommit(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "autocommit_block"


def _table_of_sa_table(node: ast.expr | None) -> str | None:
    """``sa.table("x", ...)`` / ``table("x")`` / ``op.create_table("x", ...)`` used by bulk_insert."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ("table", "Table", "create_table") and node.args:
            value = literal_value(node.args[0])
            return value if isinstance(value, str) else None
    return None


class _OpVisitor(ast.NodeVisitor):
    def __init__(self, function: str, op_names: set[str]):
        self.function = function
        self.op_names = op_names
        self.batch_aliases: dict[str, str | None] = {}
        self.autocommit_depth = 0
        self.created: set[str] = set()
        self.ops: list[OpCall] = []
        self.assigned_tables: dict[str, str] = {}

    def generic_visit(self, node: ast.AST) -> None:
        for child in children(node):  # NodeVisitor's own loop, without a generator per node
            self.visit(child)

    def visit_Assign(self, node: ast.Assign) -> None:
        table = _table_of_sa_table(node.value)
        if table:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.assigned_tables[target.id] = table
        self.generic_visit(node)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        aliases: list[str] = []
        autocommit = 0
        for item in node.items:
            expr = item.context_expr
            if _is_autocommit(expr):
                autocommit += 1
            elif isinstance(expr, ast.Call):
                receiver, attr = _call_name(expr.func)
                if receiver in self.op_names and attr == "batch_alter_table":
                    table = (
                        literal_value(expr.args[0])
                        if expr.args
                        else literal_value({kw.arg: kw.value for kw in expr.keywords}.get("table_name"))
                    )
                    self._record(expr, "batch_alter_table", table if isinstance(table, str) else None, None)
                    if isinstance(item.optional_vars, ast.Name):
                        self.batch_aliases[item.optional_vars.id] = table if isinstance(table, str) else None
                        aliases.append(item.optional_vars.id)
            self.visit(expr)
        self.autocommit_depth += autocommit
        for stmt in node.body:
            self.visit(stmt)
        self.autocommit_depth -= autocommit
        for alias in aliases:
            self.batch_aliases.pop(alias, None)

    visit_With = _with
    visit_AsyncWith = _with

    def visit_Call(self, node: ast.Call) -> None:
        receiver, attr = _call_name(node.func)
        if attr and receiver in self.op_names and attr != "batch_alter_table":
            self._record(node, attr, None, None)
        elif attr and receiver in self.batch_aliases:
            self._record(node, attr, None, self.batch_aliases[receiver] or "?")
        self.generic_visit(node)

    def _record(self, node: ast.Call, name: str, table: str | None, batch_table: str | None) -> None:
        if name == "batch_alter_table":
            return self._append(OpCall(name=name, function=self.function, line=node.lineno, node=node, table=table))
        op = OpCall(
            name=name,
            function=self.function,
            line=node.lineno,
            node=node,
            batch_table=batch_table,
            in_autocommit=self.autocommit_depth > 0,
        )
        if batch_table is not None:
            op.table = batch_table if batch_table != "?" else None
        elif name in TABLE_ARG:
            position, keywords = TABLE_ARG[name]
            kwargs = op.kwargs
            expr = next((kwargs[k] for k in keywords if k in kwargs), None)
            if expr is None and position < len(node.args):
                expr = node.args[position]
            value = literal_value(expr)
            if isinstance(value, str):
                op.table = value
            elif isinstance(expr, ast.Name) and expr.id in self.assigned_tables:
                op.table = self.assigned_tables[expr.id]
            elif name == "bulk_insert":
                op.table = _table_of_sa_table(expr)
        op.table_created_here = op.table is not None and op.table in self.created and name != "create_table"
        if name == "create_table" and op.table:
            self.created.add(op.table)
        self._append(op)

    def _append(self, op: OpCall) -> None:
        self.ops.append(op)


def ops_of_statements(statements: list[ast.stmt], function: str) -> list[OpCall]:
    """The ``op.<name>(...)`` calls of statements that are not in the file (a helper's body read as if
    written at the call site), read as parse_source reads upgrade()."""
    visitor = _OpVisitor(function, {"op"})
    for stmt in statements:
        visitor.visit(stmt)
    return visitor.ops


def _op_aliases(tree: ast.Module) -> set[str]:
    names = {"op"}
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "alembic":
            for alias in node.names:
                if alias.name == "op":
                    names.add(alias.asname or "op")
    return names


def _module_value(tree: ast.Module, name: str):
    for node in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id == name:
                return literal_value(value)
    return None


def parse_source(source: str, path: Path | str = "<migration>") -> MigrationSource:
    """Parse migration source; raises SyntaxError with the file's line on broken code."""
    tree = ast.parse(source, filename=str(path))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    migration = MigrationSource(
        path=Path(path),
        source=source,
        tree=tree,
        revision=_module_value(tree, "revision"),
        down_revision=_module_value(tree, "down_revision"),
        functions=functions,  # type: ignore[arg-type]
    )
    op_names = _op_aliases(tree)
    for fname in ("upgrade", "downgrade"):
        func = functions.get(fname)
        if func is None:
            continue
        visitor = _OpVisitor(fname, op_names)
        for stmt in func.body:
            visitor.visit(stmt)
        migration.ops.extend(visitor.ops)
        migration.branches.extend(dialect_branches(func, tree))
    return migration


def parse_file(path: str | Path) -> MigrationSource:
    path = Path(path)
    return parse_source(path.read_text(encoding="utf-8"), path)
