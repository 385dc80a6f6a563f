"""Downgrade rules: empty, raising, non-inverse and data-losing downgrade() functions.

The inverse of each upgrade operation (``INVERSES``) and the test that downgrade() has it
(``UNDONE_BY``) are tables keyed by the operation's name. ``Definitions`` finds how earlier migrations
defined what a downgrade must restore, so the fix can give the real column or table.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from alembic_mcp.tools.history.migration_ast import MigrationSource, OpCall, dialect_guard, literal_value
from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review.rules import dynamic, schema_facts
from alembic_mcp.tools.review.rules.astutil import column_spec, has_statements, list_of_str, name_value, q, src, truthy
from alembic_mcp.tools.review.rules.effects import (
    PURE_BUILTINS,
    UNKNOWN,
    Judge,
    Sources,
    local_names,
    migration_module,
)
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, rule
from alembic_mcp.tools.review.sql import ExecuteArg, analyse_execute_arg

CONSTRAINT_OPS = {
    "create_foreign_key": "foreignkey",
    "create_unique_constraint": "unique",
    "create_check_constraint": "check",
    "create_primary_key": "primary",
    "create_exclude_constraint": "exclude",
}
# op.<name> calls that change nothing themselves (context, connection, naming helpers).
READS_ONLY = {"batch_alter_table", "get_bind", "get_context", "f", "inline_literal"}
DOC_IRREVERSIBLE = re.compile(r"irreversib|not reversible|one[- ]way|cannot be (undone|reversed)|no downgrade", re.I)


def _fix_inverses(inverses: list[str]) -> str:
    if not inverses:
        return "Write the inverse of each upgrade operation in downgrade()."
    return "def downgrade() -> None:\n" + "\n".join("    " + inverse for inverse in inverses)


def _fix_irreversible() -> str:
    return (
        "Write the inverse operations in downgrade(); if it truly cannot be reversed, keep the raise with a "
        'message and say why in the docstring ("irreversible: ...") so a human signs off.'
    )


def _fix_loses_data(target: str) -> str:
    what = target.split(" ", 1)[1]
    return (
        f"If downgrade() can keep the values, carry them before the drop into a column it keeps: an "
        f"op.execute('UPDATE ...') of the same table whose SET reads {what} (directly or through a join on it); "
        "then nothing is lost and this finding goes. If the loss is real, a human decides: name it in "
        f"downgrade() (`# data loss: {what}`) before they approve (any edit voids an approval), and offer a "
        "backup (backup_db) before a rollback. The comment documents the loss; it never clears unclear-rollback."
    )


EMPTY_DOWNGRADE = rule(
    "empty-downgrade",
    "error",
    "downgrade() empty while upgrade() changes something",
    "There is no rollback path: `alembic downgrade` succeeds but leaves the upgrade's changes in place, and "
    "the next upgrade fails.",
    _fix_inverses,
    escalations=("unclear-rollback",),
    anchors="pytest-alembic up/down consistency",
)
DOWNGRADE_NOT_INVERSE = rule(
    "downgrade-not-inverse",
    "error",
    "downgrade() does not undo an upgrade operation",
    "A downgrade that leaves this behind makes the next upgrade fail (the object already exists or is "
    "missing) and the schema drifts from the models.",
    lambda inverse: f"# add to downgrade():\n{inverse}",
    anchors="pytest-alembic downgrade_leaves_no_trace",
)
IRREVERSIBLE_DOWNGRADE = rule(
    "irreversible-downgrade",
    "error",
    "downgrade() raises",
    "There is no way back if this migration misbehaves in production.",
    _fix_irreversible,
    escalations=("unclear-rollback",),
)
DOWNGRADE_LOSES_DATA = rule(
    "downgrade-loses-data",
    "warning",
    "downgrade() drops a column/table that upgrade() filled",
    "Rolling back destroys the data written by the upgrade and everything the application stored there since.",
    _fix_loses_data,
    escalations=("unclear-rollback",),
)


class Definitions:
    """How earlier migrations defined tables, columns and indexes: the code for restoring inverses."""

    def __init__(self, earlier):
        self._earlier = earlier  # list in upgrade order, or a callable returning it (computed lazily)

    @property
    def earlier(self) -> list[MigrationSource]:
        if callable(self._earlier):
            self._earlier = self._earlier()
        return self._earlier

    def _ops(self):
        for migration in reversed(self.earlier):
            yield from reversed(migration.ops_in("upgrade"))

    def column(self, table: str | None, column: str | None) -> str | None:
        for op in self._ops():
            if op.table != table:
                continue
            nodes = [op.arg(1, "column")] if op.name == "add_column" else []
            nodes = op.node.args[1:] if op.name == "create_table" else nodes
            for node in nodes:
                spec = column_spec(node)
                if spec is not None and spec.name == column:
                    return ast.unparse(spec.node)
        return None

    def table(self, table: str | None) -> str | None:
        for op in self._ops():
            if op.name == "create_table" and op.table == table:
                return ast.unparse(op.node)
        return None

    def index(self, name: str | None) -> str | None:
        for op in self._ops():
            if op.name == "create_index" and name_value(op.arg(0, "index_name")) == name:
                return ast.unparse(op.node)
        return None


# ------------------------------------------------------------------------------------------ inverses


def _column_name(op: OpCall) -> str | None:
    spec = column_spec(op.arg(1, "column"))
    return spec.name if spec else None


def _inverse_alter(state, op: OpCall) -> str | None:
    t, col = q(op.table), name_value(op.arg(1, "column_name"))
    new = name_value(op.kwargs.get("new_column_name"))
    if new:
        return f"op.alter_column({t}, {q(new)}, new_column_name={q(col)})"
    parts = []
    if "nullable" in op.kwargs:
        parts.append(f"nullable={not literal_value(op.kwargs['nullable'])}")
    if "type_" in op.kwargs:
        parts.append(f"type_={src(op.kwargs.get('existing_type')) or '<the old type>'}")
    if "server_default" in op.kwargs:
        parts.append(f"server_default={src(op.kwargs.get('existing_server_default')) or 'None'}")
    return f"op.alter_column({t}, {q(col)}, {', '.join(parts)})" if parts else None


def _inverse_drop_column(state, op: OpCall) -> str:
    col = name_value(op.arg(1, "column_name"))
    known = state.definitions.column(op.table, col) if state.definitions else None
    if known:
        return f"op.add_column({q(op.table)}, {known})  # as an earlier migration defined it"
    return (
        f"op.add_column({q(op.table)}, sa.Column({q(col)}, <its original type>, nullable=True))  "
        "# take the type from the migration that added it"
    )


def _inverse_drop_table(state, op: OpCall) -> str:
    known = state.definitions.table(op.table) if state.definitions else None
    if known:
        return known + "  # as an earlier migration created it"
    return f"op.create_table({q(op.table)}, ...)  # the columns as the migration that created {op.table} had them"


def _inverse_drop_index(state, op: OpCall) -> str:
    name = name_value(op.arg(0, "index_name"))
    known = state.definitions.index(name) if state.definitions else None
    return known or f"op.create_index({q(name)}, {q(op.table)}, [<its columns>])"


def _inverse_constraint(state, op: OpCall) -> str:
    name = q(name_value(op.arg(0, "constraint_name")))
    return f"op.drop_constraint({name}, {q(op.table)}, type_={CONSTRAINT_OPS[op.name]!r})"


INVERSES: dict[str, Callable[..., str | None]] = {
    "add_column": lambda state, op: f"op.drop_column({q(op.table)}, {q(_column_name(op))})",
    "create_table": lambda state, op: f"op.drop_table({q(op.table)})",
    "create_index": lambda state, op: (
        f"op.drop_index({q(name_value(op.arg(0, 'index_name')))}, table_name={q(op.table)})"
    ),
    **dict.fromkeys(CONSTRAINT_OPS, _inverse_constraint),
    "drop_column": _inverse_drop_column,
    "drop_table": _inverse_drop_table,
    "drop_index": _inverse_drop_index,
    "rename_table": lambda state, op: f"op.rename_table({q(name_value(op.arg(1, 'new_table_name')))}, {q(op.table)})",
    "alter_column": _inverse_alter,
}


def inverse(state, op: OpCall) -> str | None:
    make = INVERSES.get(op.name)
    return make(state, op) if make else None


# ------------------------------------------------------------------------------------------ undone by downgrade()


def _raw(state, keyword: str) -> bool:
    """A raw op.execute in downgrade whose SQL mentions ``keyword`` (benefit of the doubt)."""
    for d in state.down:
        if d.name == "execute":
            arg = state.exec_arg(d)
            if arg.kind != "literal" or (arg.sql and keyword in arg.sql.lower()):
                return True
    return False


def _down(state, name: str, **match: Any) -> bool:
    """downgrade() calls op.<name> with these literal names (keys: table, or an argument position)."""
    for d in state.down:
        if d.name != name:
            continue
        if "table" in match and d.table != match["table"]:
            continue
        if all(name_value(d.arg(position, key)) == value for (position, key), value in match.get("args", {}).items()):
            return True
    return False


def _dropped_tables(state) -> set:
    return {d.table for d in state.down if d.name == "drop_table"}


def _undone_add_column(state, op: OpCall) -> bool:
    col = _column_name(op)
    return (
        op.table in _dropped_tables(state)
        or _down(state, "drop_column", table=op.table, args={(1, "column_name"): col})
        or _raw(state, "drop")
    )


def _dropped_columns(state, table: str | None) -> set[str]:
    """Columns of ``table`` downgrade() drops: PostgreSQL drops the indexes and constraints using them too."""
    return {
        name_value(d.arg(1, "column_name")) or "" for d in state.down if d.name == "drop_column" and d.table == table
    }


def _undone_create_index(state, op: OpCall) -> bool:
    name = name_value(op.arg(0, "index_name"))
    return (
        op.table in _dropped_tables(state)
        or bool(set(list_of_str(op.arg(2, "columns"))) & _dropped_columns(state, op.table))
        or name is None
        or _down(state, "drop_index", args={(0, "index_name"): name})
        or _raw(state, "drop index")
    )


def _undone_constraint(state, op: OpCall) -> bool:
    name = name_value(op.arg(0, "constraint_name"))
    position = {
        "create_foreign_key": (3, "local_cols"),
        "create_unique_constraint": (2, "columns"),
        "create_primary_key": (2, "columns"),  # airflow 0093: the key goes with the column downgrade drops
    }.get(op.name)
    columns = set(list_of_str(op.arg(*position))) if position else set()
    return (
        op.table in _dropped_tables(state)
        or bool(columns & _dropped_columns(state, op.table))
        or name is None
        or _down(state, "drop_constraint", args={(0, "constraint_name"): name})
        or _dropped_by_convention(state, op.table, name)
        or _raw(state, "drop constraint")
    )


def _dropped_by_convention(state, table: str | None, name: str) -> bool:
    """downgrade() drops ``ck_<table>_<name>`` (or the like) on the same table: the name a naming convention
    with ``%(table_name)s`` and ``%(constraint_name)s`` gave the constraint (corpus: indico's
    ``create_check_constraint("valid_title", ...)`` is ``ck_contributions_valid_title``)."""
    if not table:
        return False
    for d in state.down:
        dropped = name_value(d.arg(0, "constraint_name")) if d.name == "drop_constraint" else None
        if d.table == table and dropped and dropped != name and dropped.endswith("_" + name) and table in dropped:
            return True
    return False


def _recreated_unnamed(state, op: OpCall, name: str) -> bool:
    """downgrade() re-creates an index on the same table with ``create_index(None, ...)`` over columns the
    dropped index's name spells: the naming convention gives it back the name (``ix_<table>_<column>``)."""
    for d in state.down:
        if d.name != "create_index" or d.table != op.table or name_value(d.arg(0, "index_name")) is not None:
            continue
        columns = list_of_str(d.arg(2, "columns"))
        if columns and op.table and op.table in name and all(column in name for column in columns):
            return True
    return False


def _undone_drop_column(state, op: OpCall) -> bool:
    col = name_value(op.arg(1, "column_name"))
    re_added = any(d.name == "add_column" and d.table == op.table and _column_name(d) == col for d in state.down)
    created = any(d.name == "create_table" and d.table == op.table for d in state.down)
    return re_added or created or _raw(state, "add")


def _undone_drop_index(state, op: OpCall) -> bool:
    name = name_value(op.arg(0, "index_name"))
    return (
        name is None
        or _down(state, "create_index", args={(0, "index_name"): name})
        or _recreated_unnamed(state, op, name)
        or _raw(state, "create")
    )


def _undone_alter_column(state, op: OpCall) -> bool:
    col = name_value(op.arg(1, "column_name"))
    new = name_value(op.kwargs.get("new_column_name"))
    altered = any(
        d.name == "alter_column" and d.table == op.table and name_value(d.arg(1, "column_name")) in (col, new)
        for d in state.down
    )
    return (
        op.table in _dropped_tables(state)
        or (op.table, col) in state.added_columns
        or altered
        or _raw(state, "alter")
        or _no_op_not_null(state, op)
    )


def _no_op_not_null(state, op: OpCall) -> bool:
    """alter_column(nullable=False) alone on a column the schema model shows NOT NULL already: it changes
    nothing, so there is nothing for downgrade() to undo."""
    changes = {k for k in op.kwargs if not k.startswith("existing_")}
    return (
        changes == {"nullable"}
        and literal_value(op.kwargs["nullable"]) is False
        and schema_facts.already_not_null(state, op)
    )


UNDONE_BY: dict[str, Callable[..., bool]] = {
    "add_column": _undone_add_column,
    "create_table": lambda state, op: op.table in _dropped_tables(state) or _raw(state, "drop table"),
    "create_index": _undone_create_index,
    **dict.fromkeys(CONSTRAINT_OPS, _undone_constraint),
    "drop_column": _undone_drop_column,
    "drop_table": lambda state, op: (
        any(d.name == "create_table" and d.table == op.table for d in state.down) or _raw(state, "create table")
    ),
    "drop_index": _undone_drop_index,
    "rename_table": lambda state, op: any(
        d.name == "rename_table" and d.table == name_value(op.arg(1, "new_table_name")) for d in state.down
    ),
    "alter_column": _undone_alter_column,
}


# ------------------------------------------------------------------------------------------ the checks


def _raise_message(node: ast.Raise) -> str:
    exc = node.exc
    if isinstance(exc, ast.Call) and exc.args:
        value = literal_value(exc.args[0])
        return value.strip() if isinstance(value, str) else src(exc.args[0])
    return ""


@on_file
def downgrade_checks(state) -> None:
    """Whether downgrade() undoes upgrade(): raises, is empty, misses inverses or loses filled data."""
    up_changes = [op for op in state.up if op.name not in READS_ONLY]
    if not up_changes and not has_statements(state.migration.functions.get("upgrade")):
        return
    if not up_changes and state.migration.ops_in("upgrade"):
        return  # every operation is in another dialect's branch
    if up_changes and all(_data_only(state, op) for op in up_changes) and not _raises_in_downgrade(state):
        return  # a backfill or setval(): nothing in the schema for downgrade() to undo
    down_func = state.migration.functions.get("downgrade")
    raises = _raises(down_func, _guard_writes(state, down_func))
    always = [node for node, guard in raises if guard is None]
    if always or (raises and not state.down):  # a guarded raise in a downgrade that undoes nothing
        _irreversible(state, always[0] if always else raises[0][0])
        return
    for node, guard in raises:
        if guard is not None:
            _guarded_raise(state, node, guard)
    if down_func is None or not has_statements(down_func):
        _empty(state, down_func, up_changes)
    else:
        _not_inverse(state, up_changes)
        _loses_data(state, down_func)


# Statements that change rows or sequences, never the schema: a downgrade that passes leaves no drift.
DATA_ONLY_KINDS = {"select", "update", "set_lock_timeout"}


def _data_only(state, op: OpCall) -> bool:
    """``op.execute`` of literal data statements (UPDATE backfills, ``SELECT setval(...)``) or an update()."""
    if op.name != "execute":
        return False
    arg = state.exec_arg(op)
    if arg.kind == "construct":
        return arg.construct == "update"
    if arg.kind == "interpolated":  # reported by raw-sql-interpolated; its written start says what it is
        return bool(DATA_STATEMENT_START.match(_leading_text(op.arg(0, "sqltext"))))
    return arg.kind == "literal" and bool(arg.statements) and all(_no_inverse(s) for s in arg.statements)


def _no_inverse(statement) -> bool:
    """Data statements, and ALTER TYPE ... ADD VALUE IF NOT EXISTS (re-runnable; PostgreSQL cannot drop
    an enum value, so a downgrade that leaves it is the norm)."""
    if statement.kind == "alter_type_add_value":
        return "if not exists" in statement.text.lower()
    if statement.kind == "alter_table":  # validating a NOT VALID constraint changes no schema
        return VALIDATE_ONLY.match(statement.text) is not None
    return statement.kind in DATA_ONLY_KINDS


VALIDATE_ONLY = re.compile(r'(?is)^\s*alter\s+table\s+[\w."]+\s+validate\s+constraint\s+[\w"]+\s*;?\s*$')
DATA_STATEMENT_START = re.compile(r"^\s*(update|select)\b", re.I)


def _leading_text(node: ast.expr | None) -> str:
    """The literal text a built SQL string starts with: f"UPDATE ... {x}", "UPDATE ..." + x, "...".format()."""
    while node is not None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            node = node.values[0] if node.values else None
        elif isinstance(node, ast.BinOp):
            node = node.left
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value if node.func.attr == "format" else (node.args[0] if node.args else None)
        else:
            return ""
    return ""


def _raises_in_downgrade(state) -> bool:
    down_func = state.migration.functions.get("downgrade")
    return down_func is not None and any(isinstance(n, ast.Raise) for n in walk(down_func))


def _raises(func: ast.FunctionDef | None, writes=lambda test: False) -> list[tuple[ast.Raise, ast.expr | None]]:
    """Each ``raise`` of downgrade() with the if-test guarding it (None: it runs whenever the line is reached).

    Raises in an ``except`` handler or a nested function are not the downgrade refusing. A test that reads
    nothing (a constant, ``op.get_bind()``) guards nothing; one that may write (``execute("DELETE ...")``) is not
    a guard but a statement: the raise is judged as if unguarded."""
    out: list[tuple[ast.Raise, ast.expr | None]] = []

    def visit(body: list[ast.stmt], guard: ast.expr | None) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Raise):
                out.append((stmt, guard))
            elif isinstance(stmt, ast.If):
                test = None if _guards_nothing(stmt.test) or writes(stmt.test) else stmt.test
                visit(stmt.body, guard or test)
                visit(stmt.orelse, guard or (test and ast.UnaryOp(op=ast.Not(), operand=test)))
            elif isinstance(stmt, ast.For | ast.While):
                visit(stmt.body, guard or (stmt.iter if isinstance(stmt, ast.For) else stmt.test))
                visit(stmt.orelse, guard)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                visit(stmt.body, guard)
            elif isinstance(stmt, ast.Try):
                visit(stmt.body + stmt.orelse + stmt.finalbody, guard)

    visit(func.body if func is not None else [], None)
    return out


def _guards_nothing(test: ast.expr) -> bool:
    """A test that does not depend on the database's rows or the mode: a constant expression (``True``,
    ``len("x")``), ``op.get_bind()``, the dialect's name (the same on every run against the target)."""
    if isinstance(test, ast.Constant) or dialect_guard(test) is not None:
        return True
    names = {n.id for n in walk(test) if isinstance(n, ast.Name)}
    return names <= {"op"} | PURE_BUILTINS and not _offline_guard(test)


def _guard_writes(state, func: ast.FunctionDef | None):
    """A predicate: the if-test calls something effects.Judge cannot show to only compute or read."""
    judge = Judge(state.sources or Sources(), migration_module(state.migration))
    local = local_names(func) if func is not None else set()

    def writes(test: ast.expr) -> bool:
        return any(isinstance(n, ast.Call) and judge.call(n, local) == UNKNOWN for n in walk(test))

    return writes


def _offline_guard(test: ast.expr) -> bool:
    """``if context.is_offline_mode():`` / ``if op.get_context().as_sql:``: true only for ``--sql``."""
    return isinstance(test, ast.Call | ast.Attribute) and src(test).endswith(("is_offline_mode()", ".as_sql"))


def _guarded_raise(state, node: ast.Raise, guard: ast.expr) -> None:
    """A downgrade that refuses only when a condition holds (offline mode, rows it cannot merge): the
    rollback works otherwise; said, not escalated. The rest of downgrade() is still judged."""
    message = _raise_message(node)
    offline = _offline_guard(guard)
    state.emit(
        IRREVERSIBLE_DOWNGRADE,
        None,
        f"downgrade() raises only when `{src(guard)[:100]}`"
        + (f": {message[:200]}" if message else "")
        + ("; it runs online (`alembic downgrade`), not with --sql." if offline else "; otherwise it runs."),
        "Check the condition before relying on the rollback; nothing to change if it is intended.",
        severity="info" if offline else "warning",
        line=node.lineno,
    )


def _irreversible(state, node: ast.Raise) -> None:
    """A raising downgrade is an irreversible revision by design: a human accepts it (never a comment)."""
    message = _raise_message(node)
    documented = bool(message) and bool(DOC_IRREVERSIBLE.search(state.migration.source))
    evidence = {"line": node.lineno, "message": message or None, "documented": documented}
    state.emit(
        IRREVERSIBLE_DOWNGRADE,
        None,
        "downgrade() raises"
        + (f": {message}" if message else "")
        + ("; the file documents why." if documented else "; the file does not say why."),
        _fix_irreversible(),
        severity="warning" if documented else "error",
        line=node.lineno,
        escalation=(
            "downgrade() raises: the revision cannot be rolled back"
            + (f' ("{message[:200]}").' if message else " and the file does not say why.")
            + " Only a human can accept an irreversible revision.",
            evidence,
        ),
    )
    state.hits[-1].span = (node.lineno, node.end_lineno or node.lineno)


def _empty(state, down_func: ast.FunctionDef | None, up_changes: list[OpCall]) -> None:
    line = down_func.lineno if down_func else 1
    inverses = [i for i in (inverse(state, op) for op in reversed(up_changes)) if i]
    state.emit(
        EMPTY_DOWNGRADE,
        None,
        "downgrade() "
        + ("is missing" if down_func is None else "does nothing")
        + " while upgrade() changes the schema.",
        _fix_inverses(inverses),
        line=line,
        escalation=("downgrade() is empty while upgrade() changes the schema.", {"line": line}),
    )


TRANSIENT_PAIRS = {  # a create and the drop that undoes it: (name argument, the other operation's names)
    **{create: ((0, "constraint_name"), ("drop_constraint",)) for create in CONSTRAINT_OPS},
    "drop_constraint": ((0, "constraint_name"), tuple(CONSTRAINT_OPS)),
    "create_index": ((0, "index_name"), ("drop_index",)),
    "drop_index": ((0, "index_name"), ("create_index",)),
}


def _transient(state, op: OpCall) -> bool:
    """An object upgrade() both creates and drops (the CHECK of the CHECK-based SET NOT NULL): nothing
    is left for downgrade() to undo, and dropping it there would fail."""
    if op.name not in TRANSIENT_PAIRS:
        return False
    position, partners = TRANSIENT_PAIRS[op.name]
    name = name_value(op.arg(*position))
    creating = not op.name.startswith("drop")
    return name is not None and any(
        other.name in partners
        and (other.line > op.line if creating else other.line < op.line)
        and name_value(other.arg(*position)) == name
        for other in state.up
    )


def _rebuild(state, op: OpCall) -> bool:
    """drop_index(if_exists=True) of an index upgrade() then creates under the same name: the cleanup of a
    leftover (the INVALID index of a failed concurrent build) before the build, not a drop to undo; the
    create's own inverse is the drop downgrade() needs."""
    if op.name != "drop_index" or not truthy(op.kwargs.get("if_exists")):
        return False
    name = name_value(op.arg(0, "index_name"))
    return name is not None and any(
        other.name == "create_index" and other.line > op.line and name_value(other.arg(0, "index_name")) == name
        for other in state.up
    )


def _not_inverse(state, up_changes: list[OpCall]) -> None:
    # downgrade() calls a helper the review does not read (``with _with_batch(t) as b: b.drop_column(...)``):
    # it may be what undoes the operation, so the review says it cannot tell instead of calling it missing
    helper = next((s for s in dynamic.statements(state) if s.function == "downgrade" and not s.read), None)
    for op in up_changes:
        if _transient(state, op) or _rebuild(state, op):
            continue
        undone = UNDONE_BY.get(op.name)
        missing = inverse(state, op)
        if missing is None or undone is None or undone(state, op):
            continue
        state.emit(
            DOWNGRADE_NOT_INVERSE,
            None,
            f"downgrade() does not undo upgrade's {op.name} at line {op.line}"
            + (
                f", unless {helper.unread_call}() (downgrade line {helper.line}), which the review does not read, does."
                if helper
                else "."
            ),
            DOWNGRADE_NOT_INVERSE.fix(missing),
            severity="warning" if helper else None,
            table=op.table,
            line=op.line,
        )
        state.hits[-1].span = (op.line, op.node.end_lineno or op.line)


COPIES = re.compile(r"\bselect\b", re.I)  # INSERT ... SELECT copies rows; INSERT ... VALUES writes constants


def _filled(state) -> tuple[set[str], set[tuple[str, str]]]:
    """Tables upgrade() filled with rows, and columns it filled by copying other data into them."""
    tables: set[str] = set()
    columns: set[tuple[str, str]] = set()
    for op in state.up:
        # constant rows (a seeded lookup table) come back with the next upgrade: not a loss
        if op.name == "bulk_insert" and op.table and literal_value(op.arg(1, "rows")) is None:
            tables.add(op.table)
        if op.name != "execute":
            continue
        arg = state.exec_arg(op)
        tables |= {s.table for s in arg.statements if s.kind == "insert" and s.table and COPIES.search(s.text)}
        columns |= {(s.table, c) for s in arg.statements if s.kind == "update" and s.table for c in s.copied_columns}
        if arg.kind == "construct" and arg.construct == "insert" and (op.table or arg.construct_table):
            tables.add(op.table or arg.construct_table)
    return tables, columns


def _loss_target(state, op: OpCall, tables: set[str], columns: set[tuple[str, str]]) -> str | None:
    created = {o.table for o in state.up if o.name == "create_table"}
    if op.name == "drop_table" and op.table in created and op.table in tables:
        return f"table {op.table}"
    if op.name == "drop_column":
        col = name_value(op.arg(1, "column_name"))
        if (op.table, col) in state.added_columns and (op.table, col) in columns:
            return f"column {op.table}.{col}"
    return None


DATA_LOSS_NOTE = re.compile(r"#\s*data loss:\s*(.+)", re.I)


def _named_losses(down_src: str) -> tuple[set[str], str | None]:
    """What ``# data loss: persons.nickname, table tags`` comments name (``table.column`` or ``table``),
    and the first such comment line."""
    named: set[str] = set()
    first = None
    for m in DATA_LOSS_NOTE.finditer(down_src):
        first = first or m.group(0).strip()
        named |= {word.lower() for word in re.findall(r"[A-Za-z_][\w.]*", m.group(1))}
    return named, first


def carried_columns(down: list[OpCall], exec_arg: Callable[[OpCall], ExecuteArg]) -> set[tuple[str, str]]:
    """Columns downgrade() drops only after an UPDATE of the same table, parsed from literal SQL, carried
    their values into a column it keeps (``SET name = r.name FROM r WHERE r.id = t.r_id`` before
    ``drop_column("t", "r_id")``): nothing is lost. Unparsed SQL, constructs and comments never count."""
    dropped_tables = {d.table for d in down if d.name == "drop_table"}
    carried: set[tuple[str, str]] = set()
    for op in down:
        table, column = op.table, name_value(op.arg(1, "column_name"))
        if op.name != "drop_column" or table is None or column is None or table in dropped_tables:
            continue
        if carrying_update(down, exec_arg, op) is not None:
            carried.add((table, column))
    return carried


def carrying_update(
    ops: list[OpCall], exec_arg: Callable[[OpCall], ExecuteArg], drop: OpCall
) -> tuple[int, list[str]] | None:
    """The line of the literal UPDATE before ``drop`` (a drop_column among ``ops``) that carries the dropped
    column's values into columns the function keeps, and those columns; None when there is none."""
    table, column = drop.table, name_value(drop.arg(1, "column_name"))
    dropped = {name_value(d.arg(1, "column_name")) for d in ops if d.name == "drop_column" and d.table == table}
    for update in ops:
        if update.name != "execute" or update.line >= drop.line or exec_arg(update).kind != "literal":
            continue
        for s in exec_arg(update).statements:
            kept = [c for c in s.set_columns if c not in dropped]
            if s.kind == "update" and s.table == table and column in s.carried and kept:
                return update.line, kept
    return None


def downgrade_carries(migration: MigrationSource, backend: str | None) -> set[tuple[str, str]]:
    """``carried_columns`` of a migration file's downgrade() on ``backend`` (for the rehearsal's report)."""
    down = [op for op in migration.ops_in("downgrade") if migration.runs_on(op.line, backend)]
    return carried_columns(down, lambda op: analyse_execute_arg(op.arg(0, "sqltext"), backend))


def _loses_data(state, down_func: ast.FunctionDef) -> None:
    """A loss is documented when a ``# data loss:`` comment names what the review computes is lost;
    only a human can accept it: the escalation stays either way. A column whose values downgrade()
    first carried into a kept column is not lost."""
    tables, columns = _filled(state)
    down_src = ast.get_source_segment(state.migration.source, down_func) or ""
    named, note = _named_losses(down_src)
    carried = carried_columns(state.down, state.exec_arg)
    for op in state.down:
        target = _loss_target(state, op, tables, columns)
        if target is None or (op.table, name_value(op.arg(1, "column_name"))) in carried:
            continue
        what = target.split(" ", 1)[1]
        documented = what.lower() in named
        evidence = {"line": op.line, "dropped": target, "documented": note, "documented_matches": documented}
        state.emit(
            DOWNGRADE_LOSES_DATA,
            op,
            f"downgrade() drops {target}, which upgrade() filled with data" + _loss_note(documented, note, what),
            _fix_loses_data(target),
            escalation=(
                f"downgrade() drops {target} which upgrade() filled"
                + (
                    "; the file's comment documents it, but only a human can accept the loss."
                    if documented
                    else ", without documenting the loss."
                ),
                evidence,
            ),
        )


def _loss_note(documented: bool, note: str | None, what: str) -> str:
    if documented:
        return "; the file documents the loss."
    if note:
        return f"; the file's comment ({note[:80]}) does not name it: write `# data loss: {what}`."
    return "; the loss is not documented."


def _line_of(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start : end if end != -1 else len(text)].strip()[:200]


PERSON_COLS = 'sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name="pk_tmp")'
COPIED = (
    'op.add_column("persons", sa.Column("display", sa.String(120), nullable=True))\n'
    'op.execute("UPDATE persons SET display = name WHERE id IN (SELECT id FROM persons LIMIT 100)")'
)

LOOKUP = (  # the skill's foreign-key example: a key filled by a lookup from the column it replaces
    'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))\n'
    'op.execute("UPDATE assignments SET rotation_id = r.id FROM rotations r WHERE r.name = assignments.rotation_name")'
)
REVERSE = (
    'op.execute("UPDATE assignments SET rotation_name = r.name FROM rotations r WHERE r.id = assignments.rotation_id")'
)
DROP_ID = 'op.drop_column("assignments", "rotation_id")'

CASES = cases(
    Case(
        "empty-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        "pass",
        severity="error",
        escalation="unclear-rollback",
        fix_contains=("op.drop_column('persons', 'nick')",),
    ),
    Case(
        "empty-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case(
        "empty-downgrade",
        "op.execute(\"SELECT setval('persons_id_seq', (SELECT max(id) FROM persons))\")\n"
        "op.execute(\"UPDATE persons SET role = 'resident' WHERE role IS NULL\")",
        "pass",
        triggers=False,
    ),
    Case(
        "downgrade-not-inverse",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
        'op.create_index("ix_persons_name", "persons", ["name"])',
        'op.drop_column("persons", "nick")\nop.execute("SELECT 1")',
        severity="error",
        fix_contains=("op.drop_index('ix_persons_name', table_name='persons')",),
    ),
    Case(  # agent run 2: a leftover dropped before the build is a rebuild, not a drop for downgrade() to undo
        "downgrade-not-inverse",
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index('ix_persons_name', table_name='persons', postgresql_concurrently=True, if_exists=True)\n"
        "    op.create_index('ix_persons_name', 'persons', ['name'], postgresql_concurrently=True)",
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index('ix_persons_name', table_name='persons', postgresql_concurrently=True, if_exists=True)",
        triggers=False,
    ),
    Case(  # without if_exists the drop replaces an index that existed: downgrade() must put it back
        "downgrade-not-inverse",
        'op.drop_index("ix_persons_name", table_name="persons")\n'
        'op.create_index("ix_persons_name", "persons", ["name", "email"])',
        'op.drop_index("ix_persons_name", table_name="persons")',
        severity="error",
    ),
    Case(  # dropping the column drops the index on it: nothing is left behind
        "downgrade-not-inverse",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
        'op.create_index("ix_persons_nick", "persons", ["nick"])',
        'op.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case(
        "downgrade-not-inverse",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
        'op.create_index("ix_persons_nick", "persons", ["nick"])',
        'op.drop_index("ix_persons_nick", table_name="persons")\nop.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case(
        "irreversible-downgrade",
        'op.drop_column("persons", "pgy_level")',
        "raise NotImplementedError()",
        severity="error",
        escalation="unclear-rollback",
    ),
    Case(
        "irreversible-downgrade",
        'op.drop_column("persons", "pgy_level")',
        'op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
        triggers=False,
    ),
    Case(
        "irreversible-downgrade",
        'op.drop_column("persons", "pgy_level")',
        'raise NotImplementedError("irreversible: pgy_level values are gone")',
        severity="warning",
        escalation="unclear-rollback",
        message_contains=("pgy_level values are gone",),
    ),
    Case(  # hostile review H4: the agent writes the message, so a message never clears the escalation
        "irreversible-downgrade",
        'op.execute("UPDATE persons SET pgy_level = NULL")',
        'raise NotImplementedError("irreversible: data loss approved by DBA, backup taken")',
        escalation="unclear-rollback",
    ),
    Case(
        "irreversible-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.Text()))',
        'raise NotImplementedError("irreversible: approved")',
        escalation="unclear-rollback",
    ),
    Case(  # corpus: mlflow 1b5f0d9ad7c1: the batch comes from the file's own helper, which the review does not read
        "downgrade-not-inverse",
        'op.add_column("persons", sa.Column("nick", sa.Text()))',
        'with _with_batch("persons") as batch_op:\n    batch_op.drop_column("nick")',
        header="def _with_batch(table):\n    return op.batch_alter_table(table)\n\n\n",
        severity="warning",
        message_contains=("unless _with_batch()",),
    ),
    Case(
        "downgrade-not-inverse",
        'op.add_column("persons", sa.Column("uid", sa.Integer(), nullable=True))\n'
        'op.create_primary_key("pk_persons_uid", "persons", ["uid"])',
        'op.drop_column("persons", "uid")',
        triggers=False,
    ),
    # Names a naming convention gives (corpus: indico 79e770865675, 27c45c384d65)
    Case(
        "downgrade-not-inverse",
        'op.create_check_constraint("valid_name", "persons", "name != \'\'")',
        'op.drop_constraint("ck_persons_valid_name", "persons")',
        triggers=False,
    ),
    Case(
        "downgrade-not-inverse",
        'op.create_check_constraint("valid_name", "persons", "name != \'\'")',
        'op.drop_constraint("ck_assignments_valid_name", "assignments")',
        table="persons",
    ),
    Case(
        "downgrade-not-inverse",
        'op.drop_index("ix_persons_email", table_name="persons")',
        'op.create_index(None, "persons", ["email"], unique=True)',
        triggers=False,
    ),
    Case(
        "downgrade-not-inverse",
        'op.drop_index("ix_persons_email", table_name="persons")',
        'op.create_index(None, "persons", ["name"])',
        table="persons",
    ),
    # A raise that guards the rollback is not an irreversible downgrade (corpus: indico 933665578547, mlflow
    # 1b5f0d9ad7c1); one that always fires is, however it is dressed.
    Case(
        "irreversible-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.Text()))',
        "if context.is_offline_mode():\n    raise Exception('This downgrade is only possible in online mode')\n"
        'op.drop_column("persons", "nick")',
        header="from alembic import context\n",
        severity="info",
        escalation=None,
    ),
    Case(
        "irreversible-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.Text()))',
        "n = op.get_bind().execute(sa.text('SELECT count(*) FROM persons WHERE nick IS NOT NULL')).scalar()\n"
        "if n:\n    raise RuntimeError('Downgrade aborted: nicks would be lost')\n"
        'op.drop_column("persons", "nick")',
        severity="warning",
        escalation=None,
        message_contains=("raises only when `n`",),
    ),
    Case(
        "irreversible-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.Text()))',
        'if op.get_bind():\n    raise NotImplementedError(\'no way back\')\nop.drop_column("persons", "nick")',
        severity="error",
        escalation="unclear-rollback",
    ),
    Case(
        "irreversible-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.Text()))',
        'if True:\n    raise NotImplementedError(\'no way back\')\nop.drop_column("persons", "nick")',
        escalation="unclear-rollback",
    ),
    Case(  # the guard is the only statement: nothing is undone when it does not fire
        "irreversible-downgrade",
        'op.add_column("persons", sa.Column("nick", sa.Text()))',
        "if context.is_offline_mode():\n    raise Exception('online only')",
        header="from alembic import context\n",
        escalation="unclear-rollback",
    ),
    Case(
        "downgrade-loses-data",
        f'op.create_table("tags", {PERSON_COLS})\nop.execute("INSERT INTO tags (id) SELECT id FROM persons")',
        'op.drop_table("tags")',
        severity="warning",
        escalation="unclear-rollback",
    ),
    Case(  # constant seed rows come back with the next upgrade
        "downgrade-loses-data",
        f't = op.create_table("tags", {PERSON_COLS})\nop.bulk_insert(t, [{{"id": 1}}])',
        'op.drop_table("tags")',
        triggers=False,
    ),
    Case("downgrade-loses-data", f'op.create_table("tags", {PERSON_COLS})', 'op.drop_table("tags")', triggers=False),
    Case("downgrade-loses-data", COPIED, 'op.drop_column("persons", "display")', escalation="unclear-rollback"),
    Case(
        "downgrade-loses-data",
        COPIED,
        '# data loss: persons.display\nop.drop_column("persons", "display")',
        severity="warning",
        escalation="unclear-rollback",
        message_contains=("documents the loss",),
    ),
    Case(
        "downgrade-loses-data",
        COPIED,
        '# data loss: none intended\nop.drop_column("persons", "display")',
        escalation="unclear-rollback",
        message_contains=("does not name it", "# data loss: persons.display"),
    ),
    Case(  # the reverse lookup rebuilds the kept column from the dropped one first: nothing is lost
        "downgrade-loses-data",
        LOOKUP,
        f"{REVERSE}\n{DROP_ID}",
        triggers=False,
    ),
    Case("downgrade-loses-data", LOOKUP, f"{REVERSE}\n{DROP_ID}", triggers=False, backend="sqlite"),
    Case(  # the same carry through an alias and a further condition
        "downgrade-loses-data",
        LOOKUP,
        'op.execute("UPDATE assignments AS a SET rotation_name = r.name FROM rotations r '
        f'WHERE r.id = a.rotation_id AND a.id > 0")\n{DROP_ID}',
        triggers=False,
    ),
    Case("downgrade-loses-data", LOOKUP, f"{DROP_ID}\n{REVERSE}", escalation="unclear-rollback"),  # after the drop
    Case(  # only in a comment: not read
        "downgrade-loses-data",
        LOOKUP,
        f"# {REVERSE}\n{DROP_ID}",
        escalation="unclear-rollback",
    ),
    Case(  # the join is not a condition every row meets (OR): nothing says the values are carried
        "downgrade-loses-data",
        LOOKUP,
        'op.execute("UPDATE assignments SET rotation_name = r.name FROM rotations r '
        f'WHERE r.id = assignments.rotation_id OR r.id = 1")\n{DROP_ID}',
        escalation="unclear-rollback",
    ),
    Case(  # the kept column is dropped too
        "downgrade-loses-data",
        LOOKUP,
        f'{REVERSE}\nop.drop_column("assignments", "rotation_name")\n{DROP_ID}',
        escalation="unclear-rollback",
    ),
    Case(  # SQL built at run time is not parsed: no credit
        "downgrade-loses-data",
        LOOKUP,
        'sql = "UPDATE assignments SET rotation_name = r.name FROM rotations r WHERE r.id = "\n'
        'sql += "assignments.rotation_id"\n'
        f"op.execute(sql)\n{DROP_ID}",
        escalation="unclear-rollback",
    ),
)
