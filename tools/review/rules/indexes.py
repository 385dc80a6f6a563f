"""Index rules (PostgreSQL): builds and drops without CONCURRENTLY, CONCURRENTLY inside a transaction, and a
concurrent build with IF NOT EXISTS (it keeps the INVALID leftover of a failed build). Every build the fixes
write drops such a leftover first, and keeps the index's columns and expressions as the migration wrote them."""

from __future__ import annotations

from alembic_mcp.tools.history.migration_ast import OpCall
from alembic_mcp.tools.review.rules import schema_facts
from alembic_mcp.tools.review.rules.astutil import name_value, q, shown, src, truthy
from alembic_mcp.tools.review.rules.index_source import (
    as_written,
    concurrent_build,
    drop_leftover,
    for_new_file,
    options_as_written,
)
from alembic_mcp.tools.review.rules.registry import Case, cases, on_op, rule


def _fix_create_concurrently(name: str | None, table: str | None, columns: list[str], unique: bool = False) -> str:
    return concurrent_build(name, table, [repr(c) for c in columns], unique)


# The fix when the revision does other work: an autocommit block there would COMMIT that work while
# alembic_version still names the previous revision, so a failure after it leaves a re-run that fails.
LATER_INDEX = "# in a new revision after this one (autofix writes it; this revision's other changes would commit "


def _fix_create_later(create: str, name: str | None, table: str | None) -> str:
    return (
        f"{LATER_INDEX}early in an autocommit block here, with alembic_version still at the previous revision):\n"
        + "\n".join("# " + line for line in create.splitlines())
        + f"\n# and its downgrade() drops it: {drop_leftover(name, table)} in an autocommit block"
    )


# The columns cannot be carried into a fix (a variable, a project helper): the fix says what to write, in words.
UNCARRIED = (
    "Build it with CREATE INDEX CONCURRENTLY in an autocommit block{where}: first "
    "op.drop_index({name}, table_name={table}, postgresql_concurrently=True, if_exists=True) (a leftover INVALID "
    "index of an earlier failed build), then this create_index with its columns as they are and "
    "postgresql_concurrently=True (never if_not_exists=True: it would keep the INVALID leftover). The review does "
    "not write that call: its columns ({columns}) use names it cannot carry there (a variable or a helper)."
)


def uncarried(op: OpCall, name: str | None, later: bool) -> str:
    where = " of a new revision after this one" if later else ""
    return UNCARRIED.format(where=where, name=q(name), table=q(op.table), columns=src(op.arg(2, "columns"))[:80])


NOT_WORK = {"get_context", "get_bind", "f", "inline_literal", "batch_alter_table"}


def _other_work(state, index: OpCall) -> bool:
    """upgrade() does transactional work besides this index (SET lock_timeout is no work)."""
    for op in state.up:
        if op is index or op.in_autocommit or op.name in NOT_WORK:
            continue
        if op.name == "execute":
            statements = state.exec_arg(op).statements
            if statements and all(s.kind == "set_lock_timeout" for s in statements):
                continue
        return True
    return False


def _fix_drop_concurrently(name: str | None, table: str | None) -> str:
    return (
        "with op.get_context().autocommit_block():\n"
        f"    op.drop_index({q(name)}, table_name={q(table)}, postgresql_concurrently=True, if_exists=True)"
    )


def _fix_autocommit(statement: str) -> str:
    return f"with op.get_context().autocommit_block():\n    {statement}"


CONCURRENT_IF_NOT_EXISTS = rule(
    "concurrent-if-not-exists",
    "warning",
    "create_index(postgresql_concurrently=True, if_not_exists=True) (PostgreSQL)",
    "A failed concurrent build (duplicates, a lock timeout, a cancel) leaves an INVALID index of that name; a "
    "re-run with IF NOT EXISTS skips it, alembic_version moves on, and the index is never used (a unique one "
    "never enforces uniqueness).",
    lambda: concurrent_build("ix_name", "table_name", ["'column'"]),
    pg_only=True,
)
CREATE_INDEX_NON_CONCURRENT = rule(
    "create-index-non-concurrent",
    "error",
    "create_index on an existing table without CONCURRENTLY (PostgreSQL)",
    "CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits "
    "until it finishes.",
    _fix_create_concurrently,
    pg_only=True,
    anchors="SQ require-concurrent-index-creation, AT PG101, EU E6",
)
CONCURRENT_IN_TRANSACTION = rule(
    "concurrent-in-transaction",
    "error",
    "CONCURRENTLY inside Alembic's transaction",
    "PostgreSQL refuses CONCURRENTLY in a transaction block: the deploy fails at this statement.",
    _fix_autocommit,
    pg_only=True,
    anchors="SQ ban-concurrent-index-creation-in-transaction, AT PG103",
)
DROP_INDEX_NON_CONCURRENT = rule(
    "drop-index-non-concurrent",
    "warning",
    "drop_index without CONCURRENTLY (PostgreSQL)",
    "DROP INDEX takes ACCESS EXCLUSIVE on the table: reads and writes wait behind it.",
    _fix_drop_concurrently,
    pg_only=True,
    anchors="SQ require-concurrent-index-deletion, AT PG102",
)


@on_op("create_index")
def create_index(state, op: OpCall) -> None:
    table, name = op.table, name_value(op.arg(0, "index_name"))
    concurrently = truthy(op.kwargs.get("postgresql_concurrently"))
    unique = truthy(op.kwargs.get("unique"))
    written = as_written(op)
    in_place = (
        concurrent_build(name, table, written, unique, options_as_written(op))
        if written is not None
        else uncarried(op, name, later=False)
    )
    if concurrently and not op.in_autocommit:
        message = f"CREATE INDEX CONCURRENTLY on {table} runs inside Alembic's transaction."
        state.emit(CONCURRENT_IN_TRANSACTION, op, message, in_place)
    if concurrently and truthy(op.kwargs.get("if_not_exists")):
        state.emit(
            CONCURRENT_IF_NOT_EXISTS,
            op,
            f"Index {shown(op.arg(0, 'index_name'))} is built CONCURRENTLY with if_not_exists=True: after a failed "
            "build a re-run keeps the INVALID leftover and the revision passes"
            + (" while uniqueness is never enforced." if unique else "."),
            in_place,
        )
    if op.table_created_here or concurrently or _skipped(state, op):
        state.clear(CREATE_INDEX_NON_CONCURRENT.id, table)
        return
    if name is not None and _other_work(state, op):
        _later(state, op, name, unique)
        return
    state.emit(
        CREATE_INDEX_NON_CONCURRENT,
        op,
        f"Index {shown(op.arg(0, 'index_name'), '(named by the naming convention)')} is built on existing table "
        f"{shown(op.arg(1, 'table_name'))} without CONCURRENTLY.",
        in_place,
    )


def _skipped(state, op: OpCall) -> bool:
    """A create_index that may be skipped (a helper's guard, if_not_exists) of an index the schema model shows
    exists already: it builds nothing (skipped, or it fails on the name before building)."""
    optional = op.guarded or truthy(op.kwargs.get("if_not_exists"))
    return optional and schema_facts.index_exists(state, op)


def _later(state, op: OpCall, name: str, unique: bool) -> None:
    """The concurrent build in a revision of its own after this one; ``later_index`` tells autofix what to
    write there (the columns and options as they read in a new file, expressions included)."""
    carried = for_new_file(op)
    create = None if carried is None else concurrent_build(name, op.table, carried[0], unique, carried[1])
    hit = state.emit(
        CREATE_INDEX_NON_CONCURRENT,
        op,
        f"Index {shown(op.arg(0, 'index_name'))} is built on existing table {shown(op.arg(1, 'table_name'))} "
        "without CONCURRENTLY; this revision changes more, "
        "so the concurrent build belongs in a revision of its own after it.",
        uncarried(op, name, later=True) if create is None else _fix_create_later(create, name, op.table),
    )
    if hit is not None and carried is not None:  # None: the rule does not run on this dialect
        columns, options = carried
        hit.data["later_index"] = {
            "name": name,
            "table": op.table,
            "columns": columns,
            "unique": unique,
            "options": options,
        }


@on_op("drop_index")
def drop_index(state, op: OpCall) -> None:
    if op.table_created_here:
        return
    name = name_value(op.arg(0, "index_name"))
    if not truthy(op.kwargs.get("postgresql_concurrently")):
        state.emit(
            DROP_INDEX_NON_CONCURRENT,
            op,
            f"Index {shown(op.arg(0, 'index_name'))} is dropped without CONCURRENTLY.",
            _fix_drop_concurrently(name, op.table),
        )
    elif not op.in_autocommit:
        state.emit(
            CONCURRENT_IN_TRANSACTION,
            op,
            "DROP INDEX CONCURRENTLY runs inside Alembic's transaction.",
            _fix_autocommit("op.drop_index(..., postgresql_concurrently=True, if_exists=True)"),
            why="PostgreSQL refuses CONCURRENTLY in a transaction block: the deploy fails here.",
        )


CASES = cases(
    Case(  # corpus: indico 640584a3987e: the name comes from the naming convention, never "Index None"
        "create-index-non-concurrent",
        'op.create_index(None, "persons", ["email"])',
        'op.drop_index("ix_persons_email", table_name="persons")',
        message_contains=("Index (named by the naming convention) is built on existing table persons",),
    ),
    Case(
        "create-index-non-concurrent",
        'op.create_index("ix_persons_name", "persons", ["name"])',
        'op.drop_index("ix_persons_name", table_name="persons")',
        severity="error",
        fix_contains=("postgresql_concurrently=True", "autocommit_block"),
    ),
    Case(  # with other work in the revision: the concurrent build goes to a new revision after it
        "create-index-non-concurrent",
        'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))\n'
        'op.create_index("ix_assignments_rotation_id", "assignments", ["rotation_id"])',
        'op.drop_index("ix_assignments_rotation_id", table_name="assignments")\n'
        'op.drop_column("assignments", "rotation_id")',
        severity="error",
        message_contains=("a revision of its own",),
        fix_contains=("# in a new revision after this one", "postgresql_concurrently=True"),
    ),
    Case(
        "create-index-non-concurrent",
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)',
        'op.drop_index("ix_persons_name", table_name="persons")',
        triggers=False,
    ),
    Case(
        "create-index-non-concurrent",
        'op.create_index("ix_persons_name", "persons", ["name"])',
        'op.drop_index("ix_persons_name", table_name="persons")',
        triggers=False,
        backend="sqlite",
    ),
    Case(
        "create-index-non-concurrent",
        'op.execute("CREATE INDEX ix_persons_role ON persons (role)")',
        severity="error",
        fix_contains=("DROP INDEX CONCURRENTLY IF EXISTS ix_persons_role", "CREATE INDEX CONCURRENTLY ix_persons_role"),
    ),
    Case(  # agent run 2: an expression index keeps its expression in the fix, never []
        "create-index-non-concurrent",
        "op.create_index('ix_persons_lower_email', 'persons', [sa.text('lower(email)')], unique=True)",
        'op.drop_index("ix_persons_lower_email", table_name="persons")',
        fix_contains=(
            "op.drop_index('ix_persons_lower_email', table_name='persons', postgresql_concurrently=True, "
            "if_exists=True)",
            "op.create_index('ix_persons_lower_email', 'persons', [sa.text('lower(email)')], unique=True, "
            "postgresql_concurrently=True)",
        ),
    ),
    Case(  # with other work: the new revision's call spells the bare func as sa.func
        "create-index-non-concurrent",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))\n'
        "op.create_index('ix_persons_lower_nick', 'persons', [func.lower(sa.column('nick'))])",
        'op.drop_index("ix_persons_lower_nick", table_name="persons")\nop.drop_column("persons", "nick")',
        fix_contains=("# in a new revision", "[sa.func.lower(sa.column('nick'))], postgresql_concurrently=True)"),
    ),
    Case(  # columns computed elsewhere: advice in words, never a call with the wrong columns
        "create-index-non-concurrent",
        "op.create_index('ix_persons_key', 'persons', KEY_COLUMNS)",
        'op.drop_index("ix_persons_key", table_name="persons")',
        fix_contains=("names it cannot carry", "never if_not_exists=True"),
    ),
    Case(
        "concurrent-in-transaction",
        'op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)',
        'op.drop_index("ix_persons_name", table_name="persons")',
        severity="error",
    ),
    Case(
        "concurrent-in-transaction",
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)',
        'op.drop_index("ix_persons_name", table_name="persons")',
        triggers=False,
    ),
    Case(  # agent run 2: a failed concurrent build leaves an INVALID index IF NOT EXISTS keeps
        "concurrent-if-not-exists",
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_persons_lower_email', 'persons', [sa.text('lower(email)')], unique=True, "
        "postgresql_concurrently=True, if_not_exists=True)",
        'op.drop_index("ix_persons_lower_email", table_name="persons")',
        severity="warning",
        message_contains=("INVALID leftover", "uniqueness is never enforced"),
        fix_contains=("if_exists=True)", "unique=True, postgresql_concurrently=True)"),
    ),
    Case(  # the raw form: the same hazard, the same recovering fix
        "concurrent-if-not-exists",
        "with op.get_context().autocommit_block():\n"
        '    op.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix_persons_email ON persons (email)")',
        'op.drop_index("ix_persons_email", table_name="persons")',
        severity="warning",
        fix_contains=(
            "DROP INDEX CONCURRENTLY IF EXISTS ix_persons_email",
            "CREATE UNIQUE INDEX CONCURRENTLY ix_persons_email ON persons (email)",
        ),
    ),
    Case(  # the leftover dropped first: the build recovers, nothing to warn about
        "concurrent-if-not-exists",
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index('ix_persons_name', table_name='persons', postgresql_concurrently=True, if_exists=True)\n"
        "    op.create_index('ix_persons_name', 'persons', ['name'], postgresql_concurrently=True)",
        'op.drop_index("ix_persons_name", table_name="persons")',
        triggers=False,
    ),
    Case(
        "drop-index-non-concurrent",
        'op.drop_index("ix_assignments_person_id", table_name="assignments")',
        'op.create_index("ix_assignments_person_id", "assignments", ["person_id"])',
        severity="warning",
    ),
    Case(
        "drop-index-non-concurrent",
        "with op.get_context().autocommit_block():\n"
        '    op.drop_index("ix_assignments_person_id", table_name="assignments", postgresql_concurrently=True)',
        'op.create_index("ix_assignments_person_id", "assignments", ["person_id"])',
        triggers=False,
    ),
)
