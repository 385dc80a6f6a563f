"""Raw SQL rules (``op.execute``, and ``execute`` on a connection): unbatched backfills, SQL built by
interpolation, SQL the reviewer cannot read, and the catalogue's DDL rules for statements written as text.

Each literal statement is dispatched by its kind (tools/review/sql.py) through ``STATEMENT_RULES``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from alembic_mcp.tools.history.migration_ast import OpCall
from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review import reads
from alembic_mcp.tools.review.rules import columns, constraints, indexes, insert_select, tables, types
from alembic_mcp.tools.review.rules.astutil import callee, in_loop, name_value, src, text_call
from alembic_mcp.tools.review.rules.effects import (
    bound_once,
    local_names,
    migration_module,
    resolver,
    statement_reads,
)
from alembic_mcp.tools.review.rules.facts import BackfillRowsFact, NonNullFact, RowsFact
from alembic_mcp.tools.review.rules.insert_select import source_of
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, on_op, rule
from alembic_mcp.tools.review.sql import SqlStatement, folded_literal, is_interpolated


def _fix_backfill(verb: str, table: str | None) -> str:
    return (
        "# move the data change out of the DDL transaction and batch it:\n"
        "with op.get_context().autocommit_block():\n"
        "    bind = op.get_bind()\n"
        "    while bind.execute(sa.text(\n"
        f'        "{verb} ... WHERE id IN (SELECT id FROM {table or "<table>"} WHERE <not done yet> LIMIT 10000)"\n'
        "    )).rowcount:\n"
        "        pass"
    )


def _fix_interpolated() -> str:
    return (
        'op.execute(sa.text("UPDATE t SET col = :value WHERE id = :id").bindparams(value=value, id=id))  '
        "# identifiers: sa.table()/sa.column() constructs"
    )


def _fix_uninspectable() -> str:
    return (
        'Pass the SQL as a literal: op.execute(sa.text("...").bindparams(...)), or ask a human to review the '
        "rendered SQL (review_migration include_sql=true)."
    )


UNBATCHED_BACKFILL = rule(
    "unbatched-backfill",
    "warning",
    "UPDATE/DELETE over a whole table inside the DDL transaction",
    "Every touched row stays locked until the migration commits, the WAL grows with the table and replicas "
    "lag; on a big table this is an outage.",
    _fix_backfill,
    escalations=("large-data-migration",),
)
RAW_SQL_INTERPOLATED = rule(
    "raw-sql-interpolated",
    "error",
    "SQL built with f-string, %, + or .format",
    "Values pasted into SQL text are an injection path and hard-code data into the migration; quoting breaks "
    "on the first apostrophe. SQL built at run time cannot be reviewed either.",
    _fix_interpolated,
    escalations=("uninspectable-sql",),
    anchors="SM execute",
)
RAW_SQL_UNINSPECTABLE = rule(
    "raw-sql-uninspectable",
    "error",
    "op.execute of something that is not SQL text, or SQL that cannot be parsed",
    "SQL that cannot be read cannot be checked for locks, data loss or injection.",
    _fix_uninspectable,
    escalations=("uninspectable-sql",),
    anchors="SM execute",
)

EXECUTORS = ("execute", "exec_driver_sql")


def _uninspectable(state, op: OpCall, detail: str, what: str = "op.execute") -> None:
    state.emit(
        RAW_SQL_UNINSPECTABLE,
        op,
        f"{what} runs {detail}: the reviewer cannot see what it does.",
        _fix_uninspectable(),
        escalation=(
            f"{what} at line {op.line} runs SQL the reviewer cannot inspect ({detail}); a human must read it.",
            {"line": op.line, "detail": detail},
        ),
    )


@on_op("execute")
def execute(state, op: OpCall) -> None:
    _lint_execute(state, op, "op.execute")


def _lint_execute(state, op: OpCall, what: str) -> None:
    arg = state.exec_arg(op)
    if arg.kind == "interpolated":
        held = state.statement_of(op)
        if held is not op.arg(0, "sqltext") and not text_call(held):  # built in a variable: not seen there
            _uninspectable(state, op, f"SQL built with {arg.detail} in `{src(op.arg(0, 'sqltext'))[:40]}`", what)
        return  # otherwise reported by interpolated_sql()
    if arg.kind == "uninspectable":
        if not _reads_only(state, op):
            _uninspectable(state, op, arg.detail, what)
        return
    if arg.kind == "construct":
        source = source_of(state.statement_of(op))
        if source is not None and not insert_select.reads_only(state, op, source, arg.construct_table):
            _uninspectable(state, op, "an INSERT ... SELECT whose SELECT is not proven to only read", what)
            return
        if (code := _construct_code(state.statement_of(op))) is not None:
            _uninspectable(state, op, f"a {arg.construct}() construct with {code}", what)
            return
        func = state.migration.functions.get(op.function)
        if arg.construct in ("update", "delete") and not op.in_autocommit and not in_loop(func, op.line):
            backfill(state, op, arg.construct.upper(), op.table or arg.construct_table, src(op.node.args[0]))
        if arg.construct in ("update", "delete") and not arg.construct_where:
            _unrestricted_construct(state, op, arg.construct, _table_name(state, arg.construct_table))
        return
    created = {o.table for o in state.up if o.name == "create_table" and o.line < op.line}
    for statement in arg.statements:
        handler = STATEMENT_RULES.get(statement.kind)
        if handler is not None:
            handler(state, op, statement, created)


RAW_FRAGMENTS = ("text", "literal_column")


def _construct_code(node: ast.expr | None) -> str | None:
    """What in an update/insert/delete construct the database may run as code: a SQL function not known to be
    pure (``sa.func.purge()``), or raw SQL (``text()``, ``literal_column()``); None when there is none."""
    if node is None:
        return None
    parents = {id(child): parent for parent in walk(node) for child in ast.iter_child_nodes(parent)}
    for sub in walk(node):
        if isinstance(sub, ast.Call) and callee(sub) in RAW_FRAGMENTS:
            return f"raw SQL ({callee(sub)}())"
        if (isinstance(sub, ast.Attribute) and sub.attr == "func") or (isinstance(sub, ast.Name) and sub.id == "func"):
            parent = parents.get(id(sub))
            called = isinstance(parent, ast.Attribute) and parent.attr.lower() in reads.READ_FUNCTIONS
            if not (called and isinstance(parents.get(id(parent)), ast.Call)):
                name = parent.attr if isinstance(parent, ast.Attribute) else "func"
                return f"the SQL function {name}() (it may write)"
    return None


def _reads_only(state, op: OpCall) -> bool:
    """A ``select(...)`` construct proven to only read (effects.statement_reads: known builders, pure
    functions, no DML CTE, no raw SQL, no row locks)."""
    func = state.migration.functions.get(op.function)
    values = bound_once(func) if func is not None and not state.tampered else {}
    local = local_names(func) if func is not None else set()
    module = migration_module(state.migration)
    return statement_reads(state.statement_of(op), resolver(module, values, local))


def backfill(state, op: OpCall, verb: str, table: str | None, text: str) -> None:
    state.emit(
        UNBATCHED_BACKFILL,
        op,
        f"{verb} over {table or 'a table'} runs in one statement inside the DDL transaction.",
        _fix_backfill(verb, table),
        table=table,
        fact=BackfillRowsFact(table),
        sql=text[:300],
    )


def _created_here(state, op: OpCall, table: str | None) -> bool:
    return any(o.name == "create_table" and o.table == table and o.line < op.line for o in state.up)


def _table_name(state, variable: str | None) -> str | None:
    """The table a construct's variable names (``persons = sa.table("persons", ...)``), else the variable."""
    for node in walk(state.migration.tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and node.value.args):
            continue
        named = [t.id for t in node.targets if isinstance(t, ast.Name)]
        first = node.value.args[0]
        if variable in named and callee(node.value) in ("table", "Table") and isinstance(first, ast.Constant):
            return str(first.value)
    return variable


def _values_columns(node: ast.expr) -> list[str] | None:
    """The columns ``.values(col=...)`` / ``.values({"col": ...})`` sets; None when they cannot be read."""
    for sub in walk(node):
        if isinstance(sub, ast.Call) and callee(sub) == "values":
            names: list[str | None] = [k.arg for k in sub.keywords]
            for arg in sub.args:
                if not isinstance(arg, ast.Dict):
                    return None
                names += [str(k.value) if isinstance(k, ast.Constant) else None for k in arg.keys]
            return None if None in names or not names else [str(n) for n in names]
    return None


def _unrestricted_construct(state, op: OpCall, verb: str, table: str | None) -> None:
    """``sa.delete(t)`` / ``t.update().values(...)`` without ``.where()``: every row."""
    if _created_here(state, op, table):
        return
    if verb == "delete":
        columns.destroys_data(state, op, table, None, f"delete() without .where() empties {table}")
        return
    names: list[str | None] = [*(_values_columns(op.node.args[0]) or [])] or [None]
    overwritten = [c for c in names if c is None or (table, c) not in state.added_columns]
    if overwritten:
        how = f"update() without .where() overwrites {table}{'.' + overwritten[0] if overwritten[0] else ''}"
        columns.destroys_data(state, op, table, overwritten[0], how + " in every row")


def _data_change(state, op: OpCall, s: SqlStatement, created: set) -> None:
    func = state.migration.functions.get(op.function)
    if s.table not in created and not s.batched and not op.in_autocommit and not in_loop(func, op.line):
        backfill(state, op, s.kind.upper(), s.table, s.text)
    if s.where or s.table in created:
        return
    if s.kind == "delete":
        columns.destroys_data(state, op, s.table, None, f"DELETE without WHERE empties {s.table}")
        return
    kept = set(s.fills_nulls) | set(s.negated)  # COALESCE(col, ...) fills NULLs; NOT col flips: values kept
    overwritten = [c for c in s.set_columns if (s.table, c) not in state.added_columns and c not in kept]
    if overwritten:
        how = f"UPDATE without WHERE overwrites {s.table}.{overwritten[0]} in every row"
        columns.destroys_data(state, op, s.table, overwritten[0], how)


def _hidden(state, op: OpCall, s: SqlStatement, created: set) -> None:
    _uninspectable(state, op, s.detail)


def _drop_cascade(state, op: OpCall, s: SqlStatement, created: set) -> None:
    """DROP SCHEMA / DROP OWNED / DROP ... CASCADE: drops tables and columns nobody named."""
    state.emit(
        tables.DROP_TABLE,
        op,
        f"`{s.detail}` drops every object that depends on it (tables, columns, views), unnamed.",
        "Drop the objects one by one (op.drop_table / op.drop_column), without CASCADE, so each is reviewed.",
        escalation=(
            f"`{s.detail}` drops objects the migration does not name; they are assumed to hold data.",
            {"statement": s.detail, "rows": None},
        ),
    )


def _create_index(state, op: OpCall, s: SqlStatement, created: set) -> None:
    if s.concurrently and not op.in_autocommit:
        state.emit(
            indexes.CONCURRENT_IN_TRANSACTION,
            op,
            f"CREATE INDEX CONCURRENTLY on {s.table} runs inside Alembic's transaction.",
            indexes._fix_autocommit(f"op.execute({s.text!r})"),
            why="PostgreSQL refuses CONCURRENTLY in a transaction block: the deploy fails here.",
            table=s.table,
        )
    elif s.concurrently and RAW_IF_NOT_EXISTS.search(s.text) and not _leftover_dropped(state, op, s.text):
        state.emit(
            indexes.CONCURRENT_IF_NOT_EXISTS,
            op,
            f"Raw CREATE INDEX CONCURRENTLY IF NOT EXISTS on {s.table}: after a failed build a re-run keeps the "
            "INVALID leftover and the revision passes.",
            _raw_concurrent_build(s.text),
            table=s.table,
        )
    elif not s.concurrently and s.table not in created:
        state.emit(
            indexes.CREATE_INDEX_NON_CONCURRENT,
            op,
            f"Raw CREATE INDEX on existing table {s.table} without CONCURRENTLY.",
            _raw_concurrent_build(s.text),
            why="CREATE INDEX holds a SHARE lock for the whole build: writes wait until it finishes.",
            table=s.table,
        )


RAW_INDEX_NAME = re.compile(
    r"(?i)^\s*create\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?(?!on\b)([\w\"]+)"
)
RAW_IF_NOT_EXISTS = re.compile(r"(?i)\bif\s+not\s+exists\b")


def _leftover_dropped(state, op: OpCall, statement: str) -> bool:
    """An earlier operation of upgrade() drops the index this raw statement creates (by op or raw SQL)."""
    named = RAW_INDEX_NAME.match(statement)
    if named is None:
        return False
    name = named.group(1).strip('"')
    raw_drop = re.compile(rf"(?i)drop\s+index\s+(concurrently\s+)?(if\s+exists\s+)?\"?{re.escape(name)}\b")
    return any(
        other.line < op.line
        and (
            (other.name == "drop_index" and name_value(other.arg(0, "index_name")) == name)
            or (other.name == "execute" and raw_drop.search(src(other.node)) is not None)
        )
        for other in state.up
    )


def _raw_concurrent_build(statement: str) -> str:
    """The raw CREATE INDEX built concurrently after dropping a leftover of an earlier failed build (an
    INVALID index IF NOT EXISTS would keep), under a session lock_timeout reset after it."""
    concurrent = re.sub(
        r"(?i)index\s+(concurrently\s+)?(if\s+not\s+exists\s+)?", "INDEX CONCURRENTLY ", statement, count=1
    )
    named = RAW_INDEX_NAME.match(statement)
    drop = [f"op.execute({f'DROP INDEX CONCURRENTLY IF EXISTS {named.group(1)}'!r})"] if named else []
    build = [*drop, f"op.execute({concurrent!r})"]
    lines = ["op.execute(\"SET lock_timeout = '5s'\")", *build, 'op.execute("RESET lock_timeout")']
    return "with op.get_context().autocommit_block():\n" + "\n".join("    " + line for line in lines)


def _drop_index(state, op: OpCall, s: SqlStatement, created: set) -> None:
    if not s.concurrently:
        concurrent = re.sub(r"(?i)index\s+", "INDEX CONCURRENTLY IF EXISTS ", s.text, count=1)
        state.emit(
            indexes.DROP_INDEX_NON_CONCURRENT,
            op,
            "Raw DROP INDEX without CONCURRENTLY.",
            indexes._fix_autocommit(f"op.execute({concurrent!r})"),
            why="DROP INDEX takes ACCESS EXCLUSIVE on the table.",
        )
    elif not op.in_autocommit:
        state.emit(
            indexes.CONCURRENT_IN_TRANSACTION,
            op,
            "DROP INDEX CONCURRENTLY runs inside Alembic's transaction.",
            indexes._fix_autocommit(f"op.execute({s.text!r})"),
            why="PostgreSQL refuses CONCURRENTLY in a transaction block.",
        )


def _add_constraint(state, op: OpCall, s: SqlStatement, created: set) -> None:
    if s.table in created:
        return
    if s.constraint in ("foreign_key", "check") and not s.not_valid:
        state.emit(
            constraints.FK_NOT_VALID_MISSING,
            op,
            f"Raw ALTER TABLE {s.table} ADD CONSTRAINT ({s.constraint}) without NOT VALID.",
            _fix_raw_not_valid(s),
            why="The constraint is validated while added: a full scan under a write-blocking lock; fails on "
            "violating rows.",
            table=s.table,
            fact=RowsFact(s.table),
        )
    elif s.constraint == "unique" and "using index" not in s.text.lower():
        constraints.unique_hit(state, op, s.table, [], "ALTER TABLE ... ADD CONSTRAINT ... UNIQUE")


def _fix_raw_not_valid(s: SqlStatement) -> str:
    fix = f"op.execute({(s.text.rstrip(';') + ' NOT VALID')!r})"
    name = re.search(r"(?i)add\s+constraint\s+\"?(\w+)", s.text)
    if name is None:
        return fix + f"\n# then, in a new revision after this one: ALTER TABLE {s.table} VALIDATE CONSTRAINT <its name>"
    return fix + "\n" + constraints.validate_later(s.table, name.group(1))


def _enum(state, op: OpCall, s: SqlStatement, created: set) -> None:
    add = s.kind == "alter_type_add_value"
    if add and op.in_autocommit:
        state.clear(types.ENUM_CHANGE.id, None)
        return
    state.emit(
        types.ENUM_CHANGE,
        op,
        f"Enum type {s.table} is changed ({'ADD VALUE' if add else 'RENAME VALUE'})"
        + ("" if op.in_autocommit else " inside the migration's transaction")
        + ".",
        types._fix_enum(s.text, rename=not add),
        why="A value added in a transaction cannot be used until it commits (and before PostgreSQL 12 ADD VALUE "
        "cannot run in one); a renamed value breaks application code still sending the old one.",
        table=s.table,
    )


def _drop_table(state, op: OpCall, s: SqlStatement, created: set) -> None:
    if re.search(r"(?i)\bcascade\b", s.text):  # also drops what depends on the table: escalates even if empty
        _drop_cascade(state, op, SqlStatement(s.text, "drop_cascade", detail=" ".join(s.text.split())[:80]), created)
    elif s.table not in created:
        tables.drop_table_hit(state, op, s.table, "truncated" if s.kind == "truncate" else "dropped")


def _drop_column(state, op: OpCall, s: SqlStatement, created: set) -> None:
    if s.table in created:
        return
    state.emit(
        columns.DROP_COLUMN,
        op,
        f"Column {s.table}.{s.column} is dropped (raw SQL).",
        columns._fix_drop_column(s.table, s.column),
        table=s.table,
        column=s.column,
        fact=NonNullFact(s.table, s.column),
        escalation=(
            f"{s.table}.{s.column} is dropped; the database was not checked, so it is assumed to hold data.",
            {"table": s.table, "column": s.column, "non_null_values": None},
        ),
    )


RAW_ADD_COLUMN = re.compile(
    r"(?is)\badd\s+(?:column\s+)?(?:if\s+not\s+exists\s+)?\"?(\w+)\"?\s+(.*?)\s+default\s+(.+)$"
)


RAW_TYPE_USING = re.compile(r'(?is)\balter\s+(?:column\s+)?"?(\w+)"?\s+(?:set\s+data\s+)?type\s+.*?\busing\s+(.+)$')


def _alter_table(state, op: OpCall, s: SqlStatement, created: set) -> None:
    """ALTER TABLE ... ADD COLUMN ... DEFAULT <volatile>: the same rewrite as add_column's; ALTER COLUMN ...
    TYPE ... USING <not the column>: the values are replaced."""
    using = RAW_TYPE_USING.search(s.text.rstrip(";"))
    if using and s.table not in created and columns.discards_values(using.group(2), using.group(1)):
        how = f"ALTER COLUMN {using.group(1)} TYPE ... USING {using.group(2).strip()[:60]}"
        columns.destroys_data(state, op, s.table, using.group(1), how)
    m = RAW_ADD_COLUMN.search(s.text.rstrip(";"))
    if s.table in created or m is None or not columns.VOLATILE.search(m.group(3)):
        return
    column, type_sql = m.group(1), re.sub(r"(?i)\bnot\s+null\b", "", m.group(2)).strip()
    default = re.sub(r"(?i)\s+not\s+null\s*$", "", m.group(3)).strip()
    state.emit(
        columns.VOLATILE_DEFAULT,
        op,
        f"Column {s.table}.{column} is added with the volatile default {default} (raw SQL).",
        columns._fix_volatile(s.table, column, f"sa.text({type_sql!r})", default, "not null" in s.text.lower()),
        table=s.table,
        column=column,
    )


STATEMENT_RULES: dict[str, Callable] = {
    "alter_table": _alter_table,
    "update": _data_change,
    "delete": _data_change,
    "create_index": _create_index,
    "drop_index": _drop_index,
    "add_constraint": _add_constraint,
    "alter_type_add_value": _enum,
    "alter_type_rename_value": _enum,
    "drop_table": _drop_table,
    "truncate": _drop_table,
    "drop_column": _drop_column,
    "dynamic": _hidden,
    "drop_cascade": _drop_cascade,
}


def _calls(state, functions: tuple[str, ...]):
    for name in functions:
        func = state.migration.functions.get(name)
        if func is not None:
            yield from (n for n in walk(func) if isinstance(n, ast.Call) and state.runs(n.lineno))


def _is_op_call(state, node: ast.Call) -> bool:
    return any(op.node is node for op in state.migration.ops)


@on_file
def connection_executes(state) -> None:
    """``execute`` on a connection (``op.get_bind().execute(...)``, ``conn.exec_driver_sql(...)``): the
    same SQL rules as op.execute, in upgrade()."""
    for node in _calls(state, ("upgrade",)):
        if callee(node) not in EXECUTORS or not isinstance(node.func, ast.Attribute) or _is_op_call(state, node):
            continue
        pseudo = OpCall(name="execute", function="upgrade", line=node.lineno, node=node)
        _lint_execute(state, pseudo, f"{src(node.func)[:60]}()")


@on_file
def interpolated_sql(state) -> None:
    for node in _calls(state, ("upgrade", "downgrade")):
        if not node.args or callee(node) not in ("execute", "text", "exec_driver_sql"):
            continue
        if callee(node) != "text" and text_call(node.args[0]):
            continue  # reported on the text() call
        how = is_interpolated(node.args[0])
        if how and folded_literal(node.args[0]) is None and state.expanded(node.args[0]) is None:
            _interpolated(state, node, how)


def _interpolated(state, node: ast.Call, how: str) -> None:
    built = src(node.args[0])[:100]
    state.emit(
        RAW_SQL_INTERPOLATED,
        None,
        f"SQL at line {node.lineno} is built with {how}: `{built}`.",
        _fix_interpolated(),
        line=node.lineno,
        escalation=(
            f"SQL at line {node.lineno} is built at run time ({how}); the reviewer cannot read what it runs.",
            {"line": node.lineno, "how": how, "code": built},
        ),
    )
    state.hits[-1].span = (node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno)


MAPPED = (
    "from sqlalchemy import Column, Integer, and_, func, insert, select\n"
    "from sqlalchemy.orm import Session, column_property, declarative_base\n\nBase = declarative_base()\n\n\n"
    "class Person(Base):\n    __tablename__ = 'persons'\n    id = Column(Integer, primary_key=True)\n"
    "    role = Column(Integer)\n\n\n"
    "class Rotation(Base):\n    __tablename__ = 'rotations'\n    id = Column(Integer, primary_key=True)\n"
    "    person_id = Column(Integer)\n\n\n"
)

CASES = cases(
    Case(
        "unbatched-backfill",
        "op.execute(\"UPDATE persons SET role = 'resident' WHERE role IS NULL\")",
        severity="warning",
        table="persons",
    ),
    Case(
        "unbatched-backfill",
        "op.execute(\"UPDATE persons SET role = 'resident' WHERE id IN "
        '(SELECT id FROM persons WHERE role IS NULL LIMIT 1000)")',
        triggers=False,
    ),
    Case(
        "unbatched-backfill",
        "for start in range(0, 100000, 1000):\n"
        "    op.execute(sa.text(\"UPDATE persons SET role = 'r' WHERE role IS NULL\"))",
        triggers=False,
    ),
    Case(
        "unbatched-backfill",
        'persons = sa.table("persons", sa.column("role"))\nop.execute(persons.update().values(role="resident"))',
        table="persons",
    ),
    Case(
        "raw-sql-interpolated",
        "role = pick_role()\nop.execute(f\"UPDATE persons SET role = '{role}' WHERE id IN "
        '(SELECT id FROM persons LIMIT 10)")',
        severity="error",
        line=10,
        fix_contains=("bindparams",),
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-interpolated",
        'ROLE = "resident"\nop.execute(sa.text("UPDATE persons SET role = :role WHERE id IN '
        '(SELECT id FROM persons LIMIT 10)").bindparams(role=ROLE))',
        triggers=False,
    ),
    Case("raw-sql-interpolated", 'op.execute("DR" + "OP TABLE rotations")', triggers=False),
    Case(
        "raw-sql-uninspectable",
        "op.execute(build_statement())",
        severity="error",
        escalation="uninspectable-sql",
    ),
    Case("raw-sql-uninspectable", "op.execute(\"COMMENT ON TABLE persons IS 'people'\")", triggers=False),
    Case(
        "raw-sql-uninspectable",
        'op.execute("UPDAT persons SETT role = 1")',
        message_contains=("cannot be parsed",),
    ),
    Case(
        "raw-sql-uninspectable",
        'persons = sa.table("persons", sa.column("role"))\nop.execute(persons.update().values(role="resident"))',
        triggers=False,
    ),
    Case(
        "raw-sql-uninspectable",
        "op.get_bind().execute(statement_from_elsewhere)",
        escalation="uninspectable-sql",
    ),
    Case(
        "drop-table",
        'op.get_bind().execute(sa.text("DROP TABLE rotations"))',
        escalation="drop-table-with-data",
    ),
    Case(
        "drop-column",
        'op.execute("ALTER TABLE persons DROP COLUMN pgy_level")',
        escalation="drop-column-with-data",
        column="pgy_level",
    ),
    Case("drop-table", 'op.execute("DR" + "OP TABLE rotations")', escalation="drop-table-with-data"),
    Case(
        "raw-sql-uninspectable",
        "op.execute(\"DO $$ BEGIN EXECUTE 'DROP TABLE rotations'; END $$\")",
        escalation="uninspectable-sql",
        message_contains=("DO",),
    ),
    Case(
        "raw-sql-uninspectable",
        "op.execute(\"DO $$ BEGIN EXECUTE reverse('snoitator elbat pord'); END $$\")",
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-uninspectable",
        "op.execute(\"CREATE FUNCTION zz() RETURNS void LANGUAGE sql AS 'DROP TABLE rotations'\")\n"
        'op.execute("SELECT zz()")',
        escalation="uninspectable-sql",
        line=9,
    ),
    Case(  # corpus: indico 66ecbb1c0ddd (natsort): PostgreSQL forbids writes in an IMMUTABLE/STABLE function
        "raw-sql-uninspectable",
        'op.execute("CREATE FUNCTION natsort(value text) RETURNS text AS $$ SELECT lower(value) $$ '
        'LANGUAGE SQL IMMUTABLE STRICT")',
        triggers=False,
    ),
    Case(  # a module-level constant is read as the SQL it holds
        "raw-sql-uninspectable",
        "op.execute(NATSORT)",
        header='NATSORT = "CREATE FUNCTION natsort(v text) RETURNS text '
        'AS $$ SELECT lower(v) $$ LANGUAGE sql IMMUTABLE"\n',
        triggers=False,
    ),
    Case(  # ... unless it is bound again: what runs is the value built in upgrade()
        "raw-sql-uninspectable",
        'SQL = "DR" + "OP TABLE " + str(len("x"))\nop.execute(SQL)',
        header='SQL = "SELECT 1"\n',
        escalation="uninspectable-sql",
    ),
    # SQL built in a loop over literal values is read value by value (corpus: airflow 0096, indico 2af245be72a6)
    Case(
        "raw-sql-interpolated",
        'for table in ("persons", "assignments"):\n'
        '    op.execute(sa.text(f"UPDATE {table} SET name = lower(name) "\n'
        '                       f"WHERE id IN (SELECT id FROM {table} LIMIT 10)"))',
        triggers=False,
    ),
    Case(
        "raw-sql-interpolated",
        "for schema, table in TABLES:\n    op.execute('DELETE FROM {0}.{1} WHERE id < 0'.format(schema, table))",
        header='TABLES = (("public", "persons"),)\n',
        triggers=False,
    ),
    Case(  # what the loop builds is linted: a DELETE without WHERE on each table
        "destructive-data-change",
        'for table in ("persons", "assignments"):\n    op.execute(f"DELETE FROM {table}")',
        escalation="destructive-data-change",
    ),
    Case(  # the loop variable is rebound: not the literal values
        "raw-sql-interpolated",
        'for table in ("persons",):\n    table = table + "_old"\n    op.execute(f"DROP TABLE {table}")',
        escalation="uninspectable-sql",
    ),
    Case(  # a value not in the loop (a function's result)
        "raw-sql-interpolated",
        'for table in ("persons",):\n    op.execute(f"DELETE FROM {table} WHERE id = {pick()}")',
        escalation="uninspectable-sql",
    ),
    Case(  # attribute access in a format field is refused
        "raw-sql-interpolated",
        "for t in ('persons',):\n    op.execute('DELETE FROM {0.__class__}'.format(t))",
        escalation="uninspectable-sql",
    ),
    Case(  # corpus: airflow 0060, superset e557699a813e: a SELECT kept in a variable is read
        "raw-sql-uninspectable",
        'stmt = sa.text("SELECT id FROM persons WHERE pgy_level IS NULL")\n'
        "rows = op.get_bind().execute(stmt).fetchall()\n"
        "query = sa.select(sa.column('id'))\nfor row in op.get_bind().execute(query):\n    print(row)",
        triggers=False,
    ),
    Case(
        "destructive-data-change",
        'stmt = sa.text("DELETE FROM persons")\nop.get_bind().execute(stmt)',
        escalation="destructive-data-change",
    ),
    Case(  # bound twice: not the statement that runs
        "raw-sql-uninspectable",
        'stmt = sa.text("SELECT 1")\nfor name in NAMES:\n    stmt = build(name)\nop.get_bind().execute(stmt)',
        header="NAMES = ['a']\n",
        escalation="uninspectable-sql",
    ),
    Case(  # an IMMUTABLE wrapper around a volatile function still writes (PostgreSQL runs the inner one)
        "raw-sql-uninspectable",
        'op.execute("CREATE FUNCTION wrap() RETURNS int AS $$ SELECT purge_rotations() $$ LANGUAGE sql IMMUTABLE")',
        escalation="uninspectable-sql",
    ),
    Case(  # the word inside the body is not the function's volatility
        "raw-sql-uninspectable",
        'op.execute("CREATE FUNCTION zz() RETURNS void AS $$ DELETE FROM rotations; -- IMMUTABLE $$ LANGUAGE sql")',
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-uninspectable",
        'op.execute("CREATE FUNCTION zz() RETURNS void AS $$ DELETE FROM rotations $$ LANGUAGE c IMMUTABLE")',
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-uninspectable",
        'op.execute("CREATE PROCEDURE zp() LANGUAGE plpgsql AS $$ BEGIN DROP TABLE rotations; END $$")\n'
        'op.execute("CALL zp()")',
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-uninspectable",
        'op.execute("PREPARE p AS DELETE FROM rotations")\nop.execute("EXECUTE p")',
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-uninspectable",
        "op.execute(\"COPY (SELECT 1) TO PROGRAM 'touch /tmp/x'\")",
        escalation="uninspectable-sql",
        message_contains=("PROGRAM",),
    ),
    Case(
        "raw-sql-uninspectable",
        'op.execute("CREATE RULE r AS ON UPDATE TO persons DO INSTEAD NOTHING")',
        escalation="uninspectable-sql",
    ),
    Case("raw-sql-uninspectable", 'op.execute("COPY persons TO STDOUT")', triggers=False),
    Case(
        "drop-table",
        'op.execute("CREATE SCHEMA IF NOT EXISTS trash")\n'
        'op.execute("ALTER TABLE rotations SET SCHEMA trash")\n'
        'op.execute("DROP SCHEMA trash CASCADE")',
        escalation="drop-table-with-data",
        line=11,
    ),
    Case(
        "drop-table",
        'op.execute("DROP SCHEMA public CASCADE")',
        'op.execute("CREATE SCHEMA public")',
        escalation="drop-table-with-data",
    ),
    Case("drop-table", 'op.execute("DROP VIEW persons_v CASCADE")', escalation="drop-table-with-data"),
    Case("drop-table", 'op.execute("DROP OWNED BY someone")', escalation="drop-table-with-data"),
    Case("drop-table", 'op.execute("DROP SCHEMA IF EXISTS empty_one")', triggers=False),
    Case(
        "destructive-data-change",
        'op.execute("UPDATE persons SET pgy_level = NULL")',
        'op.execute("SELECT 1")',
        severity="error",
        escalation="destructive-data-change",
        table="persons",
        column="pgy_level",
    ),
    Case(
        "destructive-data-change",
        'op.execute("DELETE FROM rotations")',
        escalation="destructive-data-change",
        table="rotations",
    ),
    Case(
        "destructive-data-change",
        'op.execute(sa.delete(sa.table("rotations")))',
        escalation="destructive-data-change",
        table="rotations",
    ),
    Case(
        "destructive-data-change",
        'op.execute("ALTER TABLE persons ALTER COLUMN pgy_level TYPE int USING NULL")',
        escalation="destructive-data-change",
        column="pgy_level",
    ),
    Case(
        "destructive-data-change",
        'op.execute("UPDATE persons SET pgy_level = NULL WHERE pgy_level < 0")',
        triggers=False,
    ),
    Case(
        "destructive-data-change",
        'op.execute("DELETE FROM rotations WHERE id IN (SELECT id FROM rotations WHERE name IS NULL LIMIT 1000)")',
        triggers=False,
    ),
    Case(
        "destructive-data-change",
        'op.add_column("persons", sa.Column("display", sa.String(120), nullable=True))\n'
        'op.execute("UPDATE persons SET display = name")',
        triggers=False,
    ),
    Case(
        "destructive-data-change",
        'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("n", sa.Text()))\n'
        'op.execute("UPDATE tags SET n = NULL")\nop.execute("DELETE FROM tags")',
        'op.drop_table("tags")',
        triggers=False,
    ),
    Case(
        "destructive-data-change",
        'op.execute("ALTER TABLE persons ALTER COLUMN pgy_level TYPE bigint USING pgy_level::bigint")',
        triggers=False,
    ),
    Case(
        "destructive-data-change",
        'rotations = sa.table("rotations", sa.column("id"))\n'
        "op.execute(sa.delete(rotations).where(rotations.c.id > 100))",
        triggers=False,
    ),
    Case("drop-table", 'op.execute("/* tidy */ DROP TABLE rotations")', escalation="drop-table-with-data"),
    Case(
        "destructive-data-change",
        'persons = sa.table("persons", sa.column("role"))\nop.execute(persons.update().values(role="resident"))',
        escalation="destructive-data-change",
        table="persons",
        column="role",
    ),
    Case(
        "destructive-data-change",
        'op.add_column("persons", sa.Column("nick", sa.Text(), nullable=True))\n'
        'persons = sa.table("persons", sa.column("nick"))\nop.execute(persons.update().values(nick="x"))',
        'op.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case("drop-table", 'op.execute("DROP TABLE rotations CASCADE")', escalation="drop-table-with-data"),
    # values the file fixes are written out (values.py): literal candidates, integers, uuids
    Case(  # a constant of the file: the statement is known
        "raw-sql-interpolated",
        'ROLE = "resident"\nop.execute(f"UPDATE persons SET role = \'{ROLE}\' WHERE id IN '
        '(SELECT id FROM persons LIMIT 10)")',
        triggers=False,
    ),
    Case(  # corpus: airflow 0055: a batch size and an offset counted up by it
        "raw-sql-interpolated",
        "BATCH_SIZE = 100\noffset = 0\nwhile True:\n"
        '    rows = op.get_bind().execute(sa.text(f"SELECT id FROM persons ORDER BY id LIMIT {BATCH_SIZE} '
        'OFFSET {offset}")).fetchall()\n    if not rows:\n        break\n    offset += BATCH_SIZE',
        triggers=False,
    ),
    Case(  # corpus: indico 26806768cd3f: random ids inside quoted strings
        "raw-sql-interpolated",
        "op.execute(f\"INSERT INTO persons (name, token) VALUES ('x', '{uuid4()}')\")",
        header="from uuid import uuid4\n",
        triggers=False,
    ),
    Case(  # one value of a literal dict, whatever the key (airflow 0055's empty_vals[dialect])
        "raw-sql-interpolated",
        'empty = {"mysql": "X\'80\'", "postgresql": "\'\\\\x80\'"}[op.get_bind().dialect.name]\n'
        'op.execute(f"UPDATE persons SET role = NULL WHERE role = {empty}")',
        triggers=False,
    ),
    Case(  # ... and what each candidate is, is linted: a DELETE without WHERE
        "destructive-data-change",
        'TABLES = {"a": "persons", "b": "rotations"}\nop.execute(f"DELETE FROM {TABLES[pick()]}")',
        escalation="destructive-data-change",
    ),
    Case(  # an int whose sign is not known, after a minus sign: ``--`` would comment out the rest
        "raw-sql-interpolated",
        'op.execute(f"DELETE FROM persons WHERE id = -{int(limit_from_somewhere)} AND role IS NULL")',
        escalation="uninspectable-sql",
    ),
    Case(  # an int glued to a name makes another name
        "raw-sql-interpolated",
        'n = 0\nn += 1\nop.execute(f"DROP TABLE persons{n}")',
        escalation="uninspectable-sql",
    ),
    Case(  # a uuid outside quotes (the quotes before it close an empty string)
        "raw-sql-interpolated",
        "op.execute(f\"UPDATE persons SET role = '' {uuid4()} WHERE id = 1\")",
        header="from uuid import uuid4\n",
        escalation="uninspectable-sql",
    ),
    Case(  # a dict changed after its literal: not the values it was written with
        "raw-sql-interpolated",
        'names = {"a": "persons"}\nnames["a"] = pick()\nop.execute(f"DELETE FROM {names[\'a\']} WHERE id = 1")',
        escalation="uninspectable-sql",
    ),
    Case(  # a dict handed to code that may change it
        "raw-sql-interpolated",
        'names = {"a": "persons"}\nfill(names)\nop.execute(f"DELETE FROM {names[\'a\']} WHERE id = 1")',
        escalation="uninspectable-sql",
    ),
    Case(  # a name also bound by a parameter-like source (a loop over rows read at run time)
        "raw-sql-interpolated",
        'role = "x"\nfor role in pick():\n    op.execute(f"UPDATE persons SET role = \'{role}\' WHERE id = 1")',
        escalation="uninspectable-sql",
    ),
    Case(  # a uuid4 that is not the standard library's
        "raw-sql-interpolated",
        "op.execute(f\"INSERT INTO persons (name, token) VALUES ('x', '{uuid4()}')\")",
        header='def uuid4():\n    return "x\'); DROP TABLE persons; --"\n',
        escalation="uninspectable-sql",
    ),
    Case(  # int() shadowed by the file
        "raw-sql-interpolated",
        'op.execute(f"DELETE FROM persons WHERE id = {int(x)}")',
        header="def int(x):\n    return '1 OR 1 = 1'\n",
        escalation="uninspectable-sql",
    ),
    # SQL chosen between literals (corpus: airflow 0039): each candidate is read; for the target's dialect only
    Case(
        "raw-sql-uninspectable",
        'if op.get_bind().dialect.name == "mysql":\n    stmt = "UPDATE persons SET `role` = \'r\' WHERE id = 1"\n'
        'else:\n    stmt = "UPDATE persons SET \\"role\\" = \'r\' WHERE id = 1"\nop.execute(stmt)',
        triggers=False,
    ),
    Case(  # every candidate is linted: the PostgreSQL one empties the table
        "destructive-data-change",
        'if op.get_bind().dialect.name == "mysql":\n    stmt = "DELETE FROM persons WHERE id = 1"\n'
        'else:\n    stmt = "DELETE FROM persons"\nop.execute(stmt)',
        escalation="destructive-data-change",
    ),
    Case(  # a test that is not the connection's dialect: both candidates count
        "destructive-data-change",
        'if flag:\n    stmt = "DELETE FROM persons WHERE id = 1"\nelse:\n    stmt = "DELETE FROM persons"\n'
        "op.execute(stmt)",
        escalation="destructive-data-change",
    ),
    Case(  # the other dialect's candidate is not this target's
        "destructive-data-change",
        'if op.get_bind().dialect.name == "mysql":\n    stmt = "DELETE FROM persons"\n'
        'else:\n    stmt = "DELETE FROM persons WHERE id = 1"\nop.execute(stmt)',
        triggers=False,
    ),
    Case(  # one candidate is not literal
        "raw-sql-uninspectable",
        'if op.get_bind().dialect.name == "mysql":\n    stmt = "SELECT 1"\nelse:\n    stmt = build()\nop.execute(stmt)',
        escalation="uninspectable-sql",
    ),
    Case(  # bound by something else too (an augmented assignment)
        "raw-sql-uninspectable",
        'stmt = "UPDATE persons SET role = 1 WHERE id = 1"\nstmt += pick()\nop.execute(stmt)',
        escalation="uninspectable-sql",
    ),
    # COALESCE of the column itself keeps every value (corpus: indico 7aabedfb5e3a)
    Case(
        "destructive-data-change",
        "op.execute(\"UPDATE persons SET role = COALESCE(role, '')\")",
        triggers=False,
    ),
    Case(  # a flip of the column itself keeps every value (corpus: indico ad0625914645)
        "destructive-data-change",
        'op.execute("UPDATE persons SET on_leave = NOT on_leave")',
        triggers=False,
    ),
    Case(  # NOT of another column overwrites
        "destructive-data-change",
        'op.execute("UPDATE persons SET on_leave = NOT (active)")',
        escalation="destructive-data-change",
    ),
    Case(  # COALESCE of another column overwrites
        "destructive-data-change",
        "op.execute(\"UPDATE persons SET role = COALESCE(name, '')\")",
        escalation="destructive-data-change",
    ),
    Case(  # one column kept, the other overwritten
        "destructive-data-change",
        "op.execute(\"UPDATE persons SET role = COALESCE(role, ''), name = NULL\")",
        escalation="destructive-data-change",
        column="name",
    ),
    Case(  # the same name of another table (UPDATE ... FROM)
        "destructive-data-change",
        "op.execute(\"UPDATE persons SET role = COALESCE(r.role, '') FROM rotations r\")",
        escalation="destructive-data-change",
    ),
    Case(  # a quoted name is another column than the unquoted one
        "destructive-data-change",
        "op.execute('UPDATE persons SET \"Role\" = COALESCE(role, \\'\\')')",
        escalation="destructive-data-change",
    ),
    # insert(...).from_select(...) is the INSERT ... SELECT it builds (corpus: superset 409c7b420ab0)
    Case(
        "raw-sql-uninspectable",
        "session = Session(bind=op.get_bind())\n"
        'op.execute(insert(Rotation).from_select(["person_id"], session.query(Person.id)'
        ".outerjoin(Rotation, and_(Rotation.person_id == Person.id)).filter(Rotation.id == None)))",
        header=MAPPED,
        triggers=False,
    ),
    Case(
        "raw-sql-uninspectable",
        'persons = sa.table("persons", sa.column("id"), sa.column("role"))\n'
        'audit = sa.table("audit", sa.column("person_id"))\n'
        'op.execute(audit.insert().from_select(["person_id"], '
        "sa.select(persons.c.id).where(persons.c.role.is_(None))))",
        triggers=False,
    ),
    Case(  # the SELECT calls a function that may write
        "raw-sql-uninspectable",
        'audit = sa.table("audit", sa.column("person_id"))\n'
        'op.execute(audit.insert().from_select(["person_id"], sa.select(sa.func.purge_rotations())))',
        escalation="uninspectable-sql",
    ),
    Case(  # raw SQL inside the SELECT
        "raw-sql-uninspectable",
        'audit = sa.table("audit", sa.column("person_id"))\n'
        'op.execute(audit.insert().from_select(["person_id"], sa.select(sa.literal_column("purge()"))))',
        escalation="uninspectable-sql",
    ),
    Case(  # the table filled has a Python-side default: SQLAlchemy renders it into the INSERT
        "raw-sql-uninspectable",
        "session = Session(bind=op.get_bind())\n"
        'op.execute(insert(Audit).from_select(["person_id"], session.query(Person.id)))',
        header=MAPPED + "class Audit(Base):\n    __tablename__ = 'audit'\n"
        "    id = Column(Integer, primary_key=True)\n    person_id = Column(Integer)\n"
        "    note = Column(Integer, default=func.purge_rotations())\n",
        escalation="uninspectable-sql",
    ),
    Case(  # a query on something that is not an ORM session
        "raw-sql-uninspectable",
        'source = make_source()\nop.execute(insert(Rotation).from_select(["person_id"], source.query(Person.id)))',
        header=MAPPED,
        escalation="uninspectable-sql",
    ),
    Case(  # a class with more than columns
        "raw-sql-uninspectable",
        "session = Session(bind=op.get_bind())\n"
        'op.execute(insert(Rotation).from_select(["person_id"], session.query(Ghost.id)))',
        header=MAPPED + "class Ghost(Base):\n    __tablename__ = 'persons'\n"
        "    id = column_property(select(func.purge_rotations()))\n",
        escalation="uninspectable-sql",
    ),
    Case(  # the class name rebound in upgrade(): not the class
        "raw-sql-uninspectable",
        "Rotation = make_table()\nsession = Session(bind=op.get_bind())\n"
        'op.execute(insert(Rotation).from_select(["person_id"], session.query(Person.id)))',
        header=MAPPED,
        escalation="uninspectable-sql",
    ),
    Case(  # corpus: airflow 0060: a statement variable bound twice, run with parameters
        "raw-sql-uninspectable",
        'stmt = sa.text("SELECT id FROM persons WHERE role IS NULL")\nrows = op.get_bind().execute(stmt).fetchall()\n'
        'stmt = sa.text("UPDATE persons SET role = :r WHERE id = :i AND role IS NULL")\n'
        "for row in rows:\n    op.get_bind().execute(stmt.bindparams(r=pick(), i=row.id))",
        triggers=False,
    ),
    Case(  # ... each candidate is linted
        "destructive-data-change",
        'stmt = sa.text("SELECT id FROM persons WHERE role IS NULL")\nrows = op.get_bind().execute(stmt).fetchall()\n'
        'stmt = sa.text("UPDATE persons SET role = :r")\n'
        "for row in rows:\n    op.get_bind().execute(stmt.bindparams(r=pick()))",
        escalation="destructive-data-change",
    ),
    Case(  # a range() loop variable is a number (corpus: superset's batches)
        "raw-sql-interpolated",
        "for start in range(0, 1000, 100):\n"
        '    op.execute(f"UPDATE persons SET pgy_level = 1 WHERE id >= {start} AND id < {start + 100}")',
        triggers=False,
    ),
    Case(  # ... that may be negative: after a minus sign it could start a comment
        "raw-sql-interpolated",
        'for start in range(-5, 0):\n    op.execute(f"DELETE FROM persons WHERE id = -{start}\\nAND role IS NULL")',
        escalation="uninspectable-sql",
    ),
    Case(  # ... rebound in the loop
        "raw-sql-interpolated",
        'for start in range(0, 10):\n    start = pick()\n    op.execute(f"DELETE FROM persons WHERE id = {start}")',
        escalation="uninspectable-sql",
    ),
    Case(  # a nested function's own variable is not the name upgrade() reads (the module's)
        "raw-sql-uninspectable",
        "def inner():\n    STMT = 'SELECT 1'\nop.execute(STMT)",
        header="STMT = build()\n",
        escalation="uninspectable-sql",
    ),
    Case(  # SQL built in a nested function: its names are the nested function's (a parameter here)
        "raw-sql-interpolated",
        'table = "persons"\ndef inner(table):\n    op.execute(f"DELETE FROM {table} WHERE id = 1")\ninner(pick())',
        escalation="uninspectable-sql",
    ),
    Case(  # a walrus in a comprehension binds in upgrade()
        "raw-sql-interpolated",
        'table = "persons"\n[(table := pick()) for _ in (1,)]\nop.execute(f"DELETE FROM {table} WHERE id = 1")',
        escalation="uninspectable-sql",
    ),
    Case(  # ... and in a default of a nested function
        "raw-sql-uninspectable",
        'stmt = "SELECT 1"\ndef inner(x=(stmt := pick())):\n    pass\nop.execute(stmt)',
        escalation="uninspectable-sql",
    ),
    # what an update/insert construct runs as code (a gap that predates this branch)
    Case(
        "raw-sql-uninspectable",
        'persons = sa.table("persons", sa.column("role"))\n'
        "op.execute(persons.update().where(persons.c.role == None).values(role=sa.func.purge_rotations()))",
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-uninspectable",
        'persons = sa.table("persons", sa.column("role"))\n'
        'op.execute(persons.insert().values(role=sa.literal_column("purge_rotations()")))',
        escalation="uninspectable-sql",
    ),
    Case(
        "raw-sql-uninspectable",
        'persons = sa.table("persons", sa.column("role"), sa.column("name"))\n'
        "op.execute(persons.update().where(persons.c.role == None).values(role=sa.func.lower(persons.c.name)))",
        triggers=False,
    ),
)
