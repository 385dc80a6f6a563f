"""Lock rules (PostgreSQL): a strong lock on an existing table with no lock_timeout set before it."""

from __future__ import annotations

from alembic_mcp.tools.history.migration_ast import OpCall
from alembic_mcp.tools.review.rules.astutil import column_spec, truthy
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, on_op, rule

STRONG_LOCK_OPS = {
    "add_column",
    "drop_column",
    "alter_column",
    "create_foreign_key",
    "create_unique_constraint",
    "create_check_constraint",
    "create_primary_key",
    "drop_constraint",
    "rename_table",
    "drop_table",
    "create_exclude_constraint",
}


def _fix_lock_timeout() -> str:
    return (
        "op.execute(\"SET LOCAL lock_timeout = '5s'\")  # first statement of upgrade(), and again after each "
        "autocommit_block() (its COMMIT ends a SET LOCAL); inside a block a SET LOCAL does nothing: there use "
        'op.execute("SET lock_timeout = \'5s\'") before the statement and op.execute("RESET lock_timeout") after it'
    )


ENDED_BY = {
    "autocommit": "an autocommit block, whose COMMIT ended the SET LOCAL lock_timeout before it",
    "reset": "a RESET of the lock_timeout set before it",
}


def _fix_again(ended: str) -> str:
    why = "the autocommit block's COMMIT ended the earlier SET LOCAL" if ended == "autocommit" else "it was reset"
    return f"op.execute(\"SET LOCAL lock_timeout = '5s'\")  # right before this statement: {why}"


MISSING_LOCK_TIMEOUT = rule(
    "missing-lock-timeout",
    "warning",
    "strong lock on an existing table without lock_timeout (PostgreSQL)",
    "Waiting for the lock queues every later query on the table behind this statement: one long transaction "
    "elsewhere turns the migration into an outage.",
    _fix_lock_timeout,
    pg_only=True,
    anchors="SQ require-lock-timeout, EU E9",
)


def strong_lock(state, op: OpCall) -> bool:
    """The operation takes a lock that queues reads or writes on an existing table."""
    if op.table_created_here or op.in_autocommit:
        return False
    if op.name in STRONG_LOCK_OPS:
        # A nullable column without default is a catalogue-only change, but it still needs ACCESS
        # EXCLUSIVE briefly: the lock queue problem is the same.
        return op.name != "add_column" or column_spec(op.arg(1, "column")) is not None
    if op.name in ("create_index", "drop_index"):
        return not truthy(op.kwargs.get("postgresql_concurrently"))
    if op.name == "execute":
        return any(
            s.kind in ("alter_table", "add_constraint", "drop_column", "drop_table", "truncate")
            or (s.kind == "create_index" and not s.concurrently)
            for s in state.exec_arg(op).statements
        )
    return False


@on_op("*")
def lock_timeout(state, op: OpCall) -> None:
    if not state.pg or state.lock_timeout_seen or not strong_lock(state, op):
        return
    if any(h.finding.rule == MISSING_LOCK_TIMEOUT.id for h in state.hits):
        return
    if state.lock_timeout_ended:
        hit = state.emit(
            MISSING_LOCK_TIMEOUT,
            op,
            f"{op.name} takes a strong lock on existing table {op.table or '?'} after "
            f"{ENDED_BY[state.lock_timeout_ended]}: it runs with no lock_timeout.",
            _fix_again(state.lock_timeout_ended),
        )
        if hit is not None:
            hit.data["where"] = "insert-before"
        return
    state.emit(
        MISSING_LOCK_TIMEOUT,
        op,
        f"{op.name} takes a strong lock on existing table {op.table or '?'} and no lock_timeout is set before it.",
        _fix_lock_timeout(),
    )


@on_file
def lock_timeout_from_env(state) -> None:
    if state.env_sets_lock_timeout:
        state.clear(MISSING_LOCK_TIMEOUT.id, None)


LOCK = "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"

BLOCK = (
    "with op.get_context().autocommit_block():\n"
    '    op.create_index("ix_persons_name", "persons", ["name"], postgresql_concurrently=True)\n'
)
ADD_NICK = 'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))'

CASES = cases(
    Case(
        "missing-lock-timeout",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        severity="warning",
    ),
    Case(
        "missing-lock-timeout",
        LOCK + 'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case(
        "missing-lock-timeout",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
        triggers=False,
        backend="mysql",
    ),
    Case(  # the block's COMMIT ends the SET LOCAL: the add after it waits with no timeout
        "missing-lock-timeout",
        LOCK + BLOCK + ADD_NICK,
        'op.drop_column("persons", "nick")',
        severity="warning",
        line=12,  # the add_column after the block (case_source puts upgrade()'s body at line 9)
        message_contains=("after an autocommit block",),
        fix_contains=("right before this statement",),
    ),
    Case("missing-lock-timeout", LOCK + ADD_NICK + "\n" + BLOCK, 'op.drop_column("persons", "nick")', triggers=False),
    Case(  # set again after the block
        "missing-lock-timeout", LOCK + BLOCK + LOCK + ADD_NICK, 'op.drop_column("persons", "nick")', triggers=False
    ),
    Case(  # a session-level timeout outlives the block
        "missing-lock-timeout",
        "op.execute(\"SET lock_timeout = '5s'\")\n" + BLOCK + ADD_NICK,
        'op.drop_column("persons", "nick")',
        triggers=False,
    ),
    Case(  # RESET ends it
        "missing-lock-timeout",
        'op.execute("SET lock_timeout = \'5s\'")\nop.execute("RESET lock_timeout")\n' + ADD_NICK,
        'op.drop_column("persons", "nick")',
        severity="warning",
    ),
)
