"""Table rules: dropping and renaming existing tables."""

from __future__ import annotations

from alembic_mcp.tools.history.migration_ast import OpCall
from alembic_mcp.tools.review.rules.astutil import name_value
from alembic_mcp.tools.review.rules.facts import RowsFact
from alembic_mcp.tools.review.rules.registry import Case, cases, on_op, rule


def _fix_drop_table(table: str | None) -> str:
    return (
        f"Dropping {table} while it holds rows is a human's decision (drop-table-with-data): tell them how many, "
        f"back it up first (backup_db(tables=[{table!r}], verify='restore')) and keep the drop only on their "
        "approval; never move it to another revision to get past the verdict. Stop reading and writing the "
        "table in the code in the same change."
    )


def _fix_rename_table(old: str | None, new: str | None) -> str:
    return (
        f"Keep the table name and set __tablename__ = {old!r} in the model; or create a view {old} over "
        f"{new} for the transition."
    )


DROP_TABLE = rule(
    "drop-table",
    "warning",
    "drop_table of an existing table (or raw DROP TABLE / TRUNCATE)",
    "Every row is lost and any code or view reading the table breaks.",
    _fix_drop_table,
    escalations=("drop-table-with-data",),
    anchors="SQ ban-drop-table, AT DS102",
)
RENAME_TABLE = rule(
    "rename-table",
    "warning",
    "rename_table",
    "Code deployed before this migration still queries the old name and fails at once.",
    _fix_rename_table,
    escalations=("breaking-api-change",),
    anchors="SQ renaming-table, AT BC101",
)


def drop_table_hit(state, op: OpCall, table: str | None, what: str = "dropped") -> None:
    """A table loses its rows (op.drop_table, or raw DROP TABLE / TRUNCATE from the sql family)."""
    state.emit(
        DROP_TABLE,
        op,
        f"Table {table} is {what}.",
        _fix_drop_table(table),
        table=table,
        fact=RowsFact(table),
        escalation=(
            f"Table {table} is {what}; the database was not checked, so it is assumed to have rows.",
            {"table": table, "rows": None},
        ),
    )


@on_op("drop_table")
def drop_table(state, op: OpCall) -> None:
    if not op.table_created_here:
        drop_table_hit(state, op, op.table)


@on_op("rename_table")
def rename_table(state, op: OpCall) -> None:
    old, new = op.table, name_value(op.arg(1, "new_table_name"))
    state.emit(
        RENAME_TABLE,
        op,
        f"Table {old} is renamed to {new}.",
        _fix_rename_table(old, new),
        escalation=(
            f"Renaming {old} to {new} breaks running code until every instance uses the new name; "
            "proceed only after test_roundtrip verifies it and the models agree.",
            {"table": old, "new_name": new},
        ),
        rename=("table", old, None, new),
    )


PERSON_COLS = 'sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name="pk_tmp")'

CASES = cases(
    Case(
        "drop-table",
        'op.drop_table("rotations")',
        f'op.create_table("rotations", {PERSON_COLS})',
        severity="warning",
        escalation="drop-table-with-data",
    ),
    Case("drop-table", f'op.create_table("tmp", {PERSON_COLS})\nop.drop_table("tmp")', triggers=False),
    Case(
        "drop-table",
        'op.execute("DROP TABLE rotations")',
        escalation="drop-table-with-data",
        table="rotations",
    ),
    Case("drop-table", 'op.execute("TRUNCATE rotations")', escalation="drop-table-with-data", table="rotations"),
    Case(
        "rename-table",
        'op.rename_table("rotations", "rotas")',
        'op.rename_table("rotas", "rotations")',
        severity="warning",
        escalation="breaking-api-change",
    ),
    Case("rename-table", f'op.create_table("rotas", {PERSON_COLS})', 'op.drop_table("rotas")', triggers=False),
)
