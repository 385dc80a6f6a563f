"""Constraint rules: foreign keys and CHECKs without NOT VALID, unique constraints on existing tables,
primary key changes, unnamed constraints and foreign keys without an index."""

from __future__ import annotations

import ast
import copy
import re

from alembic_mcp.tools.history.migration_ast import OpCall, literal_value
from alembic_mcp.tools.review.rules.astutil import (
    callee,
    column_spec,
    is_none,
    kw,
    list_of_str,
    name_value,
    q,
    shown,
    src,
    truthy,
)
from alembic_mcp.tools.review.rules.facts import DuplicatesFact, IndexOnFact, OrphansFact, RowsFact
from alembic_mcp.tools.review.rules.index_source import concurrent_build, index_key_sql, is_expression_index
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, on_op, rule

NAMING_CONVENTION = (
    "\n# metadata = MetaData(naming_convention={'ix': 'ix_%(column_0_label)s', 'uq': "
    "'uq_%(table_name)s_%(column_0_name)s', 'ck': 'ck_%(table_name)s_%(constraint_name)s', "
    "'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s', "
    "'pk': 'pk_%(table_name)s'})"
)
INLINE_PREFIX = {"ForeignKeyConstraint": "fk", "UniqueConstraint": "uq", "CheckConstraint": "ck"}


def _fix_not_valid(name: str | None, table: str | None, ref_table: str | None, local: list, remote: list) -> str:
    """The generic fix (docs): every argument of the original call kept, NOT VALID added, then VALIDATE."""
    return (
        f"op.create_foreign_key({q(name)}, {q(table)}, {q(ref_table)}, {local!r}, {remote!r}, "
        "<the original keyword arguments: ondelete=..., onupdate=...>, postgresql_not_valid=True)\n"
        + validate_later(table, name)
    )


def convention_fk_name(table: str | None, local: list[str], ref_table: str | None) -> str:
    """The name the project's naming convention gives (fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s)."""
    return f"fk_{table}_{local[0] if local else 'col'}_{ref_table}"


# The VALIDATE step of NOT VALID, left as a comment: in the same revision (one transaction) it scans under the
# lock ADD CONSTRAINT took, saving nothing, and an autocommit block would commit a single-transaction deploy
# early. Autofix moves it to a new revision (``autofix/literal.later_step`` reads this prefix).
LATER_STEP = "# in a new revision after this one: "


def validate_later(table: str | None, name: str | None) -> str:
    return (
        f'{LATER_STEP}op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {name}")  '
        "# saves lock time only when that revision commits on its own: transaction_per_migration=True in env.py, "
        "or deployed by its own alembic upgrade"
    )


def fix_create_fk_not_valid(op: OpCall, local: list[str], ref_table: str | None) -> str:
    """The original create_foreign_key call with every argument kept, a name when it had none, and
    postgresql_not_valid=True; then VALIDATE CONSTRAINT by that name."""
    call = copy.deepcopy(op.node)
    name = name_value(op.arg(0, "constraint_name"))
    if name is None:
        name = convention_fk_name(op.table, local, ref_table)
        named = ast.Call(ast.Attribute(ast.Name("op"), "f"), [ast.Constant(name)], [])
        if call.args:
            call.args[0] = named
        else:
            call.keywords = [k for k in call.keywords if k.arg != "constraint_name"]
            call.keywords.insert(0, ast.keyword("constraint_name", named))
    _set_keyword(call, "postgresql_not_valid", ast.Constant(True))
    return ast.unparse(call) + "\n" + validate_later(op.table, name)


def fix_inline_fk_not_valid(op: OpCall, column: ast.Call, fk: ast.Call, target: str) -> str:
    """add_column(sa.Column(..., sa.ForeignKey(...))) split in two: the column without its ForeignKey,
    then the key as a NOT VALID create_foreign_key keeping the ForeignKey's arguments (ondelete, ...)."""
    bare = copy.deepcopy(column)
    bare.args = [a for a in bare.args if not (isinstance(a, ast.Call) and callee(a) == "ForeignKey")]
    add = copy.deepcopy(op.node)
    if add.args and len(add.args) > 1:
        add.args[1] = bare
    else:
        add.keywords = [ast.keyword(k.arg, bare) if k.arg == "column" else k for k in add.keywords]
    col = literal_value(column.args[0]) if column.args else None
    ref_table, _, ref_col = target.rpartition(".")
    name = name_value(kw(fk, "name")) or convention_fk_name(op.table, [str(col)], ref_table)
    options = [k for k in fk.keywords if k.arg not in ("name", "column")]
    create = ast.Call(
        ast.Attribute(ast.Name("op"), "create_foreign_key"),
        [
            ast.Constant(name),
            ast.Constant(op.table),
            ast.Constant(ref_table),
            ast.List([ast.Constant(col)]),
            ast.List([ast.Constant(ref_col)]),
        ],
        [*options, ast.keyword("postgresql_not_valid", ast.Constant(True))],
    )
    return ast.unparse(add) + "\n" + ast.unparse(create) + "\n" + validate_later(op.table, name)


def named_call(op: OpCall, name: str) -> str:
    """The operation's own call with ``op.f(name)`` in place of its ``None`` name, every other argument kept."""
    call = copy.deepcopy(op.node)
    named = ast.Call(ast.Attribute(ast.Name("op"), "f"), [ast.Constant(name)], [])
    if call.args:
        call.args[0] = named
    else:
        call.keywords = [ast.keyword(k.arg, named) if k.arg in NAME_KEYWORDS else k for k in call.keywords]
    return ast.unparse(call)


NAME_KEYWORDS = ("constraint_name", "index_name")


def _with_keyword(op: OpCall, name: str, value: ast.expr) -> str:
    """The operation's own call, every argument kept, with one keyword set."""
    call = copy.deepcopy(op.node)
    _set_keyword(call, name, value)
    return ast.unparse(call)


def _set_keyword(call: ast.Call, name: str, value: ast.expr) -> None:
    call.keywords = [k for k in call.keywords if k.arg != name] + [ast.keyword(name, value)]


def _fix_unique(table: str | None, columns: list[str]) -> str:
    name = f"uq_{table}_{'_'.join(columns)}"
    return (
        concurrent_build(name, table, [repr(c) for c in columns], unique=True)
        + f'\nop.execute("ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")'
    )


def _fix_primary_key() -> str:
    return (
        "A human decides; the safe path is expand/contract: build a unique index CONCURRENTLY, then "
        "ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY USING INDEX."
    )


def _fix_unnamed(code: str) -> str:
    return code + NAMING_CONVENTION


def _fix_fk_index(table: str | None, local: list[str]) -> str:
    return f"op.create_index(op.f('ix_{table}_{'_'.join(local)}'), {q(table)}, {local!r})"


def _fix_fk_index_existing(table: str | None, local: list[str]) -> str:
    """On a table that already holds rows (PostgreSQL): the index built concurrently, in a revision of its
    own, as create-index-non-concurrent asks; a plain create_index here would draw that error."""
    build = concurrent_build(f"ix_{table}_{'_'.join(local)}", table, [repr(c) for c in local])
    return f"In a new revision (a plain build blocks writes): {build}"


FK_NOT_VALID_MISSING = rule(
    "fk-not-valid-missing",
    "error",
    "foreign key / CHECK on an existing table without NOT VALID",
    "Adding it scans the table under a write-blocking lock and fails on rows that violate it.",
    _fix_not_valid,
    pg_only=True,
    anchors="SQ adding-foreign-key-constraint, constraint-missing-not-valid, AT PG305, EU E1",
)
ADD_UNIQUE_CONSTRAINT = rule(
    "add-unique-constraint",
    "error",
    "unique constraint on an existing table",
    "The unique index is built under ACCESS EXCLUSIVE (reads and writes blocked), and the statement fails "
    "if duplicates exist.",
    _fix_unique,
    anchors="SQ disallowed-unique-constraint, AT MF101, EU E7",
)
PRIMARY_KEY_CHANGE = rule(
    "primary-key-change",
    "error",
    "primary key dropped, created or its column's type changed",
    "Building the key rewrites/locks the table and changes what every reference and ORM identity map relies on.",
    _fix_primary_key,
    escalations=("primary-key-change",),
    anchors="SQ adding-serial-primary-key-field, AT PG104",
)
UNNAMED_CONSTRAINT = rule(
    "unnamed-constraint",
    "error",
    "constraint or index without a name",
    "A constraint without a name in the migration gets a database-generated one that differs between "
    "backends and databases: a later migration cannot drop or alter it reliably.",
    _fix_unnamed,
    anchors="alembic docs: naming conventions",
)
FK_MISSING_INDEX = rule(
    "fk-missing-index",
    "warning",
    "new foreign key whose columns have no index",
    "Deleting or updating a referenced row scans the referencing table; joins on the key scan too.",
    _fix_fk_index,
    anchors="EU E15",
)


def unnamed(
    state,
    op: OpCall,
    message: str,
    code: str,
    severity: str = "error",
    line: int | None = None,
    convention_kind: str | None = None,
) -> None:
    """``convention_kind`` (fk, uq, ck): a naming convention of that kind in the models' MetaData names
    the constraint (alembic applies target_metadata's convention), which the review checks later."""
    state.emit(
        UNNAMED_CONSTRAINT,
        op,
        message,
        _fix_unnamed(code),
        severity=severity,
        line=line,
        convention_kind=convention_kind,
    )


def unique_hit(state, op: OpCall, table: str | None, columns: list[str], what: str) -> None:
    # a column added (nullable) by this revision is all NULL, and NULLs are distinct: no duplicates can exist
    # (indico da06d8f50342: unique (app_user_link_id, scopes) right after adding app_user_link_id)
    new_columns = any((table, c) in state.new_nullable_columns for c in columns)
    state.emit(
        ADD_UNIQUE_CONSTRAINT,
        op,
        f"{what} adds a unique constraint on existing table {table} ({', '.join(columns)})"
        + (
            ": the columns are new in this revision (all NULL), so no duplicates; the build still locks it."
            if new_columns
            else "."
        ),
        _fix_unique(table, columns),
        severity="error" if state.pg and not new_columns else "warning",
        column=", ".join(columns) or None,
        fact=None if new_columns else DuplicatesFact(table, tuple(columns)),
    )


def fk_hit(
    state, op: OpCall, local: list[str], ref_table: str | None, remote: list[str], fix: str, **how: bool
) -> None:
    """A foreign key added to ``op.table``; ``fix``: the safe call; ``how``: new_columns, not_valid."""
    table = op.table
    _fk_index(state, op, local, ref_table)
    if op.table_created_here or how.get("not_valid"):
        state.clear(FK_NOT_VALID_MISSING.id, table)
        return
    new_columns = how.get("new_columns", False)
    state.emit(
        FK_NOT_VALID_MISSING,
        op,
        f"Foreign key {_fk_end(op, table, 1, 'source_table')}({', '.join(local)}) -> "
        f"{_fk_end(op, ref_table, 2, 'referent_table')}({', '.join(remote)}) is validated while it is "
        "added" + (" (the column is new and empty, so the scan finds nothing)." if new_columns else "."),
        fix,
        severity="warning" if new_columns else "error",
        why=f"Adding it scans {table} under a SHARE ROW EXCLUSIVE lock on both {table} and {ref_table} "
        "(writes blocked), and fails on orphan rows.",
        column=", ".join(local) or None,
        fact=OrphansFact(table, tuple(local), ref_table, tuple(remote)),
    )


def _fk_end(op: OpCall, table: str | None, position: int, keyword: str) -> str:
    """A table of a foreign key for a message: its name, or the expression naming it (a loop variable)."""
    if table is not None:
        return table
    return shown(op.arg(position, keyword), "(unknown table)") if op.name == "create_foreign_key" else "(unknown table)"


def _fk_index(state, op: OpCall, local: list[str], ref_table: str | None) -> None:
    table = op.table
    if not local or state.backend == "mysql":
        return
    if indexed_here(state.up, table, local):
        state.clear(FK_MISSING_INDEX.id, table)
        return
    state.emit(
        FK_MISSING_INDEX,
        op,
        f"Foreign key columns {table}({', '.join(local)}) have no index"
        + ("" if op.table_created_here else " created in this migration")
        + ".",
        _fix_fk_index(table, local)
        if op.table_created_here or state.backend != "postgresql"
        else _fix_fk_index_existing(table, local),
        why=f"Deleting or updating a {ref_table} row scans {table} to find referencing rows; joins on the "
        "key scan too.",
        column=", ".join(local),
        fact=None if op.table_created_here else IndexOnFact(table, tuple(local)),
    )


def _table_arg_indexes(arg: ast.expr, columns: list[str]) -> bool:
    spec = column_spec(arg)
    if spec and len(columns) == 1 and spec.name == columns[0] and (spec.index or spec.unique or spec.primary_key):
        return True
    if isinstance(arg, ast.Call) and callee(arg) in ("PrimaryKeyConstraint", "UniqueConstraint", "Index"):
        cols = [c for c in (literal_value(a) for a in arg.args) if isinstance(c, str)]
        cols = cols[1:] if callee(arg) == "Index" else cols
        return cols[: len(columns)] == columns
    return False


def indexed_here(up: list[OpCall], table: str | None, columns: list[str]) -> bool:
    """An index starting with ``columns`` is created on ``table`` in this upgrade()."""
    for op in (o for o in up if o.table == table):
        if op.name == "create_index" and list_of_str(op.arg(2, "columns"))[: len(columns)] == columns:
            return True
        if op.name == "create_table" and any(_table_arg_indexes(a, columns) for a in op.node.args[1:]):
            return True
        if op.name == "add_column" and len(columns) == 1:
            spec = column_spec(op.arg(1, "column"))
            if spec and spec.name == columns[0] and (spec.index or spec.unique):
                return True
    return False


@on_op("add_column")
def inline_constraints(state, op: OpCall) -> None:
    spec = column_spec(op.arg(1, "column"))
    if spec is None:
        return
    col = [spec.name] if spec.name else []
    if spec.unique and not op.table_created_here:
        unique_hit(state, op, op.table, col, "unique=True on the new column")
    for target, fk in spec.foreign_keys:
        if target:
            ref_table, _, ref_col = target.rpartition(".")
            fix = fix_inline_fk_not_valid(op, spec.node, fk, target) if isinstance(spec.node, ast.Call) else ""
            fk_hit(state, op, col, ref_table, [ref_col], fix, new_columns=True)


@on_op("create_index")
def create_index(state, op: OpCall) -> None:
    table, name = op.table, name_value(op.arg(0, "index_name"))
    columns = list_of_str(op.arg(2, "columns"))
    if is_none(op.arg(0, "index_name")):
        code = f"op.create_index(op.f('ix_{table}_{'_'.join(columns)}'), {q(table)}, {columns!r})"
        message = (
            f"create_index on {table} has no name (None): it gets the naming convention's name "
            f"(SQLAlchemy's default: ix_{table}_{'_'.join(columns[:1]) or '<column>'})."
        )
        unnamed(state, op, message, code, "info")
    if op.table_created_here:
        state.clear(ADD_UNIQUE_CONSTRAINT.id, table)
        return
    if truthy(op.kwargs.get("unique")):
        _unique_index(state, op, table, name)


def _unique_index(state, op: OpCall, table: str | None, name: str | None) -> None:
    """A unique index on a filled table: the target is asked for duplicates of its key (columns, or an
    expression index's key when it renders as SQL); a key that does not render is said to be unchecked."""
    expression = is_expression_index(op)
    key = index_key_sql(op) if expression else list_of_str(op.arg(2, "columns"))
    shown_key = ", ".join(key) if key else src(op.arg(2, "columns"))[:80]
    fact = None
    if key:
        fact = DuplicatesFact(table, (), tuple(key)) if expression else DuplicatesFact(table, tuple(key))
    state.emit(
        ADD_UNIQUE_CONSTRAINT,
        op,
        f"Unique index {name} on existing table {table} fails if ({shown_key}) has duplicates"
        + ("." if key else ": duplicates were not checked (its key does not render as plain SQL)."),
        f"SELECT {shown_key}, count(*) FROM {table} GROUP BY {shown_key} HAVING count(*) > 1;  -- clean these up first",
        severity="info",
        why="Existing duplicate values make the build fail (and a failed CONCURRENTLY build leaves an "
        "INVALID index behind).",
        fact=fact,
        informational=True,
    )


@on_op("create_foreign_key")
def create_foreign_key(state, op: OpCall) -> None:
    table = op.table
    local = list_of_str(op.arg(3, "local_cols"))
    if is_none(op.arg(0, "constraint_name")):
        code = named_call(op, convention_fk_name(table, local, name_value(op.arg(2, "referent_table"))))
        unnamed(state, op, f"create_foreign_key on {table} has no name (None).", code, convention_kind="fk")
    remote = list_of_str(op.arg(4, "remote_cols"))
    new_columns = bool(local) and all((table, c) in state.new_nullable_columns for c in local)
    not_valid = truthy(op.kwargs.get("postgresql_not_valid"))
    ref_table = name_value(op.arg(2, "referent_table"))
    fix = fix_create_fk_not_valid(op, local, ref_table)
    fk_hit(state, op, local, ref_table, remote, fix, new_columns=new_columns, not_valid=not_valid)


@on_op("create_unique_constraint")
def create_unique_constraint(state, op: OpCall) -> None:
    table, columns = op.table, list_of_str(op.arg(2, "columns"))
    if is_none(op.arg(0, "constraint_name")):
        code = named_call(op, f"uq_{table}_{'_'.join(columns)}")
        unnamed(state, op, f"create_unique_constraint on {table} has no name (None).", code, convention_kind="uq")
    if op.table_created_here:
        state.clear(ADD_UNIQUE_CONSTRAINT.id, table)
        return
    unique_hit(state, op, table, columns, "create_unique_constraint")


@on_op("create_check_constraint")
def create_check_constraint(state, op: OpCall) -> None:
    table = op.table
    if is_none(op.arg(0, "constraint_name")):
        words = re.findall(r"[A-Za-z_]\w*", src(op.arg(2, "condition")).strip("\"'"))
        code = named_call(op, f"ck_{table}_{words[0] if words else 'check'}")
        unnamed(state, op, f"create_check_constraint on {table} has no name (None).", code, convention_kind="ck")
    if op.table_created_here or truthy(op.kwargs.get("postgresql_not_valid")):
        state.clear(FK_NOT_VALID_MISSING.id, table)
        return
    name = name_value(op.arg(0, "constraint_name"))
    state.emit(
        FK_NOT_VALID_MISSING,
        op,
        f"CHECK constraint {name} on existing table {table} is validated while it is added.",
        _with_keyword(op, "postgresql_not_valid", ast.Constant(True)) + "\n" + validate_later(table, name),
        why="Adding it scans the whole table under ACCESS EXCLUSIVE and fails if any row violates it.",
        fact=RowsFact(table),
    )


@on_op("create_primary_key")
def create_primary_key(state, op: OpCall) -> None:
    if op.table_created_here:
        return
    state.emit(
        PRIMARY_KEY_CHANGE,
        op,
        f"A primary key is created on existing table {op.table}.",
        _fix_primary_key(),
        escalation=(f"The primary key of {op.table} is created or replaced.", {"table": op.table}),
    )


@on_op("drop_constraint")
def drop_constraint(state, op: OpCall) -> None:
    table = op.table
    if is_none(op.arg(0, "constraint_name")):
        message = f"drop_constraint(None, {table!r}) cannot drop anything: the constraint has no name in the migration."
        unnamed(state, op, message, _LOOK_UP_NAME)
    if literal_value(op.kwargs.get("type_")) == "primary" and not op.table_created_here:
        state.emit(
            PRIMARY_KEY_CHANGE,
            op,
            f"The primary key of existing table {table} is dropped.",
            "A human decides; keep the key and add a new unique constraint, or expand/contract.",
            why="Rows lose their identity: references, replication and ORM identity maps depend on it.",
            escalation=(f"The primary key of {table} is dropped.", {"table": table}),
        )


_LOOK_UP_NAME = (
    "Look the real name up (\\d table in psql, or Inspector.get_foreign_keys) and pass it; "
    "set MetaData(naming_convention=...) so future names are predictable."
)


@on_op("create_table")
def create_table(state, op: OpCall) -> None:
    for arg in op.node.args[1:]:
        spec = column_spec(arg)
        if spec is not None:
            _inline_column(state, op, spec, arg)
        elif isinstance(arg, ast.Call) and callee(arg) in INLINE_PREFIX:
            _table_constraint(state, op, arg)


# A constraint created with its table gets a name the database derives from the table and columns
# (PostgreSQL: <table>_<column>_fkey / _key, MySQL: <table>_ibfk_<n>): predictable, so advice only.
CREATED_WITH_TABLE = (
    " The database derives its name from the table and columns ({example}), so a later migration can name it."
)


def _inline_column(state, op: OpCall, spec, arg: ast.expr) -> None:
    table = op.table
    for target, fk in spec.foreign_keys:
        if kw(fk, "name") is None:
            code = (
                f"sa.ForeignKey({q(target)}, name=op.f('fk_{table}_{spec.name}_...'))  "
                "# or MetaData(naming_convention=...)"
            )
            message = f"Inline ForeignKey on {table}.{spec.name} has no name."
            message += CREATED_WITH_TABLE.format(example=f"PostgreSQL: {table}_{spec.name}_fkey")
            unnamed(state, op, message, code, "info", fk.lineno)
        if target:
            _fk_index(state, op, [spec.name] if spec.name else [], target.rpartition(".")[0])
    if spec.unique:
        code = f"sa.UniqueConstraint({q(spec.name)}, name=op.f('uq_{table}_{spec.name}'))"
        message = f"unique=True on {table}.{spec.name} creates an unnamed constraint."
        message += CREATED_WITH_TABLE.format(example=f"PostgreSQL: {table}_{spec.name}_key")
        unnamed(state, op, message, code, "info", arg.lineno)


def _table_constraint(state, op: OpCall, arg: ast.Call) -> None:
    table, kind, name = op.table, callee(arg), kw(arg, "name")
    if name is None or is_none(name):
        code = (
            f"sa.{kind}(..., name=op.f('{INLINE_PREFIX[kind or '']}_{table}_...'))  "
            "# autogenerate writes these when MetaData has a naming_convention"
        )
        # CHECK names derive from an expression PostgreSQL abbreviates: keep those a warning.
        severity = "warning" if kind == "CheckConstraint" else "info"
        example = {"ForeignKeyConstraint": "_fkey", "UniqueConstraint": "_key"}.get(kind or "", "_check")
        message = f"{kind} in create_table({table!r}) has no name."
        message += CREATED_WITH_TABLE.format(example=f"PostgreSQL: {table}_<columns>{example}")
        unnamed(state, op, message, code, severity, line=arg.lineno)
    if kind == "ForeignKeyConstraint":
        local = list_of_str(arg.args[0] if arg.args else None)
        remote = list_of_str(arg.args[1] if len(arg.args) > 1 else None)
        _fk_index(state, op, local, remote[0].rpartition(".")[0] if remote else None)


@on_file
def unnamed_drop_in_downgrade(state) -> None:
    for op in state.down:
        if op.name == "drop_constraint" and is_none(op.arg(0, "constraint_name")):
            name = _proposed_name(state, op)
            fix = (
                named_call(op, name) + "  # the name the fix of upgrade()'s create gives it"
                if name
                else "Look the real name up (\\d table in psql, or Inspector.get_foreign_keys) and pass it to both "
                "create_* in upgrade() and drop_constraint in downgrade()."
            )
            unnamed(
                state,
                op,
                f"downgrade() calls drop_constraint(None, {op.table!r}): it fails at runtime, the constraint has "
                "no name in the migration.",
                fix,
            )


def _proposed_name(state, drop: OpCall) -> str | None:
    """The name unnamed-constraint's fix gives the one unnamed create_* of this kind on the table in upgrade()."""
    kind = literal_value(drop.kwargs.get("type_"))
    creates = {"foreignkey": "create_foreign_key", "unique": "create_unique_constraint"}
    matches = [
        op
        for op in state.up
        if op.table == drop.table and op.name == creates.get(str(kind)) and is_none(op.arg(0, "constraint_name"))
    ]
    if len(matches) != 1:
        return None
    create = matches[0]
    if create.name == "create_foreign_key":
        return convention_fk_name(
            create.table, list_of_str(create.arg(3, "local_cols")), name_value(create.arg(2, "referent_table"))
        )
    return f"uq_{create.table}_{'_'.join(list_of_str(create.arg(2, 'columns')))}"


PERSON_COLS = 'sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name="pk_tmp")'
NOTES = (
    f'op.create_table("notes", {PERSON_COLS}, sa.Column("person_id", sa.Integer()), '
    'sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_notes_person_id"))'
)

CASES = cases(
    Case(  # corpus: mlflow 5b0e9adcef9c: tables named by a loop variable, never "None(request_id)"
        "fk-not-valid-missing",
        'for table in ("assignments",):\n    op.create_foreign_key("fk_x", table, "persons", ["person_id"], ["id"])',
        message_contains=("Foreign key `table`(person_id) -> persons(id)",),
    ),
    Case(
        "fk-not-valid-missing",
        'op.create_foreign_key("fk_a_p", "assignments", "persons", ["person_id"], ["id"])',
        'op.drop_constraint("fk_a_p", "assignments", type_="foreignkey")',
        severity="error",
        fix_contains=("postgresql_not_valid=True", "VALIDATE CONSTRAINT"),
    ),
    Case(
        "fk-not-valid-missing",
        'op.create_foreign_key("fk_a_p", "assignments", "persons", ["person_id"], ["id"], postgresql_not_valid=True)',
        'op.drop_constraint("fk_a_p", "assignments", type_="foreignkey")',
        triggers=False,
    ),
    Case(
        "fk-not-valid-missing",
        'op.execute("ALTER TABLE assignments ADD CONSTRAINT ck_hours CHECK (hours > 0)")',
        severity="error",
        fix_contains=("NOT VALID",),
    ),
    Case(
        "add-unique-constraint",
        'op.create_unique_constraint("uq_persons_name", "persons", ["name"])',
        'op.drop_constraint("uq_persons_name", "persons", type_="unique")',
        severity="error",
        fix_contains=("unique=True", "USING INDEX"),
    ),
    Case(  # corpus: airflow 0047: a column added in the same revision holds only NULLs
        "add-unique-constraint",
        'op.add_column("persons", sa.Column("badge", sa.String(20), nullable=True))\n'
        'op.create_unique_constraint("uq_persons_badge", "persons", ["badge"])',
        'op.drop_constraint("uq_persons_badge", "persons", type_="unique")\nop.drop_column("persons", "badge")',
        severity="warning",
        message_contains=("no duplicates",),
    ),
    Case(
        "add-unique-constraint",
        f'op.create_table("tmp", {PERSON_COLS}, sa.Column("name", sa.String(10)))\n'
        'op.create_unique_constraint("uq_tmp_name", "tmp", ["name"])',
        'op.drop_table("tmp")',
        triggers=False,
    ),
    Case(
        "primary-key-change",
        'op.drop_constraint("pk_persons", "persons", type_="primary")\n'
        'op.create_primary_key("pk_persons", "persons", ["id", "email"])',
        'op.drop_constraint("pk_persons", "persons", type_="primary")\n'
        'op.create_primary_key("pk_persons", "persons", ["id"])',
        severity="error",
        escalation="primary-key-change",
    ),
    Case(
        "primary-key-change",
        'op.create_table("tmp", sa.Column("id", sa.Integer(), nullable=False))\n'
        'op.create_primary_key("pk_tmp", "tmp", ["id"])',
        'op.drop_table("tmp")',
        triggers=False,
    ),
    Case(
        "unnamed-constraint",
        'op.create_foreign_key(None, "assignments", "persons", ["person_id"], ["id"], postgresql_not_valid=True)',
        'op.drop_constraint(None, "assignments", type_="foreignkey")',
        severity="error",
    ),
    Case(
        "unnamed-constraint",
        'op.create_foreign_key("fk_a_p", "assignments", "persons", ["person_id"], ["id"], postgresql_not_valid=True)',
        'op.drop_constraint("fk_a_p", "assignments", type_="foreignkey")',
        triggers=False,
    ),
    Case(
        "fk-not-valid-missing",
        'op.create_foreign_key(None, "assignments", "rotations", ["rotation_id"], ["id"], ondelete="RESTRICT")',
        'op.drop_constraint(None, "assignments", type_="foreignkey")',
        severity="error",
        fix_contains=(
            "ondelete='RESTRICT'",
            "op.f('fk_assignments_rotation_id_rotations')",
            "VALIDATE CONSTRAINT fk_assignments_rotation_id_rotations",
            "postgresql_not_valid=True",
        ),
    ),
    Case(
        "unnamed-constraint",
        'op.create_unique_constraint(None, "rotations", ["name"])',
        'op.drop_constraint(None, "rotations", type_="unique")',
        fix_contains=("op.f('uq_rotations_name')",),
    ),
    Case(
        "unnamed-constraint",
        'op.add_column("assignments", sa.Column("x", sa.Integer(), nullable=True))',
        'op.drop_constraint(None, "assignments", type_="foreignkey")\nop.drop_column("assignments", "x")',
        line=13,
        message_contains=("fails at runtime",),
    ),
    Case("fk-missing-index", NOTES, 'op.drop_table("notes")', severity="warning"),
    Case(
        "fk-missing-index",
        'op.create_foreign_key(op.f("fk_assignments_person_id_persons"), "assignments", "persons", '
        '["person_id"], ["id"], postgresql_not_valid=True)',
        'op.drop_constraint(op.f("fk_assignments_person_id_persons"), "assignments", type_="foreignkey")',
        severity="warning",
        fix_contains=(
            "In a new revision (a plain build blocks writes)",
            "postgresql_concurrently=True",
            "autocommit_block()",
        ),
    ),
    Case(
        "fk-missing-index",
        NOTES + '\nop.create_index("ix_notes_person_id", "notes", ["person_id"])',
        'op.drop_index("ix_notes_person_id", table_name="notes")\nop.drop_table("notes")',
        triggers=False,
    ),
)
