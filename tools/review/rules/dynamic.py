"""Rules against reviewing around the reviewer: code whose effect cannot be read from the source.

``op`` used other than as ``op.<operation>(...)`` (getattr, aliases, passing it on), code built or
loaded at run time (exec/eval/compile, importlib/__import__), other programs (subprocess, os.system),
the migration's own connections and URL variables (create_engine, connect(), os.environ), and
statements that call code the reviewer does not read (helper functions, other modules). Every one
escalates; ``unread-statement`` is lifted when the rendered-SQL layer covered the statement.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

from alembic_mcp.tools.history.migration_ast import MigrationSource
from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review.rules.astutil import callee, src
from alembic_mcp.tools.review.rules.effects import PURE, READS, Judge, Module, Sources, hook, migration_module
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, rule
from alembic_mcp.tools.review.rules.tamper import bindings, tampering_statements

CODE_BUILTINS = {"exec", "eval", "compile", "__import__", "breakpoint"}
CODE_MODULES = {"importlib", "subprocess", "ctypes", "pty", "runpy", "multiprocessing"}
OS_PROCESS = ("system", "popen", "exec", "spawn", "fork", "posix_spawn", "startfile")
DRIVER_MODULES = {"psycopg", "psycopg2", "asyncpg", "pymysql", "MySQLdb", "mysql", "sqlite3", "aiosqlite", "pyodbc"}
ENGINE_CALLS = {"create_engine", "create_async_engine", "engine_from_config", "create_mock_engine", "connect"}
URL_OPTIONS = {"get_main_option", "get_section_option", "get_section"}
# Words of an environment variable that may lead to a database (its URL, host, credentials): never read as a
# plain setting, whatever is done with the value
CONNECTION_WORDS = (
    *("URL", "URI", "DSN", "PASS", "PWD", "HOST", "PORT", "USER", "DATABASE", "DB", "SQL", "PG"),
    *("MYSQL", "CONN", "SECRET", "TOKEN", "KEY", "CRED", "AUTH", "SOCK", "SERVER", "SERVICE"),
)
# what a bind hands out to build another connection (the driver module's connect() too)
URL_ATTRIBUTES = {"url", "engine", "loaded_dbapi", "dbapi", "raw_connection", "driver_connection"}
OFFLINE_MODE = {"as_sql", "is_offline_mode"}
SAFE_MODULES = ("sqlalchemy", "sqlmodel", "typing", "datetime", "decimal", "uuid", "enum", "json", "re")
SAFE_ALEMBIC = ("alembic.op", "alembic.context")
SAFE_BUILTINS = {
    name for name in dir(builtins) if not name.startswith("_") and name not in CODE_BUILTINS | {"open", "getattr"}
}


def _fix_dynamic_op() -> str:
    return 'Call each operation directly: op.add_column(...), op.execute(sa.text("...")) - no getattr, no aliases.'


def _fix_dynamic_code() -> str:
    return "Write the operations and SQL in the migration itself; run other programs outside migrations."


def _fix_own_connection() -> str:
    return (
        "Use op.execute(...) (or op.get_bind() for reads) on the connection Alembic gives the migration; never "
        "read URLs from the environment or open connections of your own."
    )


def _fix_unread() -> str:
    return (
        "Inline the helper's operations in upgrade()/downgrade(), or review the rendered SQL "
        "(review_migration include_sql=true on PostgreSQL) - a human must read code the reviewer cannot."
    )


DYNAMIC_OP_CALL = rule(
    "dynamic-op-call",
    "error",
    "op / batch_op used other than as op.<operation>(...): getattr, aliases, passed on",
    "The reviewer reads operations from `op.<name>(...)` calls: an operation reached through getattr or an "
    "alias runs unseen (an obfuscated DROP TABLE reads as nothing at all).",
    _fix_dynamic_op,
    escalations=("uninspectable-sql",),
)
DYNAMIC_CODE = rule(
    "dynamic-code",
    "error",
    "exec/eval/compile, importlib/__import__, subprocess/os.system in a migration",
    "Code built or loaded at run time, or another program, does things no reviewer can read from the file.",
    _fix_dynamic_code,
    escalations=("uninspectable-sql",),
)
OWN_CONNECTION = rule(
    "own-connection",
    "error",
    "own engine or connection (create_engine, connect(), a driver) or URL read from os.environ / config",
    "A migration that finds a database URL and connects by itself escapes the reviewed connection: it can "
    "reach the real database during a rehearsal, and what it runs is not reviewed.",
    _fix_own_connection,
    escalations=("own-connection",),
)
UNREAD_STATEMENT = rule(
    "unread-statement",
    "error",
    "a statement calls code the reviewer cannot show to be read-only (a helper that writes, or not on disk)",
    "The review reads a helper's source where it is on disk (this file, the project, its virtualenv) and "
    "passes the calls that only compute or read; one that may write (op, execute, an ORM session, another "
    "connection) or cannot be read may run anything, and no review layer saw it unless the rendered SQL "
    "covered it.",
    _fix_unread,
    escalations=("uninspectable-sql",),
)
MODULE_LEVEL_CODE = rule(
    "module-level-code",
    "error",
    "code at module level (outside upgrade/downgrade) that calls op, runs unread code or branches",
    "Alembic imports the migration inside run_migrations, where op is live: module-level code runs on the "
    "target as surely as upgrade(), whenever any command loads the history, and no rule reads it there.",
    lambda *_: "Keep the module to imports, definitions and plain assignments; move operations into upgrade().",
    escalations=("uninspectable-sql",),
)


@dataclass
class Statement:
    """A top-level statement of upgrade() or downgrade(), and whether layer 1 could read all of it."""

    function: str
    line: int
    end_line: int
    code: str
    read: bool
    unread_call: str | None = None
    unread_words: str | None = None  # what it does, when it is not a call ("writes `sa.String`, ...")
    # The offline render shows what this statement runs online: False when it calls another module or
    # branches on offline/online mode (as_sql, is_offline_mode()), whose code may render one thing and run another.
    render_shows_it: bool = True


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module it was imported from."""
    names: dict[str, str] = {}
    for node in walk(tree):
        if isinstance(node, ast.Import):
            names.update({(a.asname or a.name).split(".")[0]: a.name for a in node.names})
        elif isinstance(node, ast.ImportFrom):
            names.update({a.asname or a.name: f"{node.module or ''}.{a.name}" for a in node.names})
    return names


def _attributes(node: ast.expr) -> list[str]:
    """``sa.event.listen`` -> ["event", "listen"]: the attributes after the root name."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.insert(0, node.attr)
        node = node.value
    return names


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _dotted(node: ast.expr) -> str:
    """``os.environ.get`` for a call's function; "" when it does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


class _Scan:
    """The module's names: op aliases, batch aliases, imports, local functions."""

    def __init__(self, state) -> None:
        tree = state.migration.tree
        self.imports = _imports(tree)
        self.ops = {n for n, m in self.imports.items() if m in ("alembic.op",)} | {"op"}
        self.functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        self.functions -= {"upgrade", "downgrade"}
        self.module_values = _module_values(tree)
        self.batch = {
            item.optional_vars.id
            for node in walk(tree)
            if isinstance(node, ast.With | ast.AsyncWith)
            for item in node.items
            if isinstance(item.optional_vars, ast.Name) and "batch_alter_table" in src(item.context_expr)
        }
        self.called = {id(n.func) for n in walk(tree) if isinstance(n, ast.Call)}
        # ``bind.engine.name`` / ``bind.engine.dialect``: which database it is, no way to another connection
        # ``for url in urls: url.url``: an attribute of the rows a loop walks (superset a99f2f7c195a), not a bind's
        loop_targets = {
            n.id
            for node in walk(tree)
            if isinstance(node, ast.For | ast.comprehension)
            for n in walk(node.target)
            if isinstance(n, ast.Name)
        }
        self.row_attributes = {
            id(n)
            for n in walk(tree)
            if isinstance(n, ast.Attribute)
            and n.attr == "url"
            and isinstance(n.value, ast.Name)
            and n.value.id in loop_targets
        }
        # ``int(os.environ.get("BATCH_SIZE", 200))``: a number, no way to a database
        # (not in a file that tampers: ``os.getenv`` there may be anything)
        module = migration_module(state.migration) if isinstance(state.migration, MigrationSource) else None
        self.env_settings = _env_settings(tree, self.imports) if module and not module.tampered else set()
        # only the whole chain ``.engine.name`` / ``.engine.dialect.name``: ``.engine.dialect`` alone hands out
        # the dialect, whose loaded_dbapi connects anywhere
        self.dialect_reads = {
            id(engine)
            for n in walk(tree)
            if isinstance(n, ast.Attribute) and n.attr == "name"
            for engine in _engine_of_name(n)
        }
        # Calls into helpers are read where their source is on disk: those shown not to write are read.
        sources = getattr(state, "sources", None) or Sources()
        migration = state.migration
        self.judge = Judge(sources, module or Module("", migration.path, tree))
        # Helper calls read as the operations they run (inline.py): the rules judged those operations.
        self.inlined = set(getattr(state, "inlined", {}))
        # Values an operation receives (types, defaults, columns): read as the operation's arguments.
        self.op_arguments = {
            id(node)
            for op in state.migration.ops
            for arg in [*op.node.args, *(k.value for k in op.node.keywords)]
            for node in walk(arg)
        } | getattr(state, "inlined_arguments", set())  # what a helper read as operations passes on to them


def _scan(state) -> _Scan:
    """The file's names, read once per lint (``state.memo``): this family's checks and downgrade's share them."""
    memo = getattr(state, "memo", None)
    if memo is None:
        return _Scan(state)
    if "scan" not in memo:
        memo["scan"] = _Scan(state)
    return memo["scan"]


def _env_settings(tree: ast.Module, imports: dict[str, str]) -> set[int]:
    """id() of the nodes of ``int(os.environ.get("NAME"[, literal]))`` / ``int(os.getenv(...))`` /
    ``int(os.environ["NAME"])`` and of ``os.environ.get("NAME") == "literal"``: a setting read as an integer
    or compared with a literal carries no URL, host or password, and reading it changes nothing. Only with
    ``os`` imported as itself, ``int`` the builtin, and a variable name with no word of a connection."""
    if imports.get("os") != "os" or bindings(tree, "os") != 1:
        return set()
    out: set[int] = set()
    builtin_int = not bindings(tree, "int")
    for node in walk(tree):
        read = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "int" and builtin_int:
            read = node.args[0] if len(node.args) == 1 and not node.keywords else None
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq | ast.NotEq):
            literal = isinstance(node.comparators[0], ast.Constant)
            read = node.left if literal else None
        parts = _env_read(read) if read is not None else None
        if parts:
            out |= {id(node), *parts}
    return out


def _env_read(node: ast.expr) -> set[int] | None:
    """id() of ``os.environ.get("NAME"[, literal])`` / ``os.getenv(...)`` / ``os.environ["NAME"]`` and its
    parts, when NAME is a literal that names no connection setting."""
    if isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
        key, rest, parts = node.slice, [], {id(node), id(node.value)}
    elif isinstance(node, ast.Call) and _dotted(node.func) in ("os.environ.get", "os.getenv") and not node.keywords:
        if not node.args or len(node.args) > 2:
            return None
        key, rest = node.args[0], node.args[1:]
        parts = {id(node), id(node.func)} | ({id(node.func.value)} if isinstance(node.func, ast.Attribute) else set())
    else:
        return None
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
        return None
    if any(word in key.value.upper() for word in CONNECTION_WORDS):
        return None
    if not all(isinstance(r, ast.Constant) for r in rest):
        return None
    return parts


def _engine_of_name(node: ast.Attribute) -> list[ast.Attribute]:
    """The ``.engine`` node of ``X.engine.name`` or ``X.engine.dialect.name``."""
    inner = node.value
    if isinstance(inner, ast.Attribute) and inner.attr == "dialect":
        inner = inner.value
    return [inner] if isinstance(inner, ast.Attribute) and inner.attr == "engine" else []


def _op_misuse(scan: _Scan, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, what) for every use of op / batch_op that is not ``op.<name>(...)``."""
    direct = {
        id(n.value)
        for n in walk(tree)
        if isinstance(n, ast.Attribute) and id(n) in scan.called and not n.attr.startswith("__")
    }
    out = []
    for node in walk(tree):
        if not isinstance(node, ast.Name):
            continue
        used = node.id in scan.ops | scan.batch and isinstance(node.ctx, ast.Load)
        if used and id(node) not in direct:
            out.append((node.lineno, f"`{node.id}` is used as a value"))
    for node in walk(tree):  # op.get_context().impl: alembic's own executor, every operation unseen
        if isinstance(node, ast.Attribute) and node.attr == "impl" and _dotted(_root(node)) in scan.ops | {"context"}:
            out.append((node.lineno, f"`{src(node)[:60]}` reaches the migration's executor"))
    for node in walk(tree):
        if not (isinstance(node, ast.Call) and callee(node) in ("getattr", "setattr", "__getattribute__")):
            continue
        target = node.args[0] if node.args else None
        name = node.args[1] if len(node.args) > 1 else None
        on_op = target is not None and _dotted(_root(target)) in scan.ops | scan.batch
        computed = name is not None and not (isinstance(name, ast.Constant) and isinstance(name.value, str))
        if on_op or computed:
            out.append((node.lineno, f"{callee(node)}({', '.join(src(a) for a in node.args[:2])})"))
    return sorted(set(out))


@on_file
def dynamic_op_access(state) -> None:
    scan = _scan(state)
    for line, what in _op_misuse(scan, state.migration.tree):
        state.emit(
            DYNAMIC_OP_CALL,
            None,
            f"Line {line}: {what}; operations or SQL reached this way are invisible to the review.",
            _fix_dynamic_op(),
            line=line,
            escalation=(f"Line {line} reaches code dynamically ({what}): a human must read it.", {"line": line}),
        )


def _code_use(scan: _Scan, node: ast.AST) -> str | None:
    if isinstance(node, ast.Import | ast.ImportFrom):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        hit = next((m for m in modules if m.split(".")[0] in CODE_MODULES), None)
        return f"imports {hit}" if hit else None
    if not isinstance(node, ast.Call):
        return None
    dotted = _dotted(node.func)
    if isinstance(node.func, ast.Name) and node.func.id in CODE_BUILTINS:
        return f"calls {node.func.id}()"
    if dotted.startswith("os.") and dotted.split(".")[1].startswith(OS_PROCESS):
        return f"calls {dotted}()"
    return None


def _module_path(scan: _Scan, node: ast.Attribute) -> bool:
    """``sa.engine.url``: a path into an imported module (not a bind's attribute)."""
    dotted = _dotted(node)
    return bool(dotted) and dotted.split(".")[0] in scan.imports


def _resolved(scan: _Scan, node: ast.Call) -> str | None:
    """The called name, through import aliases (``from sqlalchemy import create_engine as mk``: mk -> create_engine)."""
    name = callee(node)
    if isinstance(node.func, ast.Name) and node.func.id in scan.imports:
        return scan.imports[node.func.id].rsplit(".", 1)[-1]
    return name


def _connection_use(scan: _Scan, node: ast.AST) -> str | None:
    if isinstance(node, ast.Import | ast.ImportFrom):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
        if any(m.split(".")[0] in DRIVER_MODULES for m in modules):
            return f"imports the database driver {modules[0]}"
        if node.__class__ is ast.ImportFrom and (node.module or "") == "os" and {"environ", "getenv"} & set(names):
            return "imports os.environ / os.getenv"
        if engine := next((n for n in names if n in ENGINE_CALLS), None):
            return f"imports {engine}"
        return None
    if (
        isinstance(node, ast.Attribute)
        and node.attr in URL_ATTRIBUTES
        and not _module_path(scan, node)
        and id(node) not in scan.dialect_reads | scan.row_attributes
    ):
        return f"reads `{src(node)[:80]}`, from which another connection can be built"
    if isinstance(node, ast.Attribute) and _dotted(node) in ("os.environ", "os.getenv", "os.environb"):
        return None if id(node) in scan.env_settings else f"reads {_dotted(node)}"
    if isinstance(node, ast.Call) and _resolved(scan, node) in ENGINE_CALLS:
        return f"calls {src(node.func)}()"
    if isinstance(node, ast.Call) and callee(node) in URL_OPTIONS:
        return f"reads configuration ({src(node)[:80]})"
    return None


@on_file
def dynamic_code_and_connections(state) -> None:
    scan = _scan(state)
    for node in walk(state.migration.tree):
        for found, record in ((_code_use(scan, node), DYNAMIC_CODE), (_connection_use(scan, node), OWN_CONNECTION)):
            if not found:
                continue
            line = getattr(node, "lineno", None)
            state.emit(
                record,
                None,
                f"Line {line}: the migration {found}.",
                record.fix(),
                line=line,
                escalation=(
                    f"Line {line}: the migration {found}; a human must read it.",
                    {"line": line, "what": found},
                ),
            )


def _module_code(scan: _Scan, known: set[str], body: list[ast.stmt]) -> list[tuple[int, str]]:
    """(line, what) for each statement of a module (or class) body that does more than define names."""
    out: list[tuple[int, str]] = []
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom) or _is_docstring(stmt) or _type_checking_imports(stmt):
            continue
        if isinstance(stmt, ast.ClassDef):
            out.extend(_import_time_code(scan, known, [*stmt.bases, *stmt.keywords, *stmt.decorator_list]))
            out.extend(_module_code(scan, known, stmt.body))
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            args = stmt.args
            evaluated = [*stmt.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]
            out.extend(_import_time_code(scan, known, evaluated))
            if stmt.name in ("upgrade", "downgrade") and stmt.decorator_list:
                out.append((stmt.lineno, f"a decorator replaces {stmt.name}() with code the review does not read"))
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            out.extend(_import_time_code(scan, known, [stmt]))
        elif _pure_expression(scan, known, stmt):
            continue  # ``_logger.setLevel(logging.INFO)``: a call shown to touch no database
        else:
            out.append((stmt.lineno, f"`{src(stmt).splitlines()[0][:60]}` runs when the module is imported"))
    return out


def _pure_expression(scan: _Scan, known: set[str], stmt: ast.stmt) -> bool:
    """A module-level call statement that uses no op/context and that effects.Judge reads as pure."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    if _import_time_code(scan, known, [stmt]):
        return False
    calls = [n for n in walk(stmt) if isinstance(n, ast.Call)]
    return all(scan.judge.call(n) == PURE for n in calls)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _type_checking_imports(stmt: ast.stmt) -> bool:
    """``if TYPE_CHECKING:`` holding only imports and type aliases (airflow 0101: ``ErrorDict = dict[...]``):
    the block never runs; an alias holds no call."""
    return (
        isinstance(stmt, ast.If)
        and src(stmt.test).endswith("TYPE_CHECKING")
        and not stmt.orelse
        and all(_import_or_alias(s) for s in stmt.body)
    )


def _import_or_alias(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return True
    value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
    return value is not None and not any(isinstance(n, ast.Call) for n in walk(value))


def _import_time_code(scan: _Scan, known: set[str], nodes: list) -> list[tuple[int, str]]:
    """Code evaluated when the module is imported that uses op/context or calls code the review does not read."""
    out = []
    for node in nodes:
        used = {n.id for n in walk(node) if isinstance(n, ast.Name)} & (scan.ops | scan.batch | {"context"})
        unknown = _unknown_call(scan, known, node) if isinstance(node, ast.stmt) else _unknown_expr(scan, known, node)
        if used or unknown:
            what = f"uses {sorted(used)[0]}" if used else f"calls {unknown}()"
            out.append((getattr(node, "lineno", 1), f"module-level code {what} when the module is imported"))
    return out


def _unknown_expr(scan: _Scan, known: set[str], node: ast.AST) -> str | None:
    return _unknown_call(scan, known, ast.Expr(value=node)) if isinstance(node, ast.expr) else None


@on_file
def module_level_code(state) -> None:
    scan = _scan(state)
    known = _module_values(state.migration.tree) | set(scan.imports)
    for line, what in sorted(set(_module_code(scan, known, state.migration.tree.body))):
        state.emit(
            MODULE_LEVEL_CODE,
            None,
            f"Line {line}: {what}; the review reads only upgrade() and downgrade().",
            MODULE_LEVEL_CODE.fix(),
            line=line,
            escalation=(f"Line {line}: {what}; a human must read it.", {"line": line, "what": what}),
        )


def _locals(func: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in func.args.args + func.args.kwonlyargs}
    for node in walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _module_values(tree: ast.Module) -> set[str]:
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }


def _unknown_call(scan: _Scan, known: set[str], statement: ast.stmt, local: frozenset[str] = frozenset()) -> str | None:
    """The first call in ``statement`` whose code the reviewer does not read, or None. ``local``: the names
    the enclosing function binds (they shadow module-level values)."""
    for node in walk(statement):
        if not isinstance(node, ast.Call) or id(node) in scan.op_arguments or id(node) in scan.env_settings:
            continue
        root = _root(node.func)
        if not isinstance(root, ast.Name):
            continue
        name = root.id
        module = scan.imports.get(name)
        safe_module = module is not None and (module.split(".")[0] in SAFE_MODULES or module in SAFE_ALEMBIC)
        safe_module = safe_module and not hook(".".join([module or "", *_attributes(node.func)]))
        unread = name in scan.functions or (module is not None and not safe_module)
        unread = unread or (module is None and name not in known and name not in SAFE_BUILTINS)
        # an object made at module level (``writer = Writer()``; ``Base.metadata.create_all``): its methods
        # are the judge's to read, not trusted like a local value
        unread = unread or (name in scan.module_values and name not in local)
        if unread and not _shown_not_to_write(scan, node):
            return src(node.func)
    return None


def _shown_not_to_write(scan: _Scan, node: ast.Call) -> bool:
    """The helper's source was read and it only computes or reads (effects.Judge), or only runs operations
    the rules read at its call (inline.py)."""
    return id(node) in scan.inlined or scan.judge.call(node) in (PURE, READS)


def statements(state) -> list[Statement]:
    """Every top-level statement of upgrade() and downgrade(), and whether layer 1 reads it whole (once per
    lint: the coverage check and downgrade's both ask)."""
    memo = getattr(state, "memo", None)
    if memo is None:
        return _statements(state)
    if "statements" not in memo:
        memo["statements"] = _statements(state)
    return memo["statements"]


def _statements(state) -> list[Statement]:
    scan = _scan(state)
    module_names = _module_values(state.migration.tree) | scan.ops | {"context"}
    # Code in other modules may branch on offline mode unseen: then no render covers the file's unread calls.
    offline_file = _mentions_offline_mode(state.migration.tree) or _calls_other_modules(scan, state.migration.tree)
    functions = [(f, state.migration.functions[f]) for f in ("upgrade", "downgrade") if f in state.migration.functions]
    # a statement that rewrites what another line means (``sa.String = ...``): no line of the file reads true
    rewrites = (
        tampering_statements(state.migration.tree, [func for _, func in functions])
        if migration_module(state.migration).tampered
        else {}
    )
    out: list[Statement] = []
    for fname, func in functions:
        local = frozenset(_locals(func) | scan.batch)
        known = module_names | local
        for stmt in func.body:
            statement = _statement(scan, known, local, fname, stmt, offline_file)
            if id(stmt) in rewrites and statement.read:
                statement.read, statement.render_shows_it = False, False
                statement.unread_call = rewrites[id(stmt)]
                statement.unread_words = f"{rewrites[id(stmt)]}, which can change what other lines mean"
            spread = _spread_op_call(scan, stmt, func)
            if spread is not None and statement.read:
                statement.read, statement.render_shows_it, statement.unread_call = False, False, spread
                statement.unread_words = f"passes {spread}'s keyword arguments through **, which the review cannot read"
            out.append(statement)
    return out


# Keywords that only make an operation tolerate what is (or is not) there: spreading them hides nothing.
EXISTENCE_KEYWORDS = frozenset({"if_exists", "if_not_exists"})


def _spread_op_call(scan: _Scan, stmt: ast.stmt, func: ast.FunctionDef) -> str | None:
    """``op.alter_column(..., **options)``: its keywords (type_, nullable, server_default) are not read,
    unless ``options`` is a name bound once to literal dicts of existence keywords only
    (``kw = {} if mysql else {"if_exists": True}``, mlflow)."""
    for node in walk(stmt):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in scan.ops | scan.batch
            and any(k.arg is None and not _existence_only(func, k.value) for k in node.keywords)
        ):
            return src(node.func)
    return None


def _existence_only(func: ast.FunctionDef, value: ast.expr) -> bool:
    if isinstance(value, ast.Name):
        bound = [
            n.value
            for n in walk(func)
            if isinstance(n, ast.Assign) and [getattr(t, "id", None) for t in n.targets] == [value.id]
        ]
        stores = sum(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == value.id for n in walk(func))
        value = bound[0] if len(bound) == 1 and stores == 1 else value
    options = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
    return all(
        isinstance(d, ast.Dict) and all(isinstance(k, ast.Constant) and k.value in EXISTENCE_KEYWORDS for k in d.keys)
        for d in options
    )


SESSION_FACTORIES = {"Session", "sessionmaker", "scoped_session"}


def _opens_session(scan: _Scan, stmt: ast.stmt) -> str | None:
    """``orm.Session(bind=...)``: the rows an ORM session flushes (add, attribute changes, query().delete())
    are SQL no review layer reads, wherever the session class comes from."""
    for node in walk(stmt):
        if isinstance(node, ast.Call) and id(node) not in scan.op_arguments and callee(node) in SESSION_FACTORIES:
            return src(node.func)
    return None


def _statement(
    scan: _Scan, known: set[str], local: frozenset[str], fname: str, stmt: ast.stmt, offline_file: bool
) -> Statement:
    unknown = _unknown_call(scan, known, stmt, local) or _opens_session(scan, stmt)
    code = src(stmt).splitlines()[0][:120] if not isinstance(stmt, ast.With) else src(stmt.items[0].context_expr)
    statement = Statement(fname, stmt.lineno, stmt.end_lineno or stmt.lineno, code, unknown is None, unknown)
    if _mentions_offline_mode(stmt):
        statement.render_shows_it = False
        if statement.read and _calls_beyond_op(scan, stmt):
            statement.read, statement.unread_call = False, "code guarded by an offline/online-mode test"
    elif unknown is not None:
        statement.render_shows_it = not offline_file
    return statement


def _calls_other_modules(scan: _Scan, tree: ast.Module) -> bool:
    """A call into an imported module the review does not read (not sqlalchemy, alembic's op/context, ...)."""
    for node in walk(tree):
        if not isinstance(node, ast.Call) or id(node) in scan.op_arguments or id(node) in scan.env_settings:
            continue
        root = _root(node.func)
        module = scan.imports.get(root.id) if isinstance(root, ast.Name) else None
        if module is None or module.split(".")[0] in SAFE_MODULES or module in SAFE_ALEMBIC:
            continue
        if not _shown_not_to_write(scan, node):
            return True
    return False


def _mentions_offline_mode(node: ast.AST) -> bool:
    """``as_sql`` / ``is_offline_mode`` anywhere in the code: it can render one thing and run another."""
    for sub in walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in OFFLINE_MODE:
            return True
        if isinstance(sub, ast.Name) and sub.id in OFFLINE_MODE:
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value in OFFLINE_MODE:
            return True
    return False


def _calls_beyond_op(scan: _Scan, stmt: ast.stmt) -> bool:
    """A call other than ``op.<operation>(...)`` and the offline test itself."""
    for node in walk(stmt):
        if not isinstance(node, ast.Call) or id(node) in scan.op_arguments:
            continue
        root = _root(node.func)
        if isinstance(root, ast.Name) and root.id in scan.ops | scan.batch:
            continue
        if callee(node) in OFFLINE_MODE or _pure_message(scan, node):
            continue  # the offline test itself, or a message printed or raised
        return True
    return False


def _pure_message(scan: _Scan, node: ast.Call) -> bool:
    """``raise Exception("online only")`` / ``print(dedent(...))``: pure code that touches no connection."""
    names = {n.id for n in walk(node) if isinstance(n, ast.Name)}
    return not names & (scan.ops | scan.batch | {"context"}) and scan.judge.call(node) == PURE


@on_file
def unread_statements(state) -> None:
    """Statements with a call the review does not read; lifted later when the rendered SQL covers them."""
    state.statements = statements(state)
    escalated = {h.finding.line for h in state.hits if h.escalation is not None}
    for statement in state.statements:
        if statement.read or any(statement.line <= line <= statement.end_line for line in escalated):
            continue
        where = f"{statement.function}() line {statement.line}"
        state.emit(
            UNREAD_STATEMENT,
            None,
            f"{where} {statement.unread_words}: the review cannot read the file as written."
            if statement.unread_words
            else f"{where} calls {statement.unread_call}(), whose code the review does not read.",
            _fix_unread(),
            line=statement.line,
            escalation=(
                f"{where} {statement.unread_words}: no review layer read what the file runs."
                if statement.unread_words
                else f"{where} calls {statement.unread_call}(): no review layer read what it runs.",
                {"line": statement.line, "function": statement.function, "call": statement.unread_call},
            ),
            statement=statement,
        )
        state.hits[-1].span = (statement.line, statement.end_line)


BYPASS = 'op.get_bind().execute(sa.text("SELECT 1"))\ngetattr(op, "exe" + "cute")("DR" + "OP TAB" + "LE persons")'

CASES = cases(
    Case("dynamic-op-call", BYPASS, escalation="uninspectable-sql", line=10, severity="error"),
    Case("dynamic-op-call", 'run = op.execute\nrun("DROP TABLE persons")', escalation="uninspectable-sql", line=9),
    Case("dynamic-op-call", 'op.execute("DROP TABLE persons")', triggers=False),
    Case("dynamic-op-call", 'op.get_context().impl.drop_table(sa.table("persons"))', escalation="uninspectable-sql"),
    Case(
        "dynamic-op-call",
        'with op.batch_alter_table("persons") as batch_op:\n    getattr(batch_op, "drop_column")("name")',
        escalation="uninspectable-sql",
        backend="sqlite",
    ),
    Case(
        "dynamic-op-call",
        'with op.batch_alter_table("persons") as batch_op:\n    batch_op.drop_column("name")',
        'with op.batch_alter_table("persons") as batch_op:\n    batch_op.add_column(sa.Column("name", sa.Text()))',
        triggers=False,
        backend="sqlite",
    ),
    Case("dynamic-code", "exec(\"op.drop_table('persons')\")", escalation="uninspectable-sql"),
    Case("dynamic-code", 'import subprocess\nsubprocess.run(["psql", "-c", "DROP TABLE persons"])'),
    Case("dynamic-code", "import os\nos.system(\"psql -c 'DROP TABLE persons'\")", escalation="uninspectable-sql"),
    Case("dynamic-code", 'm = __import__("alembic").op\nm.drop_table("persons")'),
    Case("dynamic-code", 'op.execute("SELECT 1")', triggers=False),
    Case(
        "own-connection",
        'import os\nengine = sa.create_engine(os.environ["DATABASE_URL"])\n'
        'with engine.begin() as conn:\n    conn.execute(sa.text("DELETE FROM persons"))',
        escalation="own-connection",
        line=10,
    ),
    Case("own-connection", 'import os\nurl = os.getenv("DATABASE_URL")', escalation="own-connection"),
    Case(
        "own-connection",
        'url = context.config.get_main_option("sqlalchemy.url")',
        header="from alembic import context\n",
        escalation="own-connection",
    ),
    Case("own-connection", 'op.get_bind().execute(sa.text("SELECT 1"))', triggers=False),
    Case(
        "unread-statement",
        "from residency.seed import seed_everything\nseed_everything()",
        escalation="uninspectable-sql",
        line=10,
    ),
    Case(
        "unread-statement",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
        "for name in sorted({'a', 'b'}):\n    print(name)",
        'op.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case(
        "unread-statement",
        'op.add_column("persons", sa.Column("uid", residency.types.GUID(), nullable=True))',
        'op.drop_column("persons", "uid")',
        header="import residency.types\n",
        triggers=False,
    ),
    Case(
        "own-connection",
        'e = mk(op.get_bind().engine.url.set(database="production"))\n'
        'with e.begin() as c:\n    c.execute(sa.text("UPDATE persons SET pgy_level = NULL"))',
        header="from sqlalchemy import create_engine as mk\n",
        escalation="own-connection",
    ),
    Case(
        "own-connection",
        'e = op.get_bind().engine\nu = e.url.set(database="production")',
        escalation="own-connection",
        line=9,
    ),
    Case("own-connection", "import psycopg as pg\npg.connect(dbname='production')", escalation="own-connection"),
    Case("own-connection", 'from sqlite3 import connect as c\nc("/tmp/x.db")', escalation="own-connection"),
    Case("own-connection", 'url = sa.engine.url.make_url("sqlite://")', triggers=False),
    Case(  # corpus: mlflow 0a8213491aaa, 1bd49d398cd23
        "own-connection",
        'if op.get_bind().engine.name == "mysql":\n    op.execute("SET sql_mode = \'\'")\n'
        "dialect = op.get_bind().engine.dialect.name",
        triggers=False,
    ),
    Case(  # corpus: superset a99f2f7c195a: a column named url on the rows a loop walks
        "own-connection",
        "for row in op.get_bind().execute(sa.text('SELECT id, url FROM links')):\n    print(row.url.split('?'))",
        triggers=False,
    ),
    Case(  # a bind's url in a loop is still a way to another connection
        "own-connection",
        "for bind in [op.get_bind()]:\n    print(bind.engine.url)",
        escalation="own-connection",
    ),
    Case(  # corpus: airflow 0101: a second connection, outside the migration's transaction
        "own-connection",
        "conn = op.get_bind()\nwith conn.engine.begin() as other:\n    other.execute(sa.text('DELETE FROM persons'))",
        escalation="own-connection",
    ),
    Case(
        "module-level-code",
        "pass",
        header='try:\n    op.drop_table("rotations")\nexcept Exception:\n    pass\n',
        escalation="uninspectable-sql",
        line=1,
    ),
    Case(
        "module-level-code",
        "pass",
        header='DROPPED = op.drop_table("rotations")\n',
        escalation="uninspectable-sql",
    ),
    Case("module-level-code", "pass", header="import os\nos.remove('/tmp/x')\n", escalation="uninspectable-sql"),
    Case(  # corpus: airflow 0101
        "module-level-code",
        "pass",
        header="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from typing import Any\n"
        "    ErrorDict = dict[str, list[str]]\n",
        triggers=False,
    ),
    Case(
        "module-level-code",
        "pass",
        header="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\nelse:\n    os.remove('/tmp/x')\n",
        escalation="uninspectable-sql",
    ),
    Case(  # corpus: mlflow 89d4b8295536
        "module-level-code",
        "pass",
        header="import logging\n_logger = logging.getLogger(__name__)\n_logger.setLevel(logging.INFO)\n",
        triggers=False,
    ),
    Case(
        "module-level-code",
        "pass",
        header="import logging\n_logger = logging.getLogger(__name__)\n_logger.execute('DROP TABLE persons')\n",
        escalation="uninspectable-sql",
    ),
    Case(
        "module-level-code",
        'op.execute(persons.update().where(persons.c.role.is_(None)).values(role="r"))',
        header='from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\nROLE = "r"\n'
        'persons = sa.table("persons", sa.column("role"))\nkinds = sa.Enum("a", "b", name="kind")\n',
        triggers=False,
    ),
    Case(  # an object of the file's own class, made at module level: its method is read, and it writes
        "unread-statement",
        "writer.info('persons')",
        header="class Writer:\n    def info(self, table):\n        op.execute('DROP TABLE ' + table)\n\n\n"
        "writer = Writer()\n",
        escalation="uninspectable-sql",
    ),
    Case(  # DDL through the models' metadata: no layer reads what create_all creates
        "unread-statement",
        "Base.metadata.create_all(op.get_bind())",
        header="from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n",
        escalation="uninspectable-sql",
    ),
    Case(  # an ORM session writes what it flushes: no layer reads that SQL (mlflow 90e64c465722)
        "unread-statement",
        "session = sa.orm.Session(bind=op.get_bind())\nsession.query(Person).delete()\nsession.commit()",
        header="from residency.models import Person\n",
        escalation="uninspectable-sql",
        line=10,
    ),
    # Helpers are read where their source is (corpus: mlflow 1b5f0d9ad7c1, indico a3295d628e3b, superset
    # b5ea9d343307): those that only compute or read are read; those that may write stay unread.
    Case(
        "unread-statement",
        "inspector = sa.inspect(op.get_bind())\n\n"
        "def _has(table, column):\n    return column in {c['name'] for c in inspector.get_columns(table)}\n\n"
        "if not _has('persons', 'nick'):\n    op.add_column('persons', sa.Column('nick', sa.Text()))",
        triggers=False,
    ),
    Case(
        "unread-statement",
        "labels = defaultdict(list)\nfor row in op.get_bind().execute(sa.text('SELECT id, role FROM persons')):\n"
        "    labels[row.role].append(row.id)",
        header="from collections import defaultdict\n",
        triggers=False,
    ),
    Case(
        "unread-statement",
        "op.execute(sa.update(Person).where(Person.role.like('res%')).values(role='resident'))",
        header="from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n\n\n"
        "class Person(Base):\n    __tablename__ = 'persons'\n    id = sa.Column(sa.Integer, primary_key=True)\n"
        "    role = sa.Column(sa.Text)\n\n\n",
        triggers=False,
    ),
    Case(
        "unread-statement",
        "if _count() > 0:\n    op.add_column('persons', sa.Column('nick', sa.Text()))",
        header="def _count():\n    bind = op.get_bind()\n"
        "    return bind.execute(sa.text('SELECT count(*) FROM persons')).scalar()\n\n\n",
        triggers=False,
    ),
    Case(  # a read of a function's result: the function may write
        "unread-statement",
        "_cleanup()",
        header="def _cleanup():\n    op.get_bind().execute(sa.text('SELECT purge_persons()'))\n\n\n",
        escalation="uninspectable-sql",
    ),
    Case(
        "unread-statement",
        "_wipe()",
        header="def _wipe():\n    bind = op.get_bind()\n    bind.execute(sa.text('DELETE FROM persons'))\n\n\n",
        escalation="uninspectable-sql",
    ),
    Case(  # an ORM session flushes rows no layer reads
        "unread-statement",
        "_retag()",
        header="def _retag():\n    s = sa.orm.Session(bind=op.get_bind())\n    s.add(object())\n    s.commit()\n\n\n",
        escalation="uninspectable-sql",
    ),
    Case(  # op handed to a helper's loop: the operation is not read
        "unread-statement",
        "_drop_all(['persons'])",
        header="def _drop_all(names):\n    for name in names:\n        run = op.drop_table\n        run(name)\n\n\n",
        escalation="uninspectable-sql",
    ),
    Case(
        "unread-statement",
        "if context.is_offline_mode():\n    raise Exception('This upgrade is only possible in online mode')\n"
        "op.add_column('persons', sa.Column('nick', sa.Text()))",
        'op.drop_column("persons", "nick")',
        header="from alembic import context\n",
        triggers=False,
    ),
    Case(
        "unread-statement",
        "if not op.get_context().as_sql:\n    helpers.drop_legacy()",
        header="import helpers\n",
        escalation="uninspectable-sql",
    ),
    Case(
        "unread-statement",
        "if not context.is_offline_mode():\n    print(len(sa.inspect(op.get_bind()).get_table_names()))",
        header="from alembic import context\n",
        escalation="uninspectable-sql",
    ),
    # a setting read as a number (corpus: superset b56500de1855, 96e99fb176a0) or compared with a literal
    Case(
        "module-level-code",
        'op.execute("SELECT 1")',
        header='import os\nBATCH = int(os.environ.get("BATCH_SIZE", 200))\n',
        triggers=False,
    ),
    Case(
        "own-connection",
        'op.execute("SELECT 1")',
        header='import os\nBATCH = int(os.environ.get("BATCH_SIZE", 200))\n'
        'SHOW = os.environ.get("SHOW_PROGRESS") == "1"\n',
        triggers=False,
    ),
    Case("own-connection", 'import os\nsize = int(os.getenv("BATCH_SIZE", "200"))', triggers=False),
    Case(  # a variable of the connection, even as a number
        "own-connection",
        'import os\nport = int(os.environ.get("DATABASE_PORT", 5432))',
        escalation="own-connection",
    ),
    Case(  # int() with a base decodes text into digits
        "own-connection",
        'import os\nsize = int(os.environ.get("BATCH_SIZE", "0"), 36)',
        escalation="own-connection",
    ),
    Case("own-connection", 'import os\nsize = os.environ.get("BATCH_SIZE")', escalation="own-connection"),
    Case(  # a computed variable name
        "own-connection",
        "import os\nsize = int(os.environ.get(NAME))",
        header='NAME = "BATCH_SIZE"\n',
        escalation="own-connection",
    ),
    Case(  # int shadowed by the file
        "own-connection",
        'import os\nsize = int(os.environ.get("BATCH_SIZE"))',
        header="def int(x):\n    return x\n",
        escalation="own-connection",
    ),
    Case(  # compared with another variable, not a literal
        "own-connection",
        'import os\nsame = os.environ.get("SHOW_PROGRESS") == os.environ.get("LEVEL")',
        escalation="own-connection",
    ),
    Case(  # os is not the os module
        "module-level-code",
        'op.execute("SELECT 1")',
        header='import os\nimport shutil as os\nBATCH = int(os.environ.get("BATCH_SIZE", 200))\n',
        escalation="uninspectable-sql",
    ),
    Case(  # a file that tampers: os.getenv there may be anything (here, os.system)
        "own-connection",
        'import os\nsize = int(os.getenv("BATCH_SIZE", "200"))',
        header="import os\nshell = os\nshell.getenv = shell.system\n",
        escalation="own-connection",
    ),
)
