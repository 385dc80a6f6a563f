"""A static model of the schema a history builds, replayed from the revisions' operations (never run).

``SchemaModel.replay(earlier)`` applies the upgrade() operations of earlier revisions in order: tables
with their columns and indexes. ``check(migration)`` then replays one revision's upgrade() and its
downgrade() against the model and returns the ``Problem``s: an object defined twice (a create_table
naming a column twice, an add_column of a column the table has) and a drop of an object the model says
does not exist.

Silence over false alarms: a table the replayed history created is known exactly; anything else (a table
the history only alters, so it predates the history; raw DDL the model cannot read; helper code;
schema-qualified or non-literal names) makes the affected part unknown, and nothing is reported about it.
Earlier revisions' upgrades are trusted (they ran): where they touch something the model lacks, the
model is what was wrong.
"""

from __future__ import annotations

import ast
import re
from collections import OrderedDict
from dataclasses import dataclass, field

from alembic_mcp.tools.history.migration_ast import MigrationSource, OpCall, literal_value
from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review.rules.astutil import callee, column_spec, name_value
from alembic_mcp.tools.review.sql import ExecuteArg, analyse_execute_arg
from alembic_mcp.tools.worker.revision_ids import as_revision_list

# Operations that change no table, column or index the model tracks.
NEUTRAL_OPS = {
    "batch_alter_table",
    "bulk_insert",
    "create_foreign_key",
    "create_unique_constraint",
    "create_check_constraint",
    "create_primary_key",
    "create_exclude_constraint",
    "drop_constraint",
    "create_table_comment",
    "drop_table_comment",
    "get_bind",
    "get_context",
    "f",
    "inline_literal",
}
DATA_STATEMENTS = {"update", "delete", "insert", "select", "set_lock_timeout", "add_constraint"}
RAW_INDEX_NAME = re.compile(
    r"^\s*create\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?([\w\"]+)\s+on", re.I
)
RAW_DROP_INDEX = re.compile(r"^\s*drop\s+index\s+(?:concurrently\s+)?(if\s+exists\s+)?([\w\"]+)\s*;?\s*$", re.I)
STRUCTURAL_ALTER = re.compile(r"\b(add|drop|rename)\b", re.I)


@dataclass
class Problem:
    """An object defined twice, or dropped though it never existed."""

    kind: str  # "defined-twice" | "never-existed"
    function: str
    line: int
    what: str  # e.g. "index ix_persons_nick", "column persons.nick"
    detail: str


@dataclass
class TableModel:
    columns: set[str] = field(default_factory=set)
    indexes: set[str] = field(default_factory=set)
    known: bool = True  # created by the replayed history: every column and index is in the model
    implicit_indexes: bool = False  # index=True columns: their names depend on the naming convention
    owner: object = None  # the token of the one SchemaModel that may change it; shared with clones otherwise


@dataclass
class SchemaModel:
    tables: dict[str, TableModel] = field(default_factory=dict)
    complete: bool = True  # every table that exists is in ``tables`` (the history starts from an empty database)
    backend: str | None = None
    problems: list[Problem] = field(default_factory=list)
    checking: bool = False  # replaying the reviewed revision (report) rather than earlier ones (trust)
    function: str = "upgrade"
    token: object = field(default_factory=object, repr=False, compare=False)  # marks the tables it may change

    def clone(self) -> SchemaModel:
        """An independent copy. The tables are shared, and copied by whichever model changes one first
        (``_own``): a long history has hundreds of tables and a revision changes a few."""
        self.token = object()  # from now on this model copies a table before changing it, too
        return SchemaModel(
            dict(self.tables), self.complete, self.backend, list(self.problems), self.checking, self.function
        )

    def _own(self, name: str) -> TableModel:
        """The table ``name`` (in ``tables``), this model's own copy: the one to change."""
        table = self.tables[name]
        if table.owner is not self.token:
            table = TableModel(set(table.columns), set(table.indexes), table.known, table.implicit_indexes, self.token)
            self.tables[name] = table
        return table

    # ------------------------------------------------------------------ building

    @classmethod
    def replay(cls, earlier: list[MigrationSource], first: MigrationSource, backend: str | None = None) -> SchemaModel:
        """The schema after ``earlier`` (upgrade order) ran; ``first`` is the revision reviewed (whose
        down_revision says where the history starts when ``earlier`` is empty)."""
        model, seen, done = _resume(earlier, backend)
        if model is None:
            start = earlier[0] if earlier else first
            model = cls(complete=not start.down_revision, backend=backend)
        for migration in earlier[done:]:
            if any(d not in seen for d in _downs(migration)):
                model._lose(None)  # a revision below it was not read
            model.apply_function(migration, "upgrade")
            seen.add(str(migration.revision))
        _remember(earlier, backend, model, seen)
        model = model.clone()
        if earlier and any(d not in seen for d in _downs(first)):
            model._lose(None)
        return model

    def apply_function(self, migration: MigrationSource, function: str) -> None:
        self.function = function
        if _unreadable(migration, function) or (self.backend is None and migration.branches):
            self._lose(None)  # code the model cannot follow may have changed any table
            if not self.checking:
                return
        for op in migration.ops_in(function):
            if migration.runs_on(op.line, self.backend):
                self.apply(op)

    def check(self, migration: MigrationSource) -> list[Problem]:
        """Problems of ``migration``'s upgrade(), then of its downgrade() run after that upgrade."""
        self.checking = True
        self.apply_function(migration, "upgrade")
        self.apply_function(migration, "downgrade")
        return self.problems

    # ------------------------------------------------------------------ operations

    def apply(self, op: OpCall) -> None:
        if "schema" in op.kwargs or (op.batch_table == "?"):
            self._lose(op.table)
            return
        handler = HANDLERS.get(op.name)
        if handler is not None:
            handler(self, op)
        elif op.name not in NEUTRAL_OPS:
            self._lose(op.table)

    def _lose(self, table: str | None) -> None:
        """Something the model cannot follow happened: to ``table``, or (None) to the whole schema."""
        if table is None:
            self.complete = False
            for name, model in list(self.tables.items()):
                if model.known:
                    self._own(name).known = False
        elif table in self.tables and self.tables[table].known:
            self._own(table).known = False

    def _report(self, kind: str, op: OpCall, what: str, detail: str) -> None:
        if self.checking:
            self.problems.append(Problem(kind, self.function, op.line, what, detail))

    def _table(self, op: OpCall, name: str | None) -> TableModel | None:
        """The model of a table the operation needs; reports a table that never existed."""
        if name is None:
            self._lose(None)
            return None
        table = self._own(name) if name in self.tables else None
        # only a downgrade is judged for tables: an upgrade may clean up a table made outside Alembic
        if table is None and self.complete and self.checking and self.function == "downgrade":
            self._report("never-existed", op, f"table {name}", f"no earlier revision created table {name}.")
        elif table is None:
            self.complete = False  # an earlier revision used it: the history started from a non-empty database
        return table


def _create_table(model: SchemaModel, op: OpCall) -> None:
    name = op.table
    if name is None:
        return model._lose(None)
    if name in model.tables and model.complete:
        model._report("defined-twice", op, f"table {name}", f"table {name} already exists at this point.")
    table = TableModel(owner=model.token)
    for arg in op.node.args[1:]:
        spec = column_spec(arg)
        if spec is not None and spec.name:
            if spec.name in table.columns:
                # always an error, whatever the model knows: the statement itself names the column twice
                model.problems.append(
                    Problem(
                        "defined-twice",
                        model.function,
                        getattr(arg, "lineno", op.line),
                        f"column {name}.{spec.name}",
                        f"create_table({name!r}) declares column {spec.name} twice.",
                    )
                )
            table.columns.add(spec.name)
            if spec.index:
                table.implicit_indexes = True
        elif isinstance(arg, ast.Call) and callee(arg) == "Index":
            index = name_value(arg.args[0]) if arg.args else None
            if index:
                table.indexes.add(index)
            else:
                table.implicit_indexes = True
        elif not (isinstance(arg, ast.Call) and (callee(arg) or "").endswith("Constraint")):
            table.known = False  # *columns, a helper's result: the columns are not all visible
    model.tables[name] = table


def _drop_table(model: SchemaModel, op: OpCall) -> None:
    if model._table(op, op.table) is not None:
        model.tables.pop(op.table or "", None)


def _rename_table(model: SchemaModel, op: OpCall) -> None:
    table, new = model._table(op, op.table), name_value(op.arg(1, "new_table_name"))
    if table is not None and new:
        model.tables[new] = model.tables.pop(op.table or "")
    elif new:
        model._lose(None)


def _add_column(model: SchemaModel, op: OpCall) -> None:
    table, spec = model._table(op, op.table), column_spec(op.arg(1, "column"))
    if table is None:
        return
    if spec is None or not spec.name:
        table.known = False
        return
    if spec.name in table.columns and table.known:
        model._report("defined-twice", op, f"column {op.table}.{spec.name}", f"{op.table} already has {spec.name}.")
        if not model.checking:
            table.known = False
    table.columns.add(spec.name)
    table.implicit_indexes |= spec.index


def _drop_column(model: SchemaModel, op: OpCall) -> None:
    table, column = model._table(op, op.table), name_value(op.arg(1, "column_name"))
    if table is None:
        return
    if column is None:
        table.known = False
    elif column not in table.columns and table.known:
        model._report("never-existed", op, f"column {op.table}.{column}", f"{op.table} has no column {column} here.")
        if not model.checking:
            table.known = False
    table.columns.discard(column or "")


def _alter_column(model: SchemaModel, op: OpCall) -> None:
    new = op.kwargs.get("new_column_name")
    if new is None:
        return
    table, column = model._table(op, op.table), name_value(op.arg(1, "column_name"))
    if table is None:
        return
    if column in table.columns and name_value(new):
        table.columns.discard(column)
        table.columns.add(name_value(new) or "")
    else:
        table.known = False


def _index_table(model: SchemaModel, op: OpCall, name: str | None) -> str | None:
    if op.table:
        return op.table
    return next((t for t, m in model.tables.items() if name in m.indexes), None)


def _create_index(model: SchemaModel, op: OpCall) -> None:
    name = name_value(op.arg(0, "index_name"))
    table = model._table(op, op.table)
    if table is None:
        return
    if name is None:
        table.implicit_indexes = True
        return
    if name in table.indexes and not truthy_kw(op, "if_not_exists"):
        model._report("defined-twice", op, f"index {name}", f"index {name} already exists on {op.table}.")
    table.indexes.add(name)


def _drop_index(model: SchemaModel, op: OpCall) -> None:
    name = name_value(op.arg(0, "index_name"))
    table_name = _index_table(model, op, name)
    table = model.tables.get(table_name or "")
    if name is None or truthy_kw(op, "if_exists"):
        return
    if table is not None and name in table.indexes:
        model._own(table_name or "").indexes.discard(name)
        return
    findable = table is not None and table.known and not table.implicit_indexes
    if findable or (
        table_name is None and model.complete and not any(m.implicit_indexes for m in model.tables.values())
    ):
        model._report("never-existed", op, f"index {name}", f"no earlier operation created index {name}.")
    if not model.checking:
        model._lose(table_name)


_PARSED: OrderedDict[int, tuple[ast.AST, ExecuteArg]] = OrderedDict()  # replays of a long history parse once


def _analysed(op: OpCall, backend: str | None) -> ExecuteArg:
    cached = _PARSED.get(id(op.node))
    if cached is not None and cached[0] is op.node:
        return cached[1]
    arg = analyse_execute_arg(op.arg(0, "sqltext"), backend)
    _PARSED[id(op.node)] = (op.node, arg)
    while len(_PARSED) > 4096:
        _PARSED.popitem(last=False)
    return arg


def _execute(model: SchemaModel, op: OpCall) -> None:
    arg = _analysed(op, model.backend)
    if arg.kind == "construct":
        return
    if arg.kind != "literal":
        return model._lose(None)
    for statement in arg.statements:
        _raw_statement(model, statement)


def _raw_statement(model: SchemaModel, statement) -> None:
    name = statement.table or ""
    kind, table = statement.kind, model.tables.get(name)
    if kind in DATA_STATEMENTS:
        return
    if kind == "create_index" and (m := RAW_INDEX_NAME.match(statement.text)) and table is not None:
        model._own(name).indexes.add(m.group(1).replace('"', ""))
    elif kind == "drop_index" and (m := RAW_DROP_INDEX.match(statement.text)):
        index = m.group(2).replace('"', "")
        for holder in [t for t, model_table in model.tables.items() if index in model_table.indexes]:
            model._own(holder).indexes.discard(index)
    elif kind == "drop_column" and table is not None:
        model._own(name).columns.discard(statement.column or "")
    elif kind == "drop_table" and statement.table:
        model.tables.pop(statement.table, None)
    elif kind == "truncate" or (
        kind == "alter_table" and not STRUCTURAL_ALTER.search(statement.text.split(statement.table or "", 1)[-1])
    ):
        return
    else:
        model._lose(statement.table if table is not None else None)


# The last replays, so reviewing a whole history replays each revision once, not once per later revision.
_REPLAYS: OrderedDict[tuple[int, ...], tuple[tuple[MigrationSource, ...], str | None, SchemaModel, set[str]]] = (
    OrderedDict()
)


def _resume(earlier: list[MigrationSource], backend: str | None) -> tuple[SchemaModel | None, set[str], int]:
    """The longest remembered replay of a prefix of ``earlier`` (a copy), with its revisions, or nothing."""
    best: tuple[SchemaModel | None, set[str], int] = (None, set(), 0)
    ids = tuple(map(id, earlier))
    for key, (migrations, replay_backend, model, seen) in _REPLAYS.items():
        n = len(migrations)
        # the same objects (the entry keeps them alive, so equal ids are the same parses), compared in C
        prefix = n <= len(ids) and ids[:n] == key
        if prefix and replay_backend == backend and n > best[2]:
            best = (model, seen, n)
    if best[0] is not None:
        return best[0].clone(), set(best[1]), best[2]
    return best


def _remember(earlier: list[MigrationSource], backend: str | None, model: SchemaModel, seen: set[str]) -> None:
    _REPLAYS[tuple(map(id, earlier))] = (tuple(earlier), backend, model, set(seen))
    while len(_REPLAYS) > 4:
        _REPLAYS.popitem(last=False)


def _downs(migration: MigrationSource) -> list[str]:
    return as_revision_list(migration.down_revision)


def truthy_kw(op: OpCall, name: str) -> bool:
    return bool(literal_value(op.kwargs.get(name)))


HANDLERS = {
    "create_table": _create_table,
    "drop_table": _drop_table,
    "rename_table": _rename_table,
    "add_column": _add_column,
    "drop_column": _drop_column,
    "alter_column": _alter_column,
    "create_index": _create_index,
    "drop_index": _drop_index,
    "execute": _execute,
}


_UNREADABLE: OrderedDict[tuple[int, str], tuple[MigrationSource, bool]] = OrderedDict()


def _unreadable(migration: MigrationSource, function: str) -> bool:
    """``_calls_own_code``, once per parsed migration and function (a history is replayed many times)."""
    key = (id(migration), function)
    cached = _UNREADABLE.get(key)
    if cached is not None and cached[0] is migration:
        return cached[1]
    result = _calls_own_code(migration, function)
    _UNREADABLE[key] = (migration, result)
    while len(_UNREADABLE) > 8192:
        _UNREADABLE.popitem(last=False)
    return result


def _calls_own_code(migration: MigrationSource, function: str) -> bool:
    """The function calls code of its own (module-level helpers, imports outside sqlalchemy/alembic)."""
    func = migration.functions.get(function)
    if func is None:
        return False
    own = {n.name for n in migration.tree.body if isinstance(n, ast.FunctionDef)} - {"upgrade", "downgrade"}
    imported = {
        alias.asname or alias.name.split(".")[0]
        for node in migration.tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and not (getattr(node, "module", None) or "").startswith(("sqlalchemy", "alembic", "__future__"))
        and not (isinstance(node, ast.Import) and all(a.name.startswith(("sqlalchemy", "alembic")) for a in node.names))
        for alias in node.names
    }
    for node in walk(func):
        if isinstance(node, ast.Call):
            root = node.func
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and (root.id in own or root.id in imported):
                return True
        if isinstance(node, ast.For | ast.While):
            return True  # operations in a loop: names built at run time
    return False
