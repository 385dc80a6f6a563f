"""Schema rules from the static model of the history (tools/review/schema_model.py): an object defined
twice, and a drop of an object no earlier operation created. Both fail at run time; the review reports
them before anything runs, and stays silent where the history cannot be read."""

from __future__ import annotations

from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, rule
from alembic_mcp.tools.review.schema_model import SchemaModel


def _fix_defined_twice(what: str) -> str:
    return f"Declare {what} once: remove the repeated declaration (compare with the model and the earlier revisions)."


def _fix_never_existed(what: str) -> str:
    return (
        f"Drop {what} only if it exists: take the real name from the revision that created it "
        "(or the database: \\d table), or remove the drop if nothing created it."
    )


OBJECT_DEFINED_TWICE = rule(
    "object-defined-twice",
    "error",
    "a column, table or index declared twice (in one create_table, or already created earlier)",
    "The statement fails at run time (DuplicateColumn / DuplicateTable), in the middle of an upgrade or a rollback.",
    _fix_defined_twice,
    anchors="alembic: replaying the history",
)
DROP_OF_MISSING_OBJECT = rule(
    "drop-of-missing-object",
    "error",
    "a drop of a table, column or index that no earlier operation created",
    "The drop fails at run time (UndefinedObject): a downgrade that hits it stops half way.",
    _fix_never_existed,
    anchors="alembic: replaying the history",
)
RULES = {"defined-twice": OBJECT_DEFINED_TWICE, "never-existed": DROP_OF_MISSING_OBJECT}


@on_file
def schema_problems(state) -> None:
    earlier = state.definitions.earlier if state.definitions is not None else []
    model = SchemaModel.replay(earlier, state.migration, state.backend)
    for problem in model.check(state.migration):
        record = RULES[problem.kind]
        state.emit(
            record,
            None,
            f"{problem.function}() line {problem.line}: {problem.detail}",
            record.fix(problem.what),
            line=problem.line,
            table=problem.what.split(" ", 1)[1].split(".")[0] if problem.what.startswith(("table", "column")) else None,
        )


TAGS = (
    'op.create_table("tags", sa.Column("id", sa.Integer(), nullable=False), sa.Column("name", sa.String(40)), '
    'sa.PrimaryKeyConstraint("id", name="pk_tags"))\n'
    'op.create_index("ix_tags_name", "tags", ["name"])'
)

CASES = cases(
    Case(
        "object-defined-twice",
        'op.drop_table("legacy_notes")',
        'op.create_table("legacy_notes", sa.Column("id", sa.Integer(), nullable=False), '
        'sa.Column("body", sa.Text()), sa.Column("body", sa.Text()))',
        severity="error",
        message_contains=("declares column body twice",),
    ),
    Case(
        "object-defined-twice",
        'op.drop_table("legacy_notes")',
        'op.create_table("legacy_notes", sa.Column("id", sa.Integer(), nullable=False), sa.Column("body", sa.Text()))',
        triggers=False,
    ),
    Case(
        "drop-of-missing-object",
        TAGS,
        'op.drop_index("ix_tags_nmae", table_name="tags")\nop.drop_table("tags")',
        severity="error",
        message_contains=("ix_tags_nmae",),
    ),
    Case(
        "drop-of-missing-object",
        TAGS,
        'op.drop_index("ix_tags_name", table_name="tags")\nop.drop_table("tags")',
        triggers=False,
    ),
    Case(
        "drop-of-missing-object",  # the table predates the history: the model knows nothing of its indexes
        'op.add_column("persons", sa.Column("nick", sa.String(20)))',
        'op.drop_index("ix_persons_nick", table_name="persons")\nop.drop_column("persons", "nick")',
        triggers=False,
    ),
)
