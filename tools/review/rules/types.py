"""Type rules: column type changes (with the known-safe casts), PostgreSQL casts that need USING, enum
types a column needs before it changes to them (and drops after it goes back), enum value changes."""

from __future__ import annotations

import ast
import textwrap

from alembic_mcp.tools.history.migration_ast import OpCall, literal_value
from alembic_mcp.tools.review.rules.astutil import kw, name_value, q, src
from alembic_mcp.tools.review.rules.casts import category, enum_name, no_rewrite, pg_cast_missing, pg_type_sql
from alembic_mcp.tools.review.rules.effects import migration_module
from alembic_mcp.tools.review.rules.facts import ColumnTypeFact
from alembic_mcp.tools.review.rules.pgtypes import TypeStep, created_before, mentions, type_steps
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, on_op, rule
from alembic_mcp.tools.review.rules.tamper import bindings


def _fix_type_change(table: str | None, col: str | None, new: str) -> str:
    return (
        f"Expand/contract: op.add_column({q(table)}, sa.Column('{col}_new', {new}, nullable=True)); "
        f"dual-write in the application; backfill in batches; switch reads; drop {col} later."
    )


def _enum_values(node: ast.expr | None) -> tuple[str | None, list[str]]:
    """(name, values) of ``sa.Enum("a", "b", name="x")``."""
    if not isinstance(node, ast.Call):
        return None, []
    values = [v for v in (literal_value(a) for a in node.args) if isinstance(v, str)]
    return name_value(kw(node, "name")), values


def _fix_alter_enum(new: ast.expr, old: ast.expr | None) -> str:
    """Values added: ALTER TYPE ... ADD VALUE in an autocommit block, in place of the alter_column.
    Values removed or renamed: no literal fix, the options are described."""
    name, new_values = _enum_values(new)
    old_name, old_values = _enum_values(old)
    added = [v for v in new_values if v not in old_values]
    if name and name == old_name and added and set(old_values) <= set(new_values):
        statements = "\n".join(
            f"    op.execute({f'ALTER TYPE {name} ADD VALUE IF NOT EXISTS {value!r}'!r})" for value in added
        )
        return "# replaces the alter_column: the column keeps its type, the type gains the values\n" + (
            "with op.get_context().autocommit_block():\n" + statements
        )
    return _fix_enum()


def _fix_enum(statement: str | None = None, rename: bool = False) -> str:
    if statement is None:
        return (
            "with op.get_context().autocommit_block():\n"
            "    op.execute(\"ALTER TYPE <enum_name> ADD VALUE IF NOT EXISTS '<new value>'\")"
        )
    fix = f"with op.get_context().autocommit_block():\n    op.execute({statement!r})"
    return fix + ("\n# deploy code accepting both values first" if rename else "")


CHANGE_COLUMN_TYPE = rule(
    "change-column-type",
    "warning",
    "alter_column(type_=...) on an existing column",
    "Unless the cast is binary-compatible (varchar widening, numeric precision up) PostgreSQL rewrites the "
    "table under ACCESS EXCLUSIVE, and clients reading the old type may break.",
    _fix_type_change,
    escalations=("breaking-api-change", "primary-key-change"),
    anchors="SQ changing-column-type, AT PG301, EU E5",
)
ENUM_CHANGE = rule(
    "enum-change",
    "warning",
    "PostgreSQL enum values added or renamed",
    "The application and the database disagree on the allowed values: inserts of the new value fail with "
    "'invalid input value for enum'.",
    _fix_enum,
    pg_only=True,
    anchors="SM rename_enum_value",
)


ENUM_TYPE_MISSING = rule(
    "enum-type-missing",
    "error",
    "alter_column to an enum type nothing creates first",
    "alter_column(type_=sa.Enum(...)) does not create the PostgreSQL type: the ALTER fails with "
    "'type ... does not exist' unless the migration (or an earlier one) creates it first.",
    lambda: "sa.Enum(..., name='<enum_name>').create(op.get_bind(), checkfirst=True)",
    pg_only=True,
)
CAST_NEEDS_USING = rule(
    "cast-needs-using",
    "error",
    "type change PostgreSQL cannot cast without postgresql_using",
    "PostgreSQL refuses: the column cannot be cast automatically (no implicit or assignment cast from the old "
    "type to the new one, e.g. varchar to an enum, text to integer or boolean); ALTER ... TYPE needs USING.",
    lambda: "op.alter_column(..., postgresql_using='<column>::<new type>')",
    pg_only=True,
)
ENUM_TYPE_NOT_DROPPED = rule(
    "enum-type-not-dropped",
    "warning",
    "downgrade() leaves an enum type upgrade() created, or drops it too early",
    "The type outlives the downgrade: upgrading again fails on CREATE TYPE (unless checkfirst=True), and a "
    "DROP TYPE before the column goes back fails because the column still uses it.",
    lambda: "op.execute('DROP TYPE IF EXISTS <enum_name>')",
    pg_only=True,
)


def _values_change(old: ast.expr | None, new: ast.expr | None) -> bool:
    """Old and new are the same existing enum type (one name) with other values."""
    name = enum_name(new)
    return name is not None and name == enum_name(old) and _enum_values(old)[1] != _enum_values(new)[1]


def known_safe_cast(old: ast.expr | None, new: ast.expr | None, backend: str | None = None) -> bool:
    """The database changes the type in its catalogue only (tools/review/rules/casts.py's table)."""
    return no_rewrite(old, new, backend)


@on_op("alter_column")
def type_change(state, op: OpCall) -> None:
    table, col = op.table, name_value(op.arg(1, "column_name"))
    if op.table_created_here or (table, col) in state.added_columns:
        state.clear(CHANGE_COLUMN_TYPE.id, table)
        return
    if "type_" not in op.kwargs:
        return
    new, old = op.kwargs["type_"], op.kwargs.get("existing_type")
    if _values_change(old, new):
        state.emit(
            ENUM_CHANGE,
            op,
            f"{table}.{col} changes the values of enum type {enum_name(new)}; autogenerate and alter_column do "
            "not add or rename PostgreSQL enum values.",
            _fix_alter_enum(new, old),
            column=col,
        )
    _type_created(state, op, table, col)
    if known_safe_cast(old, new, state.backend):
        state.clear(CHANGE_COLUMN_TYPE.id, table)
        return
    old_src = src(old) if old is not None else None
    state.emit(
        CHANGE_COLUMN_TYPE,
        op,
        f"The type of {table}.{col} changes to {src(new)}"
        + (f" (from {old_src})." if old_src else " (the old type is not stated: existing_type)."),
        _fix_type_change(table, col, src(new)),
        column=col,
        fact=ColumnTypeFact(table, col),
        escalation=(
            f"Changing the type of {table}.{col} rewrites the table and may break clients.",
            {"table": table, "column": col, "new_type": src(new), "old_type": old_src},
        ),
        old_type=old_src,
        new_type=src(new),
        new_type_callee=_sqlalchemy_callee(state, new),
        old_type_callee=_sqlalchemy_callee(state, old),
    )


def _sqlalchemy_callee(state, node: ast.expr | None) -> str | None:
    """The dotted path of the class a type expression calls (``sqlalchemy.Boolean`` for ``String(10)``
    after ``from sqlalchemy import Boolean as String``), when its name is imported from SQLAlchemy and bound
    once in the file; None otherwise (pipeline then does not compare it with the models')."""
    if node is None:
        return None
    func = node.func if isinstance(node, ast.Call) else node
    attributes: list[str] = []
    while isinstance(func, ast.Attribute):
        attributes.insert(0, func.attr)
        func = func.value
    module = migration_module(state.migration)
    if not isinstance(func, ast.Name) or bindings(module.tree, func.id) != 1:
        return None
    imported = module.imports.get(func.id, "")
    return ".".join([imported, *attributes]) if imported.split(".")[0] == "sqlalchemy" else None


# ------------------------------------------------------------------ enum types and USING casts


def _missing_type(state, op: OpCall) -> tuple[str, ast.expr] | None:
    """(N, its type expression) when the alter_column changes a column to enum type N and nothing creates N
    before it: not this revision, and no earlier revision names it (when they were read)."""
    new = op.kwargs.get("type_")
    name = enum_name(new)
    if new is None or name is None or created_before(state.migration, "upgrade", name, op.line):
        return None
    earlier = state.definitions.earlier if state.definitions is not None else None
    if earlier and any(mentions(migration, name) for migration in earlier):
        return None  # an earlier revision names the type: it may create it (silence over a false alarm)
    return name, new


def _type_created(state, op: OpCall, table: str | None, col: str | None) -> None:
    """An alter_column to enum type N: something must create N before it (this revision, or an earlier one)."""
    missing = _missing_type(state, op) if state.pg else None
    if missing is None:
        return
    name, new = missing
    # without the history (autofix re-reading its own edit) the clause about earlier revisions is left out
    where = " nor does any earlier revision name it" if state.definitions is not None else ""
    state.emit(
        ENUM_TYPE_MISSING,
        op,
        f"{table}.{col} becomes enum type {name}, but nothing in this revision creates {name} before the "
        f"alter_column{where}: PostgreSQL fails with 'type \"{name}\" does not exist'.",
        _fix_create_type(new, name),
        column=col,
        where="insert-before",
    )


def _fix_create_type(new: ast.expr, name: str) -> str:
    return (
        "# before the alter_column (checkfirst: a re-upgrade after the downgrade does not fail on it)\n"
        f"{src(new)}.create(op.get_bind(), checkfirst=True)\n"
        "# and in downgrade(), after the column is altered back:\n"
        f"# op.execute('DROP TYPE IF EXISTS {name}')"
    )


@on_file
def casts_need_using(state) -> None:
    """PostgreSQL: a type change with no implicit or assignment cast needs postgresql_using, both ways."""
    if not state.pg:
        return
    for op in state.up + state.down:
        if op.name != "alter_column" or "postgresql_using" in op.kwargs or "type_" not in op.kwargs:
            continue
        old, new = op.kwargs.get("existing_type"), op.kwargs["type_"]
        col = name_value(op.arg(1, "column_name"))
        if col is None or not pg_cast_missing(old, new):
            continue
        using = using_cast(col, old, new)
        state.emit(
            CAST_NEEDS_USING,
            op,
            f"{op.function}(): PostgreSQL refuses: column {col} cannot be cast automatically from {src(old)} to "
            f"{src(new)}; the alter_column needs postgresql_using={using!r}.",
            _fix_using(state, op, using),
            column=col,
        )


def using_cast(col: str, old: ast.expr | None, new: ast.expr) -> str:
    """``role::person_role``: the USING expression converting the column (through text when the old type
    is neither text nor varchar and the new one is an enum)."""
    column = col if col.isidentifier() and col == col.lower() else '"' + col.replace('"', '""') + '"'
    via_text = enum_name(new) is not None and category(old) not in (None, "string")
    return f"{column}{'::text' if via_text else ''}::{pg_type_sql(new)}"


def _fix_using(state, op: OpCall, using: str) -> str:
    """The alter_column as written, with postgresql_using as its last argument."""
    body = _statement_text(state, op).rstrip()[:-1].rstrip()  # without its closing parenthesis
    argument = f"postgresql_using={using!r})"
    if "\n" in body:
        last = body.splitlines()[-1]
        indent = last[: len(last) - len(last.lstrip())]
        call = f"{body}{'' if body.endswith(',') else ','}\n{indent}{argument}"
    else:
        call = f"{body}{'' if body.endswith(('(', ',')) else ','} {argument}"
    return "# values the cast cannot convert still fail: map them first (an UPDATE, or a CASE in the USING)\n" + call


@on_file
def enum_types_dropped(state) -> None:
    """A type upgrade() creates is dropped by downgrade(), after the column that uses it goes back."""
    if not state.pg or not state.down:
        return
    downs = type_steps(state.migration, "downgrade")
    judged: set[str] = set()
    for step in type_steps(state.migration, "upgrade") + _to_create(state):
        if (
            step.kind != "create"
            or step.name in judged
            or any(s.kind == "create" and s.name == step.name for s in downs)
        ):
            continue
        judged.add(step.name)
        back = [
            op
            for op in state.down
            if op.name == "alter_column" and enum_name(op.kwargs.get("existing_type")) == step.name
        ]
        drops = [s for s in downs if s.kind == "drop" and s.name == step.name]
        _judge_drop(state, step, back, drops)


def _to_create(state) -> list[TypeStep]:
    """The types enum-type-missing asks upgrade() to create (with checkfirst=True)."""
    found = ((op, _missing_type(state, op)) for op in state.up if op.name == "alter_column")
    return [TypeStep("create", missing[0], op.line, True, op.node) for op, missing in found if missing]


def _judge_drop(state, created: TypeStep, back: list[OpCall], drops: list[TypeStep]) -> None:
    """The drop of ``created`` in downgrade(): missing (a re-upgrade may fail on it), or before the alter_column
    that stops the column using the type (PostgreSQL refuses it)."""
    name, last = created.name, back[-1] if back else None
    if drops and (last is None or drops[-1].line > (last.node.end_lineno or last.line)):
        return
    drop = f"op.execute('DROP TYPE IF EXISTS {name}')"
    if drops:
        message = f"downgrade() drops type {name} before the column using it is altered back: PostgreSQL refuses"
        fix = f"Move the drop of {name} after the alter_column that changes the column back: {drop}"
        severity = "error"
    else:
        rerun = "" if created.idempotent else f'; upgrading again fails: type "{name}" already exists'
        message = f"downgrade() leaves type {name}, which this revision creates (or must create){rerun}."
        fix = (
            f"{_statement_text(state, last)}\n{drop}"
            if last
            else f"Add {drop} to downgrade(), after the statement that stops every column using the type."
        )
        severity = "warning" if created.idempotent else "error"
    state.emit(
        ENUM_TYPE_NOT_DROPPED,
        last,
        message,
        fix,
        severity=severity,
        line=None if last else created.line,
        table=last.table if last else None,
        **({"where": "replace"} if last and not drops else {}),  # else placed by hand: after what frees the type
    )


def _statement_text(state, op: OpCall) -> str:
    """The operation as written (its lines, dedented), so the fix replaces it with itself and more."""
    segment = ast.get_source_segment(state.migration.source, op.node, padded=True) or ast.unparse(op.node)
    return textwrap.dedent(segment)


CASES = cases(
    Case(
        "change-column-type",
        'op.alter_column("persons", "pgy_level", type_=sa.String(10), existing_type=sa.Integer())',
        'op.alter_column("persons", "pgy_level", type_=sa.Integer(), existing_type=sa.String(10))',
        severity="warning",
        escalation="breaking-api-change",
    ),
    Case(
        "change-column-type",
        'op.alter_column("persons", "name", type_=sa.String(200), existing_type=sa.String(120))',
        'op.alter_column("persons", "name", type_=sa.String(120), existing_type=sa.String(200))',
        triggers=False,
    ),
    Case(
        "change-column-type",
        'op.alter_column("persons", "name", type_=sa.String(50), existing_type=sa.String(120))',
        'op.alter_column("persons", "name", type_=sa.String(120), existing_type=sa.String(50))',
        message_contains=("from sa.String(120)",),
    ),
    Case(
        "change-column-type",
        'op.alter_column("rotations", "rate", type_=sa.Numeric(12, 2), existing_type=sa.Numeric(10, 2))',
        'op.alter_column("rotations", "rate", type_=sa.Numeric(10, 2), existing_type=sa.Numeric(12, 2))',
        triggers=False,
    ),
    Case(
        "enum-change",
        "op.execute(\"ALTER TYPE person_role ADD VALUE 'chief'\")",
        severity="warning",
    ),
    Case(
        "enum-change",
        "with op.get_context().autocommit_block():\n"
        "    op.execute(\"ALTER TYPE person_role ADD VALUE IF NOT EXISTS 'chief'\")",
        triggers=False,
    ),
    Case(
        "enum-change",
        'op.alter_column("persons", "role", type_=sa.Enum("a", "b", "c", name="role"), '
        'existing_type=sa.Enum("a", "b", name="role"))',
        'op.alter_column("persons", "role", type_=sa.Enum("a", "b", name="role"), '
        'existing_type=sa.Enum("a", "b", "c", name="role"))',
    ),
    Case(
        "enum-change",
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20), postgresql_using='role::person_role')",
        triggers=False,
    ),
    Case(
        "enum-type-missing",
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20), postgresql_using='role::person_role')",
        severity="error",
        column="role",
        fix_contains=("sa.Enum('resident', 'faculty', name='person_role').create(op.get_bind(), checkfirst=True)",),
        message_contains=("nothing in this revision creates person_role",),
    ),
    Case(
        "enum-type-missing",
        'sa.Enum("resident", "faculty", name="person_role").create(op.get_bind(), checkfirst=True)\n'
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20), postgresql_using='role::person_role')",
        triggers=False,
    ),
    Case(
        "enum-type-missing",
        "op.execute(\"CREATE TYPE person_role AS ENUM ('resident', 'faculty')\")\n"
        'op.alter_column("persons", "role", type_=postgresql.ENUM("resident", "faculty", name="person_role", '
        "create_type=False), existing_type=sa.VARCHAR(length=20), postgresql_using='role::person_role')",
        triggers=False,
    ),
    Case(
        "enum-type-missing",
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20))",
        triggers=False,
        backend="sqlite",
    ),
    Case(
        "cast-needs-using",
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20))",
        severity="error",
        column="role",
        message_contains=("cannot be cast automatically",),
        fix_contains=("postgresql_using='role::person_role'",),
    ),
    Case(
        "cast-needs-using",
        'op.alter_column("persons", "pgy_level", type_=sa.Integer(), existing_type=sa.Text())',
        fix_contains=("postgresql_using='pgy_level::integer'",),
    ),
    Case(
        "cast-needs-using",
        "pass",
        'op.alter_column("persons", "active", type_=sa.Boolean(), existing_type=sa.String(5))',
        message_contains=("downgrade(): PostgreSQL refuses",),
    ),
    Case(
        "cast-needs-using",
        'op.alter_column("persons", "pgy_level", type_=sa.Integer(), existing_type=sa.Text(), '
        "postgresql_using='pgy_level::integer')",
        triggers=False,
    ),
    Case(
        "cast-needs-using",
        'op.alter_column("persons", "pgy_level", type_=sa.BigInteger(), existing_type=sa.Integer())\n'
        'op.alter_column("persons", "role", type_=sa.String(20), existing_type=sa.Enum("a", "b", name="r"))',
        triggers=False,
    ),
    Case(
        "cast-needs-using",
        'op.alter_column("persons", "pgy_level", type_=sa.Integer(), existing_type=sa.Text())',
        triggers=False,
        backend="sqlite",
    ),
    Case(
        "enum-type-not-dropped",
        'sa.Enum("resident", "faculty", name="person_role").create(op.get_bind())\n'
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20), postgresql_using='role::person_role')",
        'op.alter_column("persons", "role", type_=sa.VARCHAR(length=20), '
        'existing_type=sa.Enum("resident", "faculty", name="person_role"))',
        severity="error",
        message_contains=("already exists",),
        fix_contains=("op.execute('DROP TYPE IF EXISTS person_role')",),
    ),
    Case(
        "enum-type-not-dropped",
        'sa.Enum("resident", "faculty", name="person_role").create(op.get_bind(), checkfirst=True)\n'
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20), postgresql_using='role::person_role')",
        'op.execute("DROP TYPE person_role")\n'
        'op.alter_column("persons", "role", type_=sa.VARCHAR(length=20), '
        'existing_type=sa.Enum("resident", "faculty", name="person_role"))',
        severity="error",
        message_contains=("before the column",),
    ),
    Case(
        "enum-type-not-dropped",
        'sa.Enum("resident", "faculty", name="person_role").create(op.get_bind(), checkfirst=True)\n'
        'op.alter_column("persons", "role", type_=sa.Enum("resident", "faculty", name="person_role"), '
        "existing_type=sa.VARCHAR(length=20), postgresql_using='role::person_role')",
        'op.alter_column("persons", "role", type_=sa.VARCHAR(length=20), '
        'existing_type=sa.Enum("resident", "faculty", name="person_role"))\n'
        'sa.Enum(name="person_role").drop(op.get_bind(), checkfirst=True)',
        triggers=False,
    ),
    Case(
        "enum-type-not-dropped",
        'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("kind", sa.Enum("a", "b", name="badge_kind")))',
        'op.drop_table("badges")',
        severity="error",
        message_contains=('upgrading again fails: type "badge_kind" already exists',),
        fix_contains=("DROP TYPE IF EXISTS badge_kind",),
    ),
    Case(
        "enum-type-not-dropped",
        'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("kind", sa.Enum("a", "b", name="badge_kind")))',
        'op.drop_table("badges")\nop.execute("DROP TYPE badge_kind")',
        triggers=False,
    ),
)
