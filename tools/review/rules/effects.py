"""Which calls can change the database: the code a migration calls outside upgrade()/downgrade() is read.

A helper is found where Python would import it from, as far as it is on disk: the migration file itself
(module-level and nested functions), the project, the project's virtualenv. Its body is judged, with the
functions it calls in turn (a few levels deep): **pure** (no database at all), **reads** (inspector, SELECT
through a connection) or **writes**. Anything that may write, or that cannot be read (not on disk, a C
module, dynamic code, a decorator, too deep), is ``unknown``, which the review treats as a write: only a
helper shown not to change the database is read as such.

The judgement holds a helper to the same standard as upgrade() itself: a method called on a local value is
trusted unless its name executes or flushes (execute, commit, flush, ...), while every use of ``op`` beyond
``get_bind()``/``get_context()``, every ORM session, own connection, getattr with a computed name, exec and
subprocess makes the helper a writer.
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from alembic_mcp.tools.history.migration_ast import MigrationSource
from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review import reads
from alembic_mcp.tools.review.rules.published import as_installed, recorded_hashes
from alembic_mcp.tools.review.rules.tamper import INTROSPECTION_MODULES, bindings, introspection_import, tampering
from alembic_mcp.tools.review.rules.values import own_nodes

__all__ = ["bindings"]

PURE = "pure"
READS = "reads"
UNKNOWN = "unknown"  # may write, or could not be read: the review keeps it as unread code

# Modules whose functions do not touch a database (stdlib and common pure libraries); sqlalchemy builds
# expressions (its engine and connection entry points are named apart, ENGINE_ENTRY).
PURE_MODULES = {
    "sqlalchemy",
    "sqlmodel",
    "typing",
    "typing_extensions",
    "datetime",
    "decimal",
    "uuid",
    "enum",
    "json",
    "simplejson",
    "re",
    "collections",
    "itertools",
    "functools",
    "logging",
    "structlog",
    "math",
    "string",
    "textwrap",
    "copy",
    "dataclasses",
    "operator",
    "hashlib",
    "hmac",
    "base64",
    "binascii",
    "time",
    "random",
    "secrets",
    "statistics",
    "warnings",
    "contextlib",
    "pprint",
    "numbers",
    "fractions",
    "zoneinfo",
    "calendar",
    "ipaddress",
    "difflib",
    "unicodedata",
    "pytz",
    "dateutil",
    "abc",
    "types",
    "zlib",
    "gzip",
    "shlex",
    "urllib.parse",
    "html",
}
ENGINE_ENTRY = {
    "create_engine",
    "create_async_engine",
    "engine_from_config",
    "create_mock_engine",
    "connect",
    "raw_connection",
    "Session",
    "sessionmaker",
    "scoped_session",
}
# Methods that run SQL or flush an ORM session; ``add``/``merge``/``delete`` stage rows for a flush.
EXECUTING = {
    "execute",
    "exec_driver_sql",
    "executemany",
    "executescript",
    "scalar",
    "scalars",
    "commit",
    "flush",
    "run_callable",
    "create_all",
    "drop_all",
    "bulk_insert_mappings",
    "bulk_save_objects",
    "bulk_update_mappings",
    "begin",
    "begin_nested",
    "run_sync",
}
# Alembic's operations, on an op proxy a helper received (``batch_op``) or on ``get_context().impl``
OPERATIONS = {
    *("add_column", "drop_column", "alter_column", "create_table", "drop_table", "rename_table"),
    *("create_index", "drop_index", "create_foreign_key", "create_unique_constraint", "create_primary_key"),
    *("create_check_constraint", "create_exclude_constraint", "drop_constraint", "bulk_insert", "_exec"),
    *("batch_alter_table", "create_table_comment", "drop_table_comment", "invoke", "run_async"),
}
SESSION_NAMES = {"session", "Session", "sessionmaker", "scoped_session", "db"}
STAGING = {"add", "add_all", "merge", "delete", "query"}  # on a session: rows written at the next flush
OP_READS = {"get_bind", "get_context", "f", "inline_literal", "implementation_for", "is_offline_mode"}
CODE_NAMES = {"exec", "eval", "compile", "__import__", "breakpoint", "globals", "locals", "vars", "setattr", "open"}
CODE_MODULES = {"os", "sys", "subprocess", "importlib", "ctypes", "pty", "runpy", "multiprocessing", "shutil"}
# Decorators that only wrap: builtins (when the module never rebinds the name) and functools' own, resolved by
# import, never by a bare name a module may define
BUILTIN_DECORATORS = {"staticmethod", "classmethod", "property"}
FUNCTOOLS_DECORATORS = {"functools.cache", "functools.lru_cache", "functools.wraps", "functools.cached_property"}
# Attributes that reach past a statement to the driver, the executor or DDL on a bind: never read as pure
DRIVER_ATTRIBUTES = {
    *("connection", "cursor", "callproc", "raw_connection", "driver_connection", "dbapi_connection"),
    *("loaded_dbapi", "dbapi", "pool", "impl", "session", "engine", "url", "create", "drop", "invoke"),
    *("exec_driver_sql", "executemany", "executescript", "run_callable", "begin_twophase", "connect"),
    *("event", "listen", "listens_for", "execution_options"),  # a listener may rewrite every later statement
}
PURE_BUILTINS = {n for n in dir(builtins) if not n.startswith("_")} - CODE_NAMES - {"getattr", "input"}
# SQLAlchemy column operators: ``Model.column.like(...)`` builds an expression
COLUMN_OPERATORS = {
    "like",
    "ilike",
    "notlike",
    "not_like",
    "notilike",
    "not_ilike",
    "in_",
    "notin_",
    "not_in",
    "is_",
    "isnot",
    "is_not",
    "contains",
    "startswith",
    "endswith",
    "between",
    "desc",
    "asc",
    "label",
    "cast",
    "op",
    "any",
    "has",
    "match",
    "collate",
    "distinct",
    "concat",
    "nulls_first",
    "nulls_last",
    "regexp_match",
    "icontains",
    "istartswith",
    "iendswith",
}
# The Inspector class reached through sqlalchemy.engine (whose name alone would read as a way to a connection)
INSPECTOR_ENTRY = {
    f"{module}.Inspector{method}"
    for module in ("sqlalchemy.engine.reflection", "sqlalchemy.engine")
    for method in ("", ".from_engine")
}
MAX_DEPTH = 4
RANK = {PURE: 0, READS: 1, UNKNOWN: 2}


def worst(*verdicts: str) -> str:
    return max(verdicts, key=RANK.__getitem__, default=PURE)


# Functions of those modules that change how other code behaves (an event listener, a compile hook, a
# dialect registered, attributes copied onto whatever object is passed): never pure, whatever they return.
HOOKS = (
    "sqlalchemy.event",
    "sqlalchemy.ext.compiler",
    "sqlalchemy.dialects.registry",
    "sqlalchemy.util.preloaded",
    "functools.update_wrapper",
    "functools.wraps",
    "operator.setitem",
    "operator.delitem",
)


def pure_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in PURE_MODULES)


def hook(dotted: str) -> bool:
    """``sqlalchemy.event.listen``, ``functools.update_wrapper``: a call that changes other code's behaviour."""
    return any(dotted == h or dotted.startswith(h + ".") for h in HOOKS)


@dataclass
class Module:
    """A parsed module: its top-level names (functions, classes, assignments, imports)."""

    name: str
    path: Path | None
    tree: ast.Module
    defs: dict[str, ast.AST] = field(default_factory=dict)  # every def/class by name, nested ones too
    imports: dict[str, str] = field(default_factory=dict)  # local name -> "module.attr" or "module"
    assigned: dict[str, ast.expr] = field(default_factory=dict)

    closures: dict[int, set[str]] = field(default_factory=dict)  # id(nested def) -> its enclosing locals
    tampered: str | None = None  # tamper.tampering(): nothing in this module is trusted
    # A file of an installed package, as pip installed it (rules/published.py): a function or class that writes
    # objects is distrusted alone (its lines), not everything beside it; its import-time code is the package's.
    # Its introspection imports (``import importlib``) are judged by where the names they bind are used: in
    # a def, that def is distrusted; in its import-time code, the module is.
    installed: bool = False
    tampered_spans: list[tuple[int, int]] = field(default_factory=list)
    # An installed file as a parent package (it only runs first): what in its import-time code may change
    # another module. A star import binds names in this module alone, so only ``tampered`` counts it.
    tampers_others: str | None = None

    def __post_init__(self) -> None:
        if self.installed:
            body = self.tree.body
            defs = [s for s in body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
            imports = {id(s): names for s in body if (names := introspection_import(s)) is not None}
            uses = frozenset(name for names in imports.values() for name in names)
            rest = [s for s in body if s not in defs and id(s) not in imports]
            self.tampered = tampering(ast.Module(body=rest, type_ignores=[]), uses)
            self.tampered_spans = [(d.lineno, d.end_lineno or d.lineno) for d in defs if tampering(d, uses)]
            own = [s for s in rest if not (isinstance(s, ast.ImportFrom) and _star_of_others(s))]
            self.tampers_others = tampering(ast.Module(body=own, type_ignores=[]), uses)
        else:
            self.tampered = tampering(self.tree)
            self.tampers_others = self.tampered
        is_package = self.path is not None and self.path.name == "__init__.py"
        package = self.name if is_package else self.name.rpartition(".")[0]
        for node in walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.defs.setdefault(node.name, node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in walk(node):
                    if inner is not node and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                        self.closures.setdefault(id(inner), set()).update(local_names(node))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        self.imports[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(package, node.module, node.level)
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
        for node in self.tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assigned[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.assigned[node.target.id] = node.value


def _star_of_others(stmt: ast.ImportFrom) -> bool:
    """``from pkg.models import *`` from a module that is not an introspection one."""
    star = any(alias.name == "*" for alias in stmt.names)
    return star and (stmt.module or "").split(".")[0] not in INTROSPECTION_MODULES


module_stats: Counter[str] = Counter()  # "built", "reused": migration_module's (tests count, never time)


def migration_module(migration: MigrationSource) -> Module:
    """The migration file read as a module (its names, whether it tampers), once per parse: the rules of
    one review share it, and a warm call reuses it while the file is unchanged (the parse is kept by
    content, history/cache.py)."""
    module = migration.derived.get("module")
    if isinstance(module, Module) and module.tree is migration.tree:
        module_stats["reused"] += 1
        return module
    module = Module("", migration.path, migration.tree)
    migration.derived["module"] = module
    module_stats["built"] += 1
    return module


def _import_targets(module: Module, stmt: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [a.name for a in stmt.names]
    is_package = module.path is not None and module.path.name == "__init__.py"
    package = module.name if is_package else module.name.rpartition(".")[0]
    base = _absolute(package, stmt.module, stmt.level)
    return [f"{base}.{a.name}" if base else a.name for a in stmt.names]


def _defaults_call(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Default values are evaluated when the def runs, on import."""
    defaults = [*func.args.defaults, *(d for d in func.args.kw_defaults if d is not None)]
    return any(isinstance(n, ast.Call) for d in defaults for n in walk(d))


def _pure_value(module: Module, value: ast.expr) -> bool:
    """A literal, or calls only into pure libraries (``logging.getLogger(__name__)``, ``sa.table(...)``)."""
    for node in walk(value):
        if isinstance(node, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom):
            return False
        if isinstance(node, ast.Call):
            chain = _chain(node.func)
            target = module.imports.get(chain[0]) if chain else None
            if target is None or not pure_module(target) or bindings(module.tree, chain[0]) != 1:  # type: ignore[index]
                return False
    return True


def _absolute(package: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)


@dataclass
class Sources:
    """Where helper modules are read from: the project's folders and its virtualenv's site-packages."""

    roots: tuple[Path, ...] = ()
    modules: dict[str, Module | None] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], str] = field(default_factory=dict)
    # What rules/imports.py found of the project's modules, for every migration of one review (a Sources
    # lives one call: the next call reads the files again)
    module_files: dict[str, list[Path]] = field(default_factory=dict)  # dotted name -> the files importing it runs
    import_code: dict[Path, list[tuple[int, str]]] = field(default_factory=dict)  # file -> its import-time code
    imported: dict[Path, list[tuple[int, str]]] = field(default_factory=dict)  # file -> (line, dotted) it imports
    recorded: dict[Path, dict[str, str]] = field(default_factory=dict)  # site-packages -> its RECORD hashes
    # Installed packages whose import-time code changes no other module (Module.tampers_others): their
    # submodules may be trusted even where their own names are not (a star import in an ``__init__``)
    runs_first: set[str] = field(default_factory=set)

    def module(self, name: str) -> Module | None:
        if name not in self.modules:
            self.modules[name] = self._load(name)
        return self.modules[name]

    def _load(self, name: str) -> Module | None:
        """The module Python would import, when it and every parent package is read and trusted: found in
        one place only, tampering with nothing, running nothing but imports, defs and literals on import."""
        self.modules[name] = None  # an import cycle back to this module is not followed
        owner = name.rpartition(".")[0]
        if owner and self.module(owner) is None and owner not in self.runs_first and self._found(owner):
            return None  # the parent package runs first: not trusted, nothing in it is
        relative = Path(*name.split("."))
        for root in self.roots:
            paths = [p for p in (root / relative.with_suffix(".py"), root / relative / "__init__.py") if p.is_file()]
            if len(paths) > 1:
                return None  # module and package of one name: which one is imported is not the reader's guess
            if paths:
                installed = root.name == "site-packages" and self._as_installed(paths[0], root)
                try:
                    tree = ast.parse(paths[0].read_text(encoding="utf-8"))
                    module = Module(name, paths[0], tree, installed=installed)
                except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
                    return None
                # a package's own file, as pip installed it: its import-time code is the package's (a file
                # written into the virtualenv since is judged like the project's)
                clean = installed or self._import_time_clean(module)
                if installed and module.tampers_others is None:
                    self.runs_first.add(name)  # as a parent package, even when its own names are unreadable
                return module if module.tampered is None and clean else None
        return None

    def _as_installed(self, path: Path, site_packages: Path) -> bool:
        if site_packages not in self.recorded:
            self.recorded[site_packages] = recorded_hashes(site_packages)
        return as_installed(path, site_packages, self.recorded[site_packages])

    def shadows(self, name: str) -> bool:
        """A module of this name is on disk in the project or its virtualenv: it, not the standard library's,
        may be what ``import name`` finds."""
        return self._found(name)

    def _found(self, name: str) -> bool:
        relative = Path(*name.split("."))
        return any(
            (root / relative.with_suffix(".py")).is_file() or (root / relative / "__init__.py").is_file()
            for root in self.roots
        )

    def _import_time_clean(self, module: Module) -> bool:
        """Importing ``module`` runs nothing but trusted imports, defs and literal or pure-library values."""
        return all(self._clean_statement(module, stmt) for stmt in module.tree.body)

    def _clean_statement(self, module: Module, stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return True  # a docstring
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            return all(self._trusted_import(module, target) for target in _import_targets(module, stmt))
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            return not stmt.decorator_list and not _defaults_call(stmt)
        if isinstance(stmt, ast.ClassDef):
            return (
                not stmt.decorator_list
                and not stmt.keywords
                and all(_chain(b) is not None for b in stmt.bases)
                and all(self._clean_statement(module, s) for s in stmt.body)
            )
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            return _pure_value(module, stmt.value)
        if isinstance(stmt, ast.AnnAssign | ast.Pass):
            return True
        if isinstance(stmt, ast.If) and ast.unparse(stmt.test).endswith("TYPE_CHECKING") and not stmt.orelse:
            return all(isinstance(s, ast.Import | ast.ImportFrom) for s in stmt.body)
        return False

    def _trusted_import(self, module: Module, target: str) -> bool:
        if pure_module(target) or target.split(".")[0] == "alembic" or target == "__future__":
            return True
        if self.module(target) is not None:
            return True
        owner = target.rpartition(".")[0]  # ``from pkg import name``: the name is in pkg
        return bool(owner) and self.module(owner) is not None


def site_packages(python: str | Path) -> list[Path]:
    """The site-packages folders of the virtualenv that ``python`` belongs to (none for a system Python)."""
    venv = Path(python).parent.parent
    if not (venv / "pyvenv.cfg").is_file():
        return []
    return sorted(venv.glob("lib/python3*/site-packages")) + sorted(venv.glob("Lib/site-packages"))


class Judge:
    """Judges calls made from one module (the migration, or a helper module reached from it)."""

    def __init__(self, sources: Sources, module: Module, depth: int = 0, seen: frozenset = frozenset()) -> None:
        self.sources, self.module, self.depth, self.seen = sources, module, depth, seen
        self.values: dict[str, ast.expr] = {}  # names the judged body binds once: ``query = sa.select(...)``

    # ------------------------------------------------------------------ a call

    def call(self, node: ast.Call, local: set[str] = frozenset()) -> str:  # type: ignore[assignment]
        """The effect of one call expression (its arguments are judged by the caller's walk)."""
        if self.module.tampered:
            return UNKNOWN  # a module that rewrites names or objects: nothing in it is what it reads as
        func = node.func
        chain = _chain(func)
        if chain is None:  # a call on a call's result or a subscript: judged by its method name
            return self._method(func.attr, node) if isinstance(func, ast.Attribute) else UNKNOWN
        root, attrs = chain[0], chain[1:]
        if root in local:  # a local value (a def of the same name is shadowed, or rebound: not resolved)
            return self._method(attrs[-1], node) if attrs else UNKNOWN
        return self.name(root, attrs, node)

    def _method(self, method: str, node: ast.Call) -> str:
        """A method of a local value: trusted as in upgrade(), unless it runs SQL."""
        if method in ENGINE_ENTRY or method in OPERATIONS or method in DRIVER_ATTRIBUTES or _private(method):
            return UNKNOWN
        if method in ("scalar", "scalars") and not node.args and not node.keywords:
            return PURE  # reading a result the execute() before it produced
        if method in EXECUTING:
            reads = method in ("execute", "scalar", "scalars") and _reads(node, self.values, self._resolve)
            return READS if reads else UNKNOWN
        if method in STAGING and _on_session(node.func):
            return UNKNOWN
        return PURE

    def name(self, root: str, attrs: list[str], node: ast.Call) -> str:
        """``root.a.b(...)`` where ``root`` is a name of this module (def, class, import, assignment, builtin)."""
        if root in SESSION_NAMES or any(a in ENGINE_ENTRY or a in DRIVER_ATTRIBUTES or _private(a) for a in attrs):
            return UNKNOWN
        if bindings(self.module.tree, root) > 1:
            return UNKNOWN  # bound more than once in the module: which value the call meets is not known
        if root in self.module.imports:
            return self.imported(self.module.imports[root], attrs, node)
        if root in self.module.defs:
            return self.definition(self.module, self.module.defs[root], attrs, node)
        if root in self.module.assigned:
            return self.value(self.module.assigned[root], attrs, node)
        if root in PURE_BUILTINS and not attrs:
            return PURE
        return UNKNOWN

    def value(self, value: ast.expr, attrs: list[str], node: ast.Call) -> str:
        """A method on a module-level value: a logger, a ``sa.table(...)``, a constant."""
        if not attrs:
            return UNKNOWN
        chain = _chain(value.func) if isinstance(value, ast.Call) else None
        target = self.module.imports.get(chain[0]) if chain else None
        if isinstance(value, ast.Call) and target is not None and pure_module(target):
            # made by a pure library (a logger, ``sa.table(...)``): its methods are that library's; an object
            # of a class of this project may have any method, so it is not judged here
            made = self.call(value)
            return PURE if made == PURE and attrs[-1] not in EXECUTING | ENGINE_ENTRY | OPERATIONS else UNKNOWN
        containers = ast.Dict | ast.List | ast.Tuple | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp
        if isinstance(value, ast.Constant | ast.JoinedStr | containers):
            return PURE  # a builtin container's or a string's own methods
        return UNKNOWN

    def imported(self, target: str, attrs: list[str], node: ast.Call) -> str:
        if target in ("alembic.op", "alembic.context"):
            return READS if attrs and attrs[0] in OP_READS else UNKNOWN
        if ".".join([target, *attrs]) in INSPECTOR_ENTRY:
            return READS  # an inspector on the bind it is given: it reflects, never writes
        if hook(".".join([target, *attrs])):
            return UNKNOWN
        if pure_module(target):
            named = [*target.split(".")[1:], *attrs]
            return UNKNOWN if any(a in ENGINE_ENTRY or a in DRIVER_ATTRIBUTES for a in named) else PURE
        if self.depth >= MAX_DEPTH:
            return UNKNOWN
        module = self.sources.module(target)
        if module is not None:  # ``import pkg.mod`` / ``from pkg import mod``: the first attribute is in it
            return self._in_module(module, attrs, node) if attrs else UNKNOWN
        owner, _, attr = target.rpartition(".")
        module = self.sources.module(owner) if owner else None
        if module is None:
            return UNKNOWN
        return self._in_module(module, [attr, *attrs], node)

    def _in_module(self, module: Module, attrs: list[str], node: ast.Call) -> str:
        inner = Judge(self.sources, module, self.depth + 1, self.seen)
        return inner.name(attrs[0], attrs[1:], node)

    def definition(self, module: Module, definition: ast.AST, attrs: list[str], node: ast.Call) -> str:
        if isinstance(definition, ast.ClassDef):
            return self._class(module, definition, attrs)
        if attrs or not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
            return UNKNOWN  # a function's attribute, or an async def (runs elsewhere)
        return self.function(module, definition)

    def function(self, module: Module, func: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        key = (str(module.path or module.name), f"{func.name}:{func.lineno}")
        if key in self.sources.verdicts:
            return self.sources.verdicts[key]
        if key in self.seen:
            return PURE  # recursion: judged by the rest of its body
        if any(start <= func.lineno <= end for start, end in module.tampered_spans):
            return UNKNOWN  # a function of an installed package that writes objects
        if not all(self._safe_decorator(d) for d in func.decorator_list):
            return UNKNOWN
        inner = Judge(self.sources, module, self.depth + 1, self.seen | {key})
        verdict = inner.body(func)
        self.sources.verdicts[key] = verdict
        return verdict

    def _safe_decorator(self, node: ast.expr) -> bool:
        """A builtin wrapper the module never rebinds, or functools' own, found by what the module imports."""
        node = node.func if isinstance(node, ast.Call) else node
        if isinstance(node, ast.Name) and node.id in BUILTIN_DECORATORS:
            return bindings(self.module.tree, node.id) == 0
        chain = _chain(node)
        if chain is None or bindings(self.module.tree, chain[0]) != 1 or chain[0] not in self.module.imports:
            return False
        return ".".join([self.module.imports[chain[0]], *chain[1:]]) in FUNCTOOLS_DECORATORS

    def _class(self, module: Module, cls: ast.ClassDef, attrs: list[str]) -> str:
        """``Model(...)``, ``Model.method(...)``, ``Model.column.like(...)``. A class with a decorator, a
        metaclass or a dunder method beyond ``__init__`` (``__del__``, ``__enter__``...) runs code
        at moments no call shows: unknown."""
        members = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        hooks = [n for n in members if n.startswith("__") and n.endswith("__") and n != "__init__"]
        tampered = any(start <= cls.lineno <= end for start, end in module.tampered_spans)
        if cls.decorator_list or cls.keywords or hooks or tampered:
            return UNKNOWN
        if not attrs:
            own = self.function(module, members["__init__"]) if "__init__" in members else PURE
            return worst(own, self._bases(module, cls))
        if attrs[0] in members:
            return self.function(module, members[attrs[0]]) if len(attrs) == 1 else UNKNOWN
        if len(attrs) == 2 and attrs[1] in COLUMN_OPERATORS and _mapped_column(cls, attrs[0]):
            return PURE  # a mapped column's SQL operator
        return UNKNOWN

    def _bases(self, module: Module, cls: ast.ClassDef) -> str:
        """Only ``object``, stdlib ``enum`` and SQLAlchemy's declarative bases (imported from sqlalchemy, or
        ``Base = declarative_base()`` bound once): any other base may bring hooks no call shows."""
        for base in cls.bases:
            chain = _chain(base)
            if chain is None or bindings(module.tree, chain[0]) > 1:
                return UNKNOWN
            root = chain[0]
            target = module.imports.get(root)
            if root == "object" and bindings(module.tree, root) == 0:
                continue
            if target and (target.split(".")[0] in ("sqlalchemy", "sqlmodel") or target in ("enum", "enum.Enum")):
                continue
            made = module.assigned.get(root)
            maker = _chain(made.func) if isinstance(made, ast.Call) else None
            source = module.imports.get(maker[0]) if maker else None
            if maker and maker[-1] == "declarative_base" and source and source.split(".")[0] == "sqlalchemy":
                continue
            return UNKNOWN
        return PURE

    # ------------------------------------------------------------------ a body

    def body(self, func: ast.AST) -> str:
        """The worst effect of every call and every ``op``/session use in a function body."""
        if self.module.tampered:
            return UNKNOWN
        local = local_names(func) | self.module.closures.get(id(func), set())
        self.values = bound_once(func)
        self.local = local
        if self._op_passed_on(func):
            return UNKNOWN
        verdict = PURE
        for node in walk(func):
            if isinstance(node, ast.Call):
                if _computed_getattr(node):
                    return UNKNOWN
                verdict = worst(verdict, self.call(node, local))
            elif isinstance(node, ast.Attribute) and (node.attr in DRIVER_ATTRIBUTES or _private(node.attr)):
                return UNKNOWN  # a session, another connection, the driver or the executor, however used
            elif _runs_code(node):
                return UNKNOWN
            if verdict == UNKNOWN:
                return UNKNOWN
        return verdict

    def _resolve(self, name: str) -> object:
        return resolver(self.module, self.values, getattr(self, "local", set()))(name)

    def _op_passed_on(self, func: ast.AST) -> bool:
        """``op`` / ``context`` used other than as ``op.get_bind()`` and the like: aliased, passed, mapped."""
        alembic = {n for n, m in self.module.imports.items() if m in ("alembic.op", "alembic.context")}
        reads = {
            id(node.value)
            for node in walk(func)
            if isinstance(node, ast.Attribute) and node.attr in OP_READS | {"is_offline_mode"}
        }
        return any(isinstance(node, ast.Name) and node.id in alembic and id(node) not in reads for node in walk(func))


MAPPED = {"Column", "mapped_column", "column_property", "relationship", "synonym", "deferred", "composite"}


def _mapped_column(cls: ast.ClassDef, name: str) -> bool:
    """``name`` is assigned in the class body to a Column (or another mapped attribute): its ``.like()`` is
    SQLAlchemy's operator, not a method some other object defines."""
    for stmt in cls.body:
        targets = (
            stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        )
        value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            func = value.func if isinstance(value, ast.Call) else None
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            return called in MAPPED
    return False


def _runs_code(node: ast.AST) -> bool:
    """exec/eval/open/setattr named, or subprocess/os/importlib imported: code the judgement cannot follow."""
    if isinstance(node, ast.Name):
        return node.id in CODE_NAMES and isinstance(node.ctx, ast.Load)
    return isinstance(node, ast.Import | ast.ImportFrom) and _code_import(node)


def _code_import(node: ast.Import | ast.ImportFrom) -> bool:
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return any(n.split(".")[0] in CODE_MODULES for n in names)


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None when it does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def local_names(func: ast.AST) -> set[str]:
    """Parameters and names assigned in ``func`` (and the functions it encloses)."""
    names: set[str] = set()
    for node in walk(func):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _computed_getattr(node: ast.Call) -> bool:
    if not (isinstance(node.func, ast.Name) and node.func.id == "getattr"):
        return False
    name = node.args[1] if len(node.args) > 1 else None
    return not (isinstance(name, ast.Constant) and isinstance(name.value, str))


def _on_session(func: ast.expr) -> bool:
    """``session.add`` / ``db.session.delete`` / ``Session(...).merge``: staging rows on an ORM session."""
    receiver = func.value if isinstance(func, ast.Attribute) else None
    text = ast.unparse(receiver) if receiver is not None else ""
    return "session" in text.lower() or isinstance(receiver, ast.Call)


def bound_once(func: ast.AST) -> dict[str, ast.expr]:
    """Names a function assigns exactly once, with the value (a statement kept in a variable). The assignment
    must be in the function's own scope: one in a nested function binds another variable of the same name."""
    values: dict[str, ast.expr] = {}
    counts: dict[str, int] = {}
    for node in walk(func):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            counts[node.id] = counts.get(node.id, 0) + 1
        elif isinstance(node, ast.arg):
            counts[node.arg] = counts.get(node.arg, 0) + 1
    for node in own_nodes(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
    return {name: value for name, value in values.items() if counts.get(name) == 1 and bindings(func, name) == 1}


def resolver(module: Module, values: dict[str, ast.expr], local: set[str]):
    """What a name in a select() is: sqlalchemy itself (reads.TRUSTED), the value it is bound to once (in the
    function, or at module level), or None (a parameter, a loop variable, rebound, a tampering module)."""

    def resolve(name: str) -> object:
        if module.tampered:
            return None
        if name in values:
            return values[name]
        if name in local or bindings(module.tree, name) != 1:
            return None
        target = module.imports.get(name)
        if target is not None:
            return reads.TRUSTED if target.split(".")[0] == "sqlalchemy" else None
        return module.assigned.get(name)

    return resolve


def _reads(node: ast.Call, values: dict[str, ast.expr] | None = None, resolve=None) -> bool:
    """``execute`` whose statement is proven a read (reads.py): literal SQL one SELECT of pure functions, or
    a ``select(...)`` construct of known builders."""
    statement = node.args[0] if node.args else None
    if isinstance(statement, ast.Name) and values:
        statement = values.get(statement.id)
    return statement_reads(statement, resolve or (lambda name: None))


def statement_reads(statement: ast.expr | None, resolve) -> bool:
    """``sa.text("SELECT ...")`` (optionally ``.bindparams``/``.columns``), a literal string, or a select()."""
    text = statement
    while (
        isinstance(text, ast.Call)
        and isinstance(text.func, ast.Attribute)
        and text.func.attr in ("bindparams", "columns")
        and all(isinstance(a, ast.Constant) for a in text.args)
        and all(isinstance(k.value, ast.Constant) for k in text.keywords)
    ):
        text = text.func.value
    if isinstance(text, ast.Call) and (_chain(text.func) or [""])[-1] == "text" and len(text.args) == 1:
        text = text.args[0]
    if isinstance(text, ast.Constant) and isinstance(text.value, str):
        return reads.sql_reads(text.value)
    return statement is not None and _is_select(statement) and reads.select_reads(statement, resolve)


def _is_select(statement: ast.expr) -> bool:
    """The outermost builder chain starts at ``select(...)``."""
    node: ast.expr | None = statement
    while isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "select" and not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)):
            return True
        node = func.value if isinstance(func, ast.Attribute) else None
    return False


def _private(name: str) -> bool:
    return name.startswith("_")


def constant_text(sources: Sources, module: Module, name: str, depth: int = 0) -> str | None:
    """The string a name holds when it is a literal assigned at module level, in this module or in the
    project module it is imported from (``from app.sql import SQL_FUNCTION``): the SQL that will run."""
    if module.tampered or bindings(module.tree, name) != 1:  # rebound (in upgrade(), a loop): not that literal
        return None
    value = module.assigned.get(name)
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    target = module.imports.get(name)
    if value is not None or target is None or depth >= MAX_DEPTH or pure_module(target):
        return None
    owner, _, attr = target.rpartition(".")
    source = sources.module(owner) if owner else None
    return constant_text(sources, source, attr, depth + 1) if source is not None else None
