"""Column rules: adding required or volatile-default columns, json columns, SET NOT NULL, renames, drops."""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass

from alembic_mcp.tools.history.migration_ast import OpCall, literal_value
from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review.rules import schema_facts
from alembic_mcp.tools.review.rules.astutil import (
    callee,
    column_spec,
    default_text,
    kw,
    list_of_str,
    name_value,
    q,
    src,
    type_label,
)
from alembic_mcp.tools.review.rules.downgrade import carrying_update
from alembic_mcp.tools.review.rules.facts import NonNullFact, NullsFact, RowsFact
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, on_op, rule

VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v[14]\w*|clock_timestamp|timeofday|"
    r"statement_timestamp|nextval|txid_current)\s*\(",
    re.I,
)


def _required_steps(table: str | None, col: str | None, type_src: str, batch: bool) -> tuple[str, str]:
    """The nullable add and the NOT NULL step of the three-phase migration."""
    if batch:  # SQLite: the NOT NULL change needs batch mode too
        prefix = f"with op.batch_alter_table({q(table)}) as batch_op:\n    batch_op."
        add = f"{prefix}add_column(sa.Column({q(col)}, {type_src}, nullable=True))"
        enforce = f"{prefix}alter_column({q(col)}, existing_type={type_src}, nullable=False)"
    else:
        add = f"op.add_column({q(table)}, sa.Column({q(col)}, {type_src}, nullable=True))"
        enforce = f"op.alter_column({q(table)}, {q(col)}, existing_type={type_src}, nullable=False)"
    return add, enforce


def _fix_required(table: str | None, col: str | None, type_src: str, batch: bool) -> str:
    add, enforce = _required_steps(table, col, type_src, batch)
    return (
        "# the three-phase migration: add nullable, backfill, then set NOT NULL\n"
        f"{add}\n"
        f'op.execute(sa.text("UPDATE {table} SET {col} = :value WHERE {col} IS NULL")'
        ".bindparams(value=...))  # the value existing rows should get\n"
        f"{enforce}\n"
        "# backfill options, a human picks the value:\n"
        f"#  - a constant: the UPDATE above, or server_default=<constant> with nullable=False\n"
        f"#  - a parent's value: UPDATE {table} SET {col} = p.<column> FROM <parent table> p "
        f"WHERE p.<key> = {table}.<its reference>; list the rows left NULL first: SELECT id FROM {table} WHERE "
        f"{col} IS NULL\n"
        f"#  - from the row's other columns: SET {col} = <expression over them>, before any drop of them"
    )


# How add-column-required's fix starts for a foreign key column (autofix leaves those to the agent and a human).
FK_BACKFILL = "# foreign key: "


@dataclass(frozen=True)
class Lookup:
    """A new foreign-key column and where its values come from: ``parent.key`` is what it references;
    ``old`` the column of the same table the migration drops after it, whose values match ``parent.match``."""

    parent: str
    key: str
    old: str | None = None
    match: str | None = None
    new: str | None = None  # the foreign key column itself


def lookup_update(table: str, col: str, look: Lookup, backend: str | None, reverse: bool = False) -> str:
    """The UPDATE that fills ``table.col`` from the parent row whose ``match`` equals the old column; with
    ``reverse``, the old column (``col``) back from the parent row the key points at."""
    alias = look.parent[0] if look.parent[0] != table[0] else "p"
    value, on = (
        (look.match, f"{alias}.{look.key} = {table}.{look.new}")
        if reverse
        else (
            look.key,
            f"{alias}.{look.match} = {table}.{look.old}",
        )
    )
    if backend in ("mysql", "mariadb"):
        return f"UPDATE {table} JOIN {look.parent} {alias} ON {on} SET {table}.{col} = {alias}.{value}"
    return f"UPDATE {table} SET {col} = {alias}.{value} FROM {look.parent} {alias} WHERE {on}"


def _nullable_add(op: OpCall, column: ast.Call) -> str:
    """The add_column call as written (every argument kept, an inline ForeignKey too) but nullable."""
    call, nullable = copy.deepcopy(op.node), copy.deepcopy(column)
    nullable.keywords = [k for k in nullable.keywords if k.arg != "nullable"] + [
        ast.keyword("nullable", ast.Constant(True))
    ]
    call.args = [nullable if a is column else a for a in op.node.args]
    call.keywords = [ast.keyword(k.arg, nullable) if k.value is column else k for k in op.node.keywords]
    return ast.unparse(call)


def _fix_required_fk(op: OpCall, spec, type_src: str, look: Lookup, backend: str | None) -> str:
    """A NOT NULL foreign key column: its backfill is a lookup of the parent row, never one constant."""
    table, col, batch = str(op.table), str(spec.name), op.batch_table is not None
    add, enforce = _required_steps(table, col, type_src, batch)
    add = add if batch else _nullable_add(op, spec.node)
    if look.old is None or look.match is None:
        return (
            f"{FK_BACKFILL}{col} references {look.parent}.{look.key}: which {look.parent} row each existing "
            f"{table} row references is a human's decision, never one constant for every row. Add it "
            "nullable, fill it, then set NOT NULL:\n"
            f"{add}\n"
            f'# op.execute("UPDATE {table} SET {col} = p.{look.key} FROM {look.parent} p '
            f'WHERE p.<{look.parent} column> = {table}.<the {table} column naming that row>")\n'
            f"{enforce}"
        )
    update = lookup_update(table, col, look, backend)
    return (
        f"{FK_BACKFILL}{col} references {look.parent}.{look.key} and replaces {look.old} (dropped later in "
        f"this migration): fill it by a lookup of {look.parent}.{look.match}, before the drop\n"
        f"{add}\n"
        f"op.execute({update!r})\n"
        f"{enforce}\n"
        f"# rows whose {look.old} matches no {look.parent}.{look.match} stay NULL and make the NOT NULL step fail: "
        f"test_roundtrip(data_from='target') lists them by id; what they should reference is a human's decision"
    )


def _lookup(state, op: OpCall, spec) -> Lookup | None:
    """The parent a new column references (an inline ForeignKey or a create_foreign_key of this migration)
    and, when this migration drops a column of the same table named after the parent after adding it
    (rotation_name for rotations), which parent column its values match."""
    reference = next((t.rpartition(".") for t, _ in spec.foreign_keys if isinstance(t, str) and "." in t), None)
    for other in state.up if reference is None else ():
        if other.name == "create_foreign_key" and other.table == op.table:
            remote = list_of_str(other.arg(4, "remote_cols"))
            parent = name_value(other.arg(2, "referent_table"))
            if list_of_str(other.arg(3, "local_cols")) == [spec.name] and parent and len(remote) == 1:
                reference = (parent, ".", remote[0])
    if reference is None:
        return None
    parent, _, key = reference
    stem = parent[:-1] if parent.endswith("s") else parent
    for other in state.up:
        old = name_value(other.arg(1, "column_name")) if other.name == "drop_column" else None
        if other.table == op.table and other.line > op.line and old and old.startswith(stem + "_"):
            return Lookup(parent, key, old, old[len(stem) + 1 :], spec.name)
    return Lookup(parent, key, new=spec.name)


def _fix_set_not_null(table: str | None, col: str | None, pg: bool) -> str:
    if not pg:
        return (
            f'op.execute("UPDATE {table} SET {col} = <value> WHERE {col} IS NULL")  # first\n'
            f"op.alter_column({q(table)}, {q(col)}, nullable=False)"
        )
    check = f"ck_{table}_{col}_not_null"
    return (
        "# op.f(): the name is final (a naming convention's ck_%(table_name)s_%(constraint_name)s would rename it)\n"
        f"# migration 1:\nop.create_check_constraint(op.f({q(check)}), {q(table)}, "
        f'"{col} IS NOT NULL", postgresql_not_valid=True)\n'
        f"# migration 2 (separate transaction):\n"
        f'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {check}")\n'
        f"op.alter_column({q(table)}, {q(col)}, nullable=False)  # PostgreSQL 12+ skips the scan\n"
        f'op.drop_constraint(op.f({q(check)}), {q(table)}, type_="check")'
    )


def _fix_volatile(table: str | None, col: str | None, type_src: str, default: str, not_null: bool = False) -> str:
    """Add the column without the default, set the default for new rows, backfill existing rows in
    batches outside the DDL transaction, then (when the column was NOT NULL) enforce it."""
    fix = (
        f"op.add_column({q(table)}, sa.Column({q(col)}, {type_src}, nullable=True))\n"
        f"op.alter_column({q(table)}, {q(col)}, server_default=sa.text({default!r}))\n"
        "# existing rows, in batches outside the DDL transaction (assumes an id key):\n"
        "with op.get_context().autocommit_block():\n"
        "    bind = op.get_bind()\n"
        "    while bind.execute(sa.text(\n"
        f'        "UPDATE {table} SET {col} = {default} WHERE id IN '
        f'(SELECT id FROM {table} WHERE {col} IS NULL LIMIT 10000)"\n'
        "    )).rowcount:\n"
        "        pass"
    )
    if not_null:
        fix += f"\nop.alter_column({q(table)}, {q(col)}, existing_type={type_src}, nullable=False)"
    return fix


def _fix_json(col: str | None) -> str:
    return (
        f"sa.Column({q(col)}, postgresql.JSONB(), ...)  # from sqlalchemy.dialects import postgresql\n"
        f"# and in the model, so the next autogenerate does not turn it back: {col} = "
        "mapped_column(sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'))"
    )


def _fix_rename_column(col: str | None, new: str | None) -> str:
    return (
        f"Keep the database name and rename only the ORM attribute: {new} = mapped_column({q(col)}, ...); "
        f"or expand/contract: add {new}, dual-write, backfill, switch reads; dropping {col} afterwards is a "
        "human's decision (drop-column-with-data)."
    )


def _fix_drop_column(table: str | None, col: str | None) -> str:
    return (
        f"Dropping {table}.{col} while it holds values is a human's decision (drop-column-with-data): tell them "
        f"how many, back it up first (backup_db(tables=[{table!r}], verify='restore')) and keep the drop only "
        "on their approval; never move it to another revision to get past the verdict. Remove the column from "
        f"the models in the same change. It holds no values when this returns true: "
        f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE {col} IS NOT NULL);"
    )


ADD_COLUMN_REQUIRED = rule(
    "add-column-required",
    "error",
    "NOT NULL column without server_default added to an existing table",
    "The ALTER fails as soon as the table has a row, and code still running the old model inserts rows "
    "without the column and breaks.",
    _fix_required,
    escalations=("large-data-migration",),
    anchors="SQ adding-required-field, AT MF103",
)
SET_NOT_NULL = rule(
    "set-not-null",
    "error",
    "alter_column(nullable=False) on an existing column",
    "SET NOT NULL takes ACCESS EXCLUSIVE and scans the whole table; it fails if any row holds NULL.",
    _fix_set_not_null,
    anchors="SQ adding-not-nullable-field, SM change_column_null, AT MF104, EU E2",
)
VOLATILE_DEFAULT = rule(
    "volatile-default",
    "error",
    "add_column with a volatile server default (PostgreSQL)",
    "A volatile default is evaluated per row: PostgreSQL rewrites the whole table under ACCESS EXCLUSIVE, "
    "blocking reads and writes for the duration.",
    _fix_volatile,
    pg_only=True,
    anchors="SQ adding-field-with-default, AT PG302",
)
JSON_COLUMN = rule(
    "json-column",
    "warning",
    "new column of type json (PostgreSQL)",
    "PostgreSQL's json has no equality operator: DISTINCT, GROUP BY, UNION and unique indexes on it fail, "
    "and every read re-parses the text.",
    _fix_json,
    pg_only=True,
    anchors="EU E3",
)
RENAME_COLUMN = rule(
    "rename-column",
    "warning",
    "alter_column(new_column_name=...)",
    "Code deployed before this migration still uses the old name and fails the moment it runs.",
    _fix_rename_column,
    escalations=("breaking-api-change",),
    anchors="SQ renaming-column, AT BC102",
)
DROP_COLUMN = rule(
    "drop-column",
    "warning",
    "drop_column",
    "Its data is gone for good, and code still selecting the column (every ORM query of the model) fails "
    "once it is dropped.",
    _fix_drop_column,
    escalations=("drop-column-with-data",),
    anchors="SQ ban-drop-column, AT DS103",
)


def _fix_destructive(table: str | None, column: str | None) -> str:
    target = f"{table}.{column}" if column else (table or "the table")
    return (
        f"Restrict the change to the rows meant (a WHERE clause), or keep the old values of {target} (copy them "
        "to a backup table first) and have a human approve the loss."
    )


DESTRUCTIVE_DATA_CHANGE = rule(
    "destructive-data-change",
    "error",
    "UPDATE/DELETE without WHERE on an existing table, or a type change whose USING discards the values",
    "Every existing row is deleted or overwritten: the old values are gone for good and downgrade() cannot "
    "bring them back.",
    _fix_destructive,
    escalations=("destructive-data-change",),
)


def destroys_data(
    state, op: OpCall | None, table: str | None, column: str | None, how: str, line: int | None = None
) -> None:
    """The values of ``table.column`` (every row of ``table`` when column is None) are lost; the database
    fact clears it when the column holds no values (the table no rows)."""
    target = f"{table}.{column}" if column else str(table)
    state.emit(
        DESTRUCTIVE_DATA_CHANGE,
        op,
        f"{how}: the existing values of {target} are lost.",
        _fix_destructive(table, column),
        table=table,
        column=column,
        line=line,
        fact=NonNullFact(table, column) if column else RowsFact(table),
        escalation=(
            f"{how}; the database was not checked, so {target} is assumed to hold data.",
            {"table": table, "column": column, "how": how},
        ),
        loses=how,
    )


@on_file
def partial_batch_recreate(state) -> None:
    """``batch_alter_table(..., recreate="always", include_columns=[...])``: the copy keeps only those columns."""
    func = state.migration.functions.get("upgrade")
    for node in walk(func) if func is not None else ():
        if not (isinstance(node, ast.Call) and callee(node) == "batch_alter_table" and state.runs(node.lineno)):
            continue
        listed = _included_columns(node)
        if listed is not None:
            table = name_value(node.args[0] if node.args else kw(node, "table_name"))
            how = f"batch_alter_table recreates {table} copying only include_columns={src(listed)[:60]}"
            destroys_data(state, None, table, None, how, line=node.lineno)


def _included_columns(batch: ast.Call) -> ast.expr | None:
    """``include_columns=...`` given directly or inside ``reflect_kwargs={...}``."""
    reflect = kw(batch, "reflect_kwargs")
    if isinstance(reflect, ast.Dict):
        for key, value in zip(reflect.keys, reflect.values, strict=True):
            if key is not None and literal_value(key) == "include_columns":
                return value
    return kw(batch, "include_columns")


def discards_values(using: str | None, column: str | None) -> bool:
    """A ``USING`` expression that does not read the column: every old value is replaced."""
    return bool(using and column) and re.search(rf'(?i)(?<![\w"]){re.escape(column or "")}(?!\w)', using or "") is None


@on_op("add_column")
def add_column(state, op: OpCall) -> None:
    spec = column_spec(op.arg(1, "column"))
    if spec is None:
        return
    table, col = op.table, spec.name
    if spec.type_name == "JSON":
        state.emit(JSON_COLUMN, op, f"New column {table}.{col} has type json.", _fix_json(col), column=col)
    if op.table_created_here:
        state.clear(ADD_COLUMN_REQUIRED.id, table)
        return
    _volatile_default(state, op, spec)
    if spec.nullable is False and spec.server_default is None and not spec.primary_key:
        type_src, batch, look = type_label(spec.type_node), op.batch_table is not None, _lookup(state, op, spec)
        fix = (
            _fix_required(table, col, type_src, batch)
            if look is None or table is None or col is None
            else _fix_required_fk(op, spec, type_src, look, state.backend)
        )
        state.emit(
            ADD_COLUMN_REQUIRED,
            op,
            f"NOT NULL column {table}.{col} is added to existing table {table} without a server_default.",
            fix,
            column=col,
            fact=RowsFact(table),
        )
    else:
        state.clear(ADD_COLUMN_REQUIRED.id, table)


def _replaced_by_key(state, table: str | None, col: str | None) -> Lookup | None:
    """How upgrade() replaced ``table.col`` by a foreign key column filled by a lookup, if it did."""
    for up in state.up:
        spec = column_spec(up.arg(1, "column")) if up.name == "add_column" and up.table == table else None
        look = _lookup(state, up, spec) if spec is not None else None
        if look is not None and look.old == col and look.match is not None:
            return look
    return None


def _fix_restore_replaced(op: OpCall, spec, type_src: str, look: Lookup, backend: str | None) -> str:
    table, col = str(op.table), str(spec.name)
    add, enforce = _required_steps(table, col, type_src, op.batch_table is not None)
    add = add if op.batch_table is not None else _nullable_add(op, spec.node)
    update = lookup_update(table, col, look, backend, reverse=True)
    return (
        f"{FK_BACKFILL}upgrade() replaced {col} by {look.new} (references {look.parent}.{look.key}): restore "
        f"{col} by a lookup of {look.parent}.{look.match}, before {look.new} is dropped\n"
        f"{add}\nop.execute({update!r})\n{enforce}"
    )


@on_file
def downgrade_required_column(state) -> None:
    """downgrade() adding a NOT NULL column without a server default back to a table with rows fails as an
    upgrade would: the column dropped by upgrade() comes back nullable, refilled, then NOT NULL."""
    created = {o.table for o in state.up if o.name == "create_table"}
    for op in state.down:
        spec = column_spec(op.arg(1, "column")) if op.name == "add_column" and op.table not in created else None
        if spec is None or spec.nullable is not False or spec.server_default is not None or spec.primary_key:
            continue
        type_src, look = type_label(spec.type_node), _replaced_by_key(state, op.table, spec.name)
        fix = (
            _fix_required(op.table, spec.name, type_src, op.batch_table is not None)
            if look is None
            else _fix_restore_replaced(op, spec, type_src, look, state.backend)
        )
        message = f"downgrade() adds NOT NULL column {op.table}.{spec.name} back to existing table {op.table} "
        state.emit(
            ADD_COLUMN_REQUIRED,
            op,
            message + "without a server_default.",
            fix,
            column=spec.name,
            fact=RowsFact(op.table),
        )


def _volatile_default(state, op: OpCall, spec) -> None:
    table, col = op.table, spec.name
    default = default_text(spec.server_default)
    if spec.server_default is not None and VOLATILE.search(default):
        state.emit(
            VOLATILE_DEFAULT,
            op,
            f"Column {table}.{col} is added with the volatile default {default}.",
            _fix_volatile(table, col, type_label(spec.type_node), default, spec.nullable is False),
            column=col,
        )
    elif spec.server_default is not None:
        state.clear(VOLATILE_DEFAULT.id, table)


@on_op("create_table")
def json_in_new_table(state, op: OpCall) -> None:
    for arg in op.node.args[1:]:
        spec = column_spec(arg)
        if spec is not None and spec.type_name == "JSON":
            state.emit(
                JSON_COLUMN,
                op,
                f"New column {op.table}.{spec.name} has type json.",
                _fix_json(spec.name),
                column=spec.name,
                line=arg.lineno,
            )


@on_op("alter_column")
def alter_column(state, op: OpCall) -> None:
    table = op.table
    col = name_value(op.arg(1, "column_name"))
    kwargs = op.kwargs
    if op.table_created_here or (table, col) in state.added_columns:
        state.clear(SET_NOT_NULL.id, table)
        if "new_column_name" in kwargs:
            state.clear(RENAME_COLUMN.id, table)
        return
    using = literal_value(kwargs.get("postgresql_using"))
    if isinstance(using, str) and discards_values(using, col):
        destroys_data(state, op, table, col, f"alter_column changes the type of {table}.{col} USING {using}")
    if literal_value(kwargs.get("nullable")) is False:
        # NOT NULL already (declared so by the revisions the schema model replayed): nothing to scan or fail
        if table in state.validated_tables or schema_facts.already_not_null(state, op):
            state.clear(SET_NOT_NULL.id, table)
        else:
            state.emit(
                SET_NOT_NULL,
                op,
                f"alter_column sets {table}.{col} NOT NULL on an existing column.",
                _fix_set_not_null(table, col, state.pg),
                column=col,
                fact=NullsFact(table, col),
            )
    if "new_column_name" in kwargs:
        _rename(state, op, table, col, name_value(kwargs.get("new_column_name")))


def _rename(state, op: OpCall, table: str | None, col: str | None, new_name: str | None) -> None:
    state.emit(
        RENAME_COLUMN,
        op,
        f"Column {table}.{col} is renamed to {new_name}.",
        _fix_rename_column(col, new_name),
        column=col,
        escalation=(
            f"Renaming {table}.{col} to {new_name} breaks running code until every instance uses the new name; "
            "proceed only after test_roundtrip verifies it and the models agree.",
            {"table": table, "column": col, "new_name": new_name},
        ),
        rename=("column", table, col, new_name),
    )


@on_op("drop_column")
def drop_column(state, op: OpCall) -> None:
    if op.table_created_here:
        return
    table, col = op.table, name_value(op.arg(1, "column_name"))
    carry = carrying_update(state.up, state.exec_arg, op) if op.function == "upgrade" else None
    carried = (
        f" The UPDATE at line {carry[0]} first carries its values into {', '.join(carry[1])}: what it matches is"
        " kept there, rows it matches nothing for lose theirs (rehearse with data_from='target' to see them)."
        if carry is not None
        else ""
    )
    state.emit(
        DROP_COLUMN,
        op,
        f"Column {table}.{col} is dropped.{carried}",
        _fix_drop_column(table, col),
        column=col,
        fact=NonNullFact(table, col),
        escalation=(
            f"{table}.{col} is dropped; the database was not checked, so it is assumed to hold data.",
            {"table": table, "column": col, "non_null_values": None},
        ),
    )


PERSON_COLS = 'sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name="pk_tmp")'

CASES = cases(
    Case(
        "destructive-data-change",
        'with op.batch_alter_table("persons", recreate="always", reflect_kwargs={"include_columns": ["id", "name"]})'
        " as b:\n    pass",
        escalation="destructive-data-change",
        table="persons",
        backend="sqlite",
    ),
    Case(
        "destructive-data-change",
        'with op.batch_alter_table("persons", recreate="always") as b:\n    b.alter_column("name", nullable=False)',
        triggers=False,
        backend="sqlite",
    ),
    Case(
        "destructive-data-change",
        'op.alter_column("persons", "pgy_level", type_=sa.Integer(), postgresql_using="NULL")',
        severity="error",
        escalation="destructive-data-change",
        column="pgy_level",
    ),
    Case(
        "destructive-data-change",
        'op.alter_column("persons", "pgy_level", type_=sa.Integer(), postgresql_using="pgy_level::integer")',
        triggers=False,
    ),
    Case(
        "add-column-required",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=False))',
        'op.drop_column("persons", "nick")',
        severity="error",
        line=9,
        table="persons",
        column="nick",
        fix_contains=("nullable=True", "UPDATE persons SET nick", "nullable=False"),
    ),
    Case(
        "add-column-required",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=False, server_default="x"))',
        'op.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case(
        "add-column-required",
        'with op.batch_alter_table("persons") as batch_op:\n'
        '    batch_op.add_column(sa.Column("nick", sa.String(20), nullable=False))',
        'op.drop_column("persons", "nick")',
        backend="sqlite",
        fix_contains=("batch_op.alter_column('nick'",),
    ),
    Case(
        "add-column-required",
        'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=False))\n'
        'op.create_foreign_key("fk_a_r", "assignments", "rotations", ["rotation_id"], ["id"], ondelete="RESTRICT")\n'
        'op.drop_column("assignments", "rotation_name")',
        'op.add_column("assignments", sa.Column("rotation_name", sa.String(120), nullable=True))\n'
        'op.drop_constraint("fk_a_r", "assignments", type_="foreignkey")\n'
        'op.drop_column("assignments", "rotation_id")',
        column="rotation_id",
        fix_contains=(
            "op.execute('UPDATE assignments SET rotation_id = r.id FROM rotations r "
            "WHERE r.name = assignments.rotation_name')",
            "replaces rotation_name",
            "a human's decision",
        ),
    ),
    Case(
        "add-column-required",
        'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), sa.ForeignKey("rotations.id"), '
        "nullable=False))",
        'op.drop_column("assignments", "rotation_id")',
        column="rotation_id",
        fix_contains=("references rotations.id: which rotations row", "a human's decision", "never one constant"),
    ),
    Case(
        "add-column-required",
        'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))\n'
        'op.create_foreign_key("fk_a_r", "assignments", "rotations", ["rotation_id"], ["id"])\n'
        'op.drop_column("assignments", "rotation_name")',
        'op.add_column("assignments", sa.Column("rotation_name", sa.String(120), nullable=False))\n'
        'op.drop_constraint("fk_a_r", "assignments", type_="foreignkey")\n'
        'op.drop_column("assignments", "rotation_id")',
        column="rotation_name",
        message_contains=("downgrade() adds NOT NULL column assignments.rotation_name back",),
        fix_contains=(
            "op.execute('UPDATE assignments SET rotation_name = r.name FROM rotations r "
            "WHERE r.id = assignments.rotation_id')",
        ),
    ),
    Case(
        "add-column-required",
        'op.drop_column("assignments", "rotation_name")',
        'op.add_column("assignments", sa.Column("rotation_name", sa.String(120), nullable=True))',
        triggers=False,
    ),
    Case(
        "set-not-null",
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)',
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)',
        severity="error",
        column="pgy_level",
        fix_contains=("postgresql_not_valid=True", "VALIDATE"),
    ),
    Case(
        "set-not-null",
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=True)',
        'op.alter_column("persons", "pgy_level", existing_type=sa.Integer(), nullable=False)',
        triggers=False,
    ),
    Case(
        "volatile-default",
        'op.add_column("persons", sa.Column("token", sa.String(36), nullable=False, '
        'server_default=sa.text("gen_random_uuid()")))',
        'op.drop_column("persons", "token")',
        severity="error",
    ),
    Case(
        "volatile-default",
        'op.add_column("persons", sa.Column("seen", sa.DateTime(), nullable=False, server_default=sa.text("now()")))',
        'op.drop_column("persons", "seen")',
        triggers=False,
    ),
    Case(
        "json-column",
        'op.add_column("persons", sa.Column("prefs", sa.JSON(), nullable=True))',
        'op.drop_column("persons", "prefs")',
        severity="warning",
    ),
    Case(
        "json-column",
        'op.add_column("persons", sa.Column("prefs", postgresql.JSONB(), nullable=True))',
        'op.drop_column("persons", "prefs")',
        triggers=False,
    ),
    Case(
        "json-column",
        'op.add_column("persons", sa.Column("prefs", sa.JSON(), nullable=True))',
        'op.drop_column("persons", "prefs")',
        triggers=False,
        backend="sqlite",
    ),
    Case(
        "rename-column",
        'op.alter_column("persons", "name", new_column_name="full_name")',
        'op.alter_column("persons", "full_name", new_column_name="name")',
        severity="warning",
        escalation="breaking-api-change",
    ),
    Case(
        "rename-column",
        'op.alter_column("persons", "name", comment="display name")',
        'op.alter_column("persons", "name", comment=None)',
        triggers=False,
    ),
    Case(
        "drop-column",
        'op.drop_column("persons", "pgy_level")',
        'op.add_column("persons", sa.Column("pgy_level", sa.Integer(), nullable=True))',
        severity="warning",
        escalation="drop-column-with-data",
        column="pgy_level",
    ),
    Case(
        "drop-column",
        f'op.create_table("tmp", {PERSON_COLS}, sa.Column("x", sa.Integer()))\nop.drop_column("tmp", "x")',
        'op.drop_table("tmp")',
        triggers=False,
    ),
)
