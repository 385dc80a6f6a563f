"""Type rules: column type changes (with the known-safe casts) and PostgreSQL enum value changes."""

from __future__ import annotations

import ast

from alembic_mcp.tools.history.migration_ast import OpCall, literal_value
from alembic_mcp.tools.review.rules.astutil import callee, kw, name_value, q, src
from alembic_mcp.tools.review.rules.casts import no_rewrite
from alembic_mcp.tools.review.rules.facts import ColumnTypeFact
from alembic_mcp.tools.review.rules.registry import Case, cases, on_op, rule


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
    if callee(new) == "Enum" or (old is not None and callee(old) == "Enum"):
        state.emit(
            ENUM_CHANGE,
            op,
            f"{table}.{col} changes an Enum type; autogenerate and alter_column do not add or rename "
            "PostgreSQL enum values.",
            _fix_alter_enum(new, old),
            column=col,
        )
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
    )


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
)
