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

Beside the objects, the model keeps facts the review may use to stay quiet, so they are only ever what the
replay proves: the columns known to be NOT NULL (declared so, a primary key's, renames carry it) and the
indexes known to exist, by table (also for tables the history did not create). Anything the model cannot
follow on a table forgets its facts. An operation that may not run (a helper's ``guarded`` one,
rules/inline.py, or one under an ``if``/loop/``try``, ``conditional_lines``) leaves the object possibly
there: neither its presence nor its absence is a fact. SQL run on a connection rather than through ``op``
is read as ``op.execute``'s (``with_connection_calls``).
"""

from __future__ import annotations

import ast
import re
from collections import OrderedDict
from collections.abc import Callable
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

# A function's operations as the model should replay them (helpers read as theirs), or None: it runs code
# the model cannot follow. Its ``key`` attribute, if any, is what its reading depends on (cached replays).
Reader = Callable[[MigrationSource, str], "list[OpCall] | None"]


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
    maybe: set[str] = field(default_factory=set)  # columns a guarded helper operation may have added or dropped
    maybe_indexes: set[str] = field(default_factory=set)  # the same for indexes

    def surely_lacks(self, column: str) -> bool:
        """The column does not exist: every column of the table is in the model and it is not one."""
        return self.known and column not in self.columns and column not in self.maybe


@dataclass
class SchemaModel:
    tables: dict[str, TableModel] = field(default_factory=dict)
    complete: bool = True  # every table that exists is in ``tables`` (the history starts from an empty database)
    backend: str | None = None
    problems: list[Problem] = field(default_factory=list)
    checking: bool = False  # replaying the reviewed revision (report) rather than earlier ones (trust)
    function: str = "upgrade"
    token: object = field(default_factory=object, repr=False, compare=False)  # marks the tables it may change
    not_null: set[tuple[str, str]] = field(default_factory=set)  # (table, column) proven NOT NULL
    indexes: set[tuple[str, str]] = field(default_factory=set)  # (table, index) proven to exist
    conditional: set[int] = field(default_factory=set)  # lines of the function applied that may not run

    def clone(self) -> SchemaModel:
        """An independent copy. The tables are shared, and copied by whichever model changes one first
        (``_own``): a long history has hundreds of tables and a revision changes a few."""
        self.token = object()  # from now on this model copies a table before changing it, too
        return SchemaModel(
            dict(self.tables),
            self.complete,
            self.backend,
            list(self.problems),
            self.checking,
            self.function,
            not_null=set(self.not_null),
            indexes=set(self.indexes),
        )

    def _own(self, name: str) -> TableModel:
        """The table ``name`` (in ``tables``), this model's own copy: the one to change."""
        table = self.tables[name]
        if table.owner is not self.token:
            table = TableModel(
                set(table.columns),
                set(table.indexes),
                table.known,
                table.implicit_indexes,
                self.token,
                set(table.maybe),
                set(table.maybe_indexes),
            )
            self.tables[name] = table
        return table

    # ------------------------------------------------------------------ building

    @classmethod
    def replay(
        cls,
        earlier: list[MigrationSource],
        first: MigrationSource,
        backend: str | None = None,
        reader: Reader | None = None,
    ) -> SchemaModel:
        """The schema after ``earlier`` (upgrade order) ran; ``first`` is the revision reviewed (whose
        down_revision says where the history starts when ``earlier`` is empty). ``reader`` gives a
        function's operations (helpers read as theirs) or None where it runs code the model cannot follow;
        without one, a function calling any code of its own is not followed."""
        model, seen, done = _resume(earlier, backend, reader)
        if model is None:
            start = earlier[0] if earlier else first
            model = cls(complete=not start.down_revision, backend=backend)
        for migration in earlier[done:]:
            if any(d not in seen for d in _downs(migration)):
                model._lose(None)  # a revision below it was not read
            model.apply_function(migration, "upgrade", reader)
            seen.add(str(migration.revision))
        _remember(earlier, backend, reader, model, seen)
        model = model.clone()
        if earlier and any(d not in seen for d in _downs(first)):
            model._lose(None)
        return model

    def apply_function(self, migration: MigrationSource, function: str, reader: Reader | None = None) -> None:
        self.function = function
        reading = reader is not None and not self.checking
        ops = reader(migration, function) if reading and reader is not None else None
        lost = ops is None and (reading or unreadable(migration, function))
        if lost or (self.backend is None and migration.branches):
            self._lose(None)  # code the model cannot follow may have changed any table
            if not self.checking:
                return
        self.conditional = conditional_lines(migration, function, self.backend)
        listed = ops if ops is not None else migration.ops_in(function)
        for op in with_connection_calls(migration, function, listed):
            if migration.runs_on(op.line, self.backend):
                self.apply(op)
        self.conditional = set()

    def check(self, migration: MigrationSource) -> list[Problem]:
        """Problems of ``migration``'s upgrade(), then of its downgrade() run after that upgrade."""
        self.checking = True
        self.apply_function(migration, "upgrade")
        self.apply_function(migration, "downgrade")
        return self.problems

    # ------------------------------------------------------------------ operations

    def apply(self, op: OpCall) -> None:
        schema = op.kwargs.get("schema")
        named = schema is not None and not (isinstance(schema, ast.Constant) and schema.value is None)
        if named or op.batch_table == "?":  # another schema's table (schema=None is the default), or unknown
            self._lose(op.table)
            return
        track_facts(self, op)
        handler = HANDLERS.get(op.name)
        if handler is not None:
            handler(self, op)
        elif op.name not in NEUTRAL_OPS:
            self._lose(op.table)

    def _lose(self, table: str | None) -> None:
        """Something the model cannot follow happened: to ``table``, or (None) to the whole schema."""
        if table is None:
            self.complete = False
            self.not_null.clear()
            self.indexes.clear()
            for name, model in list(self.tables.items()):
                if model.known:
                    self._own(name).known = False
            return
        self.forget(table)
        if table in self.tables and self.tables[table].known:
            self._own(table).known = False

    def maybe_runs(self, op: OpCall) -> bool:
        """The operation may be skipped: a helper's guard, or its line under an ``if``/loop/``try``/other
        context manager, or after a conditional return."""
        return op.guarded or op.line in self.conditional

    def forget(self, table: str | None) -> None:
        """Drop the facts (NOT NULL columns, existing indexes) of ``table``."""
        self.not_null = {fact for fact in self.not_null if fact[0] != table}
        self.indexes = {fact for fact in self.indexes if fact[0] != table}

    # ------------------------------------------------------------------ what the replay proves

    def is_not_null(self, table: str | None, column: str | None) -> bool:
        return (table, column) in self.not_null

    def has_index(self, table: str | None, index: str | None) -> bool:
        return (table, index) in self.indexes

    def lacks_column(self, table: str | None, column: str | None) -> bool:
        """The column surely does not exist on the table (a table the replay created and fully knows)."""
        model = self.tables.get(table or "")
        return model is not None and column is not None and model.surely_lacks(column)

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
    if name is None:  # a new table of some name: the others keep what the model knows of them
        model.complete = False
        return
    if model.maybe_runs(op):  # a helper may skip it: the table may be there or not, with columns of its own
        if name in model.tables:
            model._lose(name)
        else:
            model.tables[name] = TableModel(known=False, owner=model.token)
        return
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
        if model.maybe_runs(op):  # it may still be there: neither a create nor a drop of it is judged from now on
            model.complete = False


def _rename_table(model: SchemaModel, op: OpCall) -> None:
    table, new = model._table(op, op.table), name_value(op.arg(1, "new_table_name"))
    if model.maybe_runs(op):
        model._lose(None)
    elif table is not None and new:
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
    table.implicit_indexes |= spec.index
    if model.maybe_runs(op):  # a helper may skip it: the column may be there or not
        if spec.name not in table.columns or spec.name in table.maybe:
            table.columns.add(spec.name)
            table.maybe.add(spec.name)
        return
    if spec.name in table.columns and spec.name not in table.maybe and table.known:
        model._report("defined-twice", op, f"column {op.table}.{spec.name}", f"{op.table} already has {spec.name}.")
        if not model.checking:
            table.known = False
    table.columns.add(spec.name)
    table.maybe.discard(spec.name)


def _drop_column(model: SchemaModel, op: OpCall) -> None:
    table, column = model._table(op, op.table), name_value(op.arg(1, "column_name"))
    if table is None:
        return
    if column is None:
        table.known = False
    elif model.maybe_runs(op):
        if column in table.columns:
            table.maybe.add(column)
        return
    elif column not in table.columns and table.known:
        model._report("never-existed", op, f"column {op.table}.{column}", f"{op.table} has no column {column} here.")
        if not model.checking:
            table.known = False
    table.columns.discard(column or "")
    table.maybe.discard(column or "")


def _alter_column(model: SchemaModel, op: OpCall) -> None:
    new = op.kwargs.get("new_column_name")
    if new is None:
        return
    table, column = model._table(op, op.table), name_value(op.arg(1, "column_name"))
    if table is None:
        return
    if column in table.columns and column not in table.maybe and name_value(new) and not model.maybe_runs(op):
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
    if model.maybe_runs(op):  # a helper may skip it
        if name not in table.indexes or name in table.maybe_indexes:
            table.indexes.add(name)
            table.maybe_indexes.add(name)
        return
    if name in table.indexes and name not in table.maybe_indexes and not truthy_kw(op, "if_not_exists"):
        model._report("defined-twice", op, f"index {name}", f"index {name} already exists on {op.table}.")
    table.indexes.add(name)
    table.maybe_indexes.discard(name)


def _drop_index(model: SchemaModel, op: OpCall) -> None:
    name = name_value(op.arg(0, "index_name"))
    table_name = _index_table(model, op, name)
    table = model.tables.get(table_name or "")
    if name is None:
        return
    if table is not None and name in table.indexes:
        owned = model._own(table_name or "")
        if model.maybe_runs(op):
            owned.maybe_indexes.add(name)
        else:
            owned.indexes.discard(name)
            owned.maybe_indexes.discard(name)
        return
    if truthy_kw(op, "if_exists") or model.maybe_runs(op):
        return
    findable = table is not None and table.known and not table.implicit_indexes
    if findable or (
        table_name is None and model.complete and not any(m.implicit_indexes for m in model.tables.values())
    ):
        model._report("never-existed", op, f"index {name}", f"no earlier operation created index {name}.")
    if not model.checking:
        model._lose(table_name)


# ---------------------------------------------------------------------- facts: NOT NULL columns, indexes

# Options of batch_alter_table that rebuild the table from columns given in the call (SQLite's copy).
BATCH_REBUILDS = {"copy_from", "reflect_args", "reflect_kwargs", "table_args", "table_kwargs", "partial_reordering"}
# What alter_column may restate on MySQL (MODIFY / CHANGE) without saying the column stays NOT NULL.
ALTER_KEEPS_NULLS = {"server_default", "existing_type", "existing_server_default", "existing_nullable"}


def declared_not_null(spec) -> bool:
    """A Column declared NOT NULL: nullable=False, or a primary key with no nullable given (SQLAlchemy
    renders NOT NULL for it)."""
    return spec.nullable is False or (spec.primary_key and "nullable" not in {k.arg for k in spec.node.keywords})


def _table_not_null(op: OpCall) -> set[str]:
    """The columns create_table declares NOT NULL (PrimaryKeyConstraint's too, unless nullable is given)."""
    specs = [spec for arg in op.node.args[1:] if (spec := column_spec(arg)) is not None and spec.name]
    keyed = {
        name
        for arg in op.node.args[1:]
        if isinstance(arg, ast.Call) and callee(arg) == "PrimaryKeyConstraint"
        for name in (name_value(a) for a in arg.args)
        if name
    }
    explicit = {spec.name for spec in specs if "nullable" in {k.arg for k in spec.node.keywords}}
    return {str(spec.name) for spec in specs if declared_not_null(spec)} | (keyed - explicit)


def _table_indexes(op: OpCall) -> set[str]:
    return {
        name
        for arg in op.node.args[1:]
        if isinstance(arg, ast.Call) and callee(arg) == "Index" and arg.args and (name := name_value(arg.args[0]))
    }


def _drop_index_fact(model: SchemaModel, index: str | None) -> None:
    model.indexes = {fact for fact in model.indexes if fact[1] != index}


def _move_facts(model: SchemaModel, table: str, new: str | None) -> None:
    moved_nn = {c for t, c in model.not_null if t == table}
    moved_ix = {i for t, i in model.indexes if t == table}
    model.forget(table)
    model.forget(new)
    if new:
        model.not_null |= {(new, c) for c in moved_nn}
        model.indexes |= {(new, i) for i in moved_ix}


def _alter_facts(model: SchemaModel, op: OpCall, table: str, column: str) -> None:
    kwargs = op.kwargs
    fact = (table, column)
    if "nullable" in kwargs:
        if literal_value(kwargs["nullable"]) is False:
            if not model.maybe_runs(op):
                model.not_null.add(fact)  # a guarded one leaves it as it was, NOT NULL or not
        else:
            model.not_null.discard(fact)
    elif (
        model.backend != "postgresql"
        and set(kwargs) - ALTER_KEEPS_NULLS
        and literal_value(kwargs.get("existing_nullable")) is not False
    ):
        model.not_null.discard(fact)  # MySQL's MODIFY restates the column: NULL unless existing_nullable=False
    new = name_value(kwargs.get("new_column_name")) if "new_column_name" in kwargs else None
    if "new_column_name" in kwargs:
        held = fact in model.not_null and new is not None and not model.maybe_runs(op)
        model.not_null -= {fact, (table, new)}
        if held:
            model.not_null.add((table, str(new)))


def track_facts(model: SchemaModel, op: OpCall) -> None:
    """Keep the facts (NOT NULL columns, existing indexes) true across ``op``."""
    table, name = op.table, op.name
    if name == "drop_index":
        return _drop_index_fact(model, name_value(op.arg(0, "index_name")))
    if name == "execute" or (name in NEUTRAL_OPS and name != "batch_alter_table"):
        return  # raw SQL: _raw_statement
    if table is None:
        if name != "create_table":  # a new table of some name changes no other table
            model._lose(None)
        return
    if name == "create_table":
        model.forget(table)
        if not model.maybe_runs(op):
            model.not_null |= {(table, c) for c in _table_not_null(op)}
            model.indexes |= {(table, i) for i in _table_indexes(op)}
    elif name == "drop_table":
        model.forget(table)
    elif name == "rename_table":
        _move_facts(model, table, None if model.maybe_runs(op) else name_value(op.arg(1, "new_table_name")))
    elif name == "batch_alter_table":
        if set(op.kwargs) & BATCH_REBUILDS:
            model.forget(table)
    elif name == "add_column":
        spec = column_spec(op.arg(1, "column"))
        if spec is None or not spec.name:
            return
        held = model.tables.get(table)
        surely_there = held is not None and spec.name in held.columns and spec.name not in held.maybe
        if not (model.maybe_runs(op) and surely_there):  # a guarded add of a column that is there changes nothing
            model.not_null.discard((table, spec.name))
            if declared_not_null(spec) and not model.maybe_runs(op):
                model.not_null.add((table, spec.name))
    elif name == "drop_column":
        model.not_null.discard((table, name_value(op.arg(1, "column_name"))))
        model.indexes = {fact for fact in model.indexes if fact[0] != table}  # its indexes go with it
    elif name == "alter_column":
        column = name_value(op.arg(1, "column_name"))
        if column is None:
            return model.forget(table)
        _alter_facts(model, op, table, column)
    elif name == "create_index":
        index = name_value(op.arg(0, "index_name"))
        if index and not model.maybe_runs(op):
            model.indexes.add((table, index))


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
        _raw_statement(model, statement, model.maybe_runs(op))


def _raw_statement(model: SchemaModel, statement, maybe: bool = False) -> None:
    name = statement.table or ""
    kind, table = statement.kind, model.tables.get(name)
    if kind in DATA_STATEMENTS:
        return
    if kind == "create_index" and (m := RAW_INDEX_NAME.match(statement.text)):
        index = m.group(1).replace('"', "")
        if table is not None:
            model._own(name).indexes.add(index)
        if statement.table and not maybe:
            model.indexes.add((name, index))
    elif kind == "drop_index" and (m := RAW_DROP_INDEX.match(statement.text)):
        index = m.group(2).replace('"', "")
        _drop_index_fact(model, index)
        for holder in [t for t, model_table in model.tables.items() if index in model_table.indexes]:
            model._own(holder).indexes.discard(index)
    elif kind == "drop_column" and table is not None:
        model._own(name).columns.discard(statement.column or "")
        model.not_null.discard((name, statement.column or ""))
        model.indexes = {fact for fact in model.indexes if fact[0] != name}
    elif kind == "drop_table" and statement.table:
        model.tables.pop(statement.table, None)
        model.forget(statement.table)
    elif kind == "truncate":
        return
    elif kind == "alter_table" and not STRUCTURAL_ALTER.search(statement.text.split(statement.table or "", 1)[-1]):
        # SET/DROP NOT NULL, MySQL's MODIFY: the columns' nullability is no longer known
        model.not_null = {fact for fact in model.not_null if fact[0] != statement.table}
    else:
        model._lose(statement.table if table is not None else None)


# The last replays, so reviewing a whole history replays each revision once, not once per later revision.
_REPLAYS: OrderedDict[
    tuple[int, ...], tuple[tuple[MigrationSource, ...], str | None, object, SchemaModel, set[str]]
] = OrderedDict()


def _reader_key(reader: Reader | None) -> object:
    """What a replay's reading depends on beyond the parses: the reader's ``key`` (the call's helper sources)."""
    return getattr(reader, "key", reader)


def _resume(
    earlier: list[MigrationSource], backend: str | None, reader: Reader | None
) -> tuple[SchemaModel | None, set[str], int]:
    """The longest remembered replay of a prefix of ``earlier`` (a copy), with its revisions, or nothing."""
    best: tuple[SchemaModel | None, set[str], int] = (None, set(), 0)
    ids = tuple(map(id, earlier))
    key = _reader_key(reader)
    for prefix_ids, (migrations, replay_backend, replay_key, model, seen) in _REPLAYS.items():
        n = len(migrations)
        # the same objects (the entry keeps them alive, so equal ids are the same parses), compared in C
        prefix = n <= len(ids) and ids[:n] == prefix_ids
        if prefix and replay_backend == backend and replay_key is key and n > best[2]:
            best = (model, seen, n)
    if best[0] is not None:
        return best[0].clone(), set(best[1]), best[2]
    return best


def _remember(
    earlier: list[MigrationSource], backend: str | None, reader: Reader | None, model: SchemaModel, seen: set[str]
) -> None:
    # the entry keeps the reader's key alive: an identity compared later is never a new object's
    _REPLAYS[tuple(map(id, earlier))] = (tuple(earlier), backend, _reader_key(reader), model, set(seen))
    while len(_REPLAYS) > 4:
        _REPLAYS.popitem(last=False)


def _downs(migration: MigrationSource) -> list[str]:
    return as_revision_list(migration.down_revision)


def truthy_kw(op: OpCall, name: str) -> bool:
    return bool(literal_value(op.kwargs.get(name)))


# Methods that run SQL on a connection (``op.get_bind().execute(...)``, ``conn.exec_driver_sql(...)``): the
# model reads their statements as op.execute's, and loses everything where it cannot.
CONNECTION_RUNS = {"execute", "exec_driver_sql", "executemany", "executescript", "scalar", "scalars", "callproc"}


def with_connection_calls(migration: MigrationSource, function: str, ops: list[OpCall]) -> list[OpCall]:
    """``ops`` with the function's SQL run on a connection (not through ``op``) as ``execute`` operations, in
    line order."""
    func = migration.functions.get(function)
    if func is None:
        return ops
    known = {id(op.node) for op in migration.ops}
    extra = [
        OpCall("execute", function, node.lineno, node)
        for node in walk(func)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CONNECTION_RUNS
        and id(node) not in known
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "op")
    ]
    if not extra:
        return ops
    return sorted([*ops, *extra], key=lambda op: op.line)  # stable: one line's operations keep their order


CERTAIN_CONTEXTS = {"batch_alter_table", "autocommit_block"}  # context managers that swallow no error


def conditional_lines(migration: MigrationSource, function: str, backend: str | None) -> set[int]:
    """Lines of ``function`` that may not run: under an ``if`` (a dialect test for a known target aside:
    runs_on decides it), a loop, ``try``, ``match`` or a context manager that may swallow an error, and
    everything after a statement that may return or raise."""
    func = migration.functions.get(function)
    out: set[int] = set()
    if func is None:
        return out

    def dialect_test(stmt: ast.stmt) -> bool:
        first = stmt.body[0].lineno if isinstance(stmt, ast.If) and stmt.body else None
        return backend is not None and first is not None and any(b.start <= first <= b.end for b in migration.branches)

    def certain_with(stmt: ast.stmt) -> bool:
        return isinstance(stmt, ast.With) and all(
            isinstance(item.context_expr, ast.Call) and callee(item.context_expr) in CERTAIN_CONTEXTS
            for item in stmt.items
        )

    def visit(body: list[ast.stmt], skipped: bool) -> None:
        for stmt in body:
            if skipped:
                out.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
            elif certain_with(stmt):
                visit(stmt.body, False)  # type: ignore[attr-defined]
            elif isinstance(stmt, ast.If) and dialect_test(stmt):
                visit(stmt.body, False)
                visit(stmt.orelse, False)
            elif isinstance(stmt, ast.If | ast.For | ast.AsyncFor | ast.While | ast.Try | ast.With | ast.AsyncWith) or (
                type(stmt).__name__ in ("Match", "TryStar")
            ):
                out.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
            skipped = skipped or any(isinstance(n, ast.Return | ast.Raise) for n in walk(stmt))

    visit(func.body, False)
    return out


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


def unreadable(migration: MigrationSource, function: str) -> bool:
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
