"""What the static schema model (review/schema_model.py) proves at each operation of the reviewed upgrade():
a column already NOT NULL, an index that already exists, a column that does not exist yet.

The rules use these facts only to stay quiet, so a fact holds only when everything that ran before the
operation was read: the earlier revisions replayed from the start of the history (helpers read as their
operations, rules/inline.py; a revision running code the model cannot follow forgets what it might have
changed), and every top-level statement of the reviewed upgrade() before the one holding it read too.
Where anything is unread, there are no facts and the rules judge as they always did.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from alembic_mcp.tools.history.migration_ast import MigrationSource, OpCall
from alembic_mcp.tools.review import schema_model  # a module: schema_model imports the rules package
from alembic_mcp.tools.review.rules.astutil import column_spec, name_value
from alembic_mcp.tools.review.rules.effects import Sources


@dataclass
class HelperReader:
    """A function's operations with its helper calls read as theirs (or None: code the model cannot follow).
    ``key``: the call's Sources, which the reading depends on (a replay is reused only within the call)."""

    key: Sources
    backend: str | None

    def __call__(self, migration: MigrationSource, function: str) -> list[OpCall] | None:
        key = (id(self.key), id(migration), function, self.backend)
        cached = _READ.get(key)
        if cached is not None and cached[0] is self.key and cached[1] is migration:
            return cached[2]
        from alembic_mcp.tools.review.rules.engine import LintState  # engine loads the rule families

        # every file is checked for op reached other than as op.<operation>(...) and for tampering, which the
        # operations listed would not show; one calling code of its own is followed only where all of it is read
        state = LintState(migration, None, self.backend, sources=self.key)
        ops = (state.up if function == "upgrade" else state.down) if read_file(state) else None
        if ops is not None and schema_model.unreadable(migration, function) and not fully_read(state, function):
            ops = None
        _READ[key] = (self.key, migration, ops)  # the entry keeps both alive: their ids stay theirs
        while len(_READ) > 4096:
            _READ.popitem(last=False)
        return ops


# Helper-calling functions read once per call's Sources and parse (a history is replayed for every revision).
_READ: OrderedDict[tuple[int, int, str, str | None], tuple[Sources, MigrationSource, list[OpCall] | None]] = (
    OrderedDict()
)


def fully_read(state, function: str) -> bool:
    """Every statement of ``function`` is read (helpers as operations, the rest shown not to write), in a
    file read as it is (``read_file``)."""
    return read_file(state) and all(s.read for s in dynamic_statements(state) if s.function == function)


def read_file(state) -> bool:
    """The file neither tampers, nor reaches ``op`` other than as ``op.<operation>(...)``, nor runs code
    the review does not read when it is imported."""
    from alembic_mcp.tools.review.rules import dynamic

    if state.tampered:
        return False
    scan, tree = dynamic._scan(state), state.migration.tree
    known = dynamic._module_values(tree) | set(scan.imports)
    return not dynamic._op_misuse(scan, tree) and not dynamic._module_code(scan, known, tree.body)


def dynamic_statements(state) -> list:
    from alembic_mcp.tools.review.rules import dynamic

    return dynamic.statements(state)


@dataclass
class Facts:
    """By id() of an operation's call node: what held just before it ran."""

    not_null: set[int] = field(default_factory=set)  # alter_column of a column already NOT NULL
    index_exists: set[int] = field(default_factory=set)  # create_index of an index already there
    column_absent: set[int] = field(default_factory=set)  # add_column of a column surely not there


def model_before(state) -> schema_model.SchemaModel:
    """The model after the earlier revisions (once per lint)."""
    if "schema_before" not in state.memo:
        earlier = state.definitions.earlier if state.definitions is not None else []
        reader = HelperReader(state.sources or Sources(), state.backend)
        state.memo["schema_before"] = schema_model.SchemaModel.replay(earlier, state.migration, state.backend, reader)
    return state.memo["schema_before"]


def facts(state) -> Facts:
    """The facts at each operation of upgrade() (none when anything before it is unread)."""
    if "schema_facts" not in state.memo:
        state.memo["schema_facts"] = _facts(state)
    return state.memo["schema_facts"]


def _facts(state) -> Facts:
    out = Facts()
    migration = state.migration
    if state.definitions is None or (state.backend is None and migration.branches) or not read_file(state):
        return out
    model = model_before(state).clone()
    model.conditional = schema_model.conditional_lines(migration, "upgrade", state.backend)
    unread = min((s.line for s in dynamic_statements(state) if s.function == "upgrade" and not s.read), default=None)
    for op in schema_model.with_connection_calls(migration, "upgrade", state.up):
        if unread is not None and op.line >= unread:
            break  # from the first unread statement on, anything may have changed
        key = id(op.node)
        if op.name == "alter_column" and model.is_not_null(op.table, name_value(op.arg(1, "column_name"))):
            out.not_null.add(key)
        elif op.name == "create_index" and model.has_index(op.table, name_value(op.arg(0, "index_name"))):
            out.index_exists.add(key)
        elif op.name == "add_column" and model.lacks_column(op.table, _added(op)):
            out.column_absent.add(key)
        model.apply(op)
    return out


def _added(op: OpCall) -> str | None:
    spec = column_spec(op.arg(1, "column"))
    return spec.name if spec is not None else None


def already_not_null(state, op: OpCall) -> bool:
    return id(op.node) in facts(state).not_null


def index_exists(state, op: OpCall) -> bool:
    return id(op.node) in facts(state).index_exists


def column_absent(state, op: OpCall) -> bool:
    return id(op.node) in facts(state).column_absent
