"""Environment rules: an upgrade that needs a live database (reads rows, inspects, opens a session)."""

from __future__ import annotations

import ast

from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review.rules.astutil import callee
from alembic_mcp.tools.review.rules.registry import Case, cases, on_file, rule

ROW_READERS = {
    "fetchone",
    "fetchall",
    "fetchmany",
    "scalar",
    "scalar_one",
    "scalar_one_or_none",
    "scalars",
    "mappings",
    "one_or_none",
}
RESULT_READERS = {"all", "first", "one"}  # only on the result of execute/query/scalars


def _fix_offline() -> str:
    return (
        "Fine for online upgrades; for offline use, replace the read with literal SQL or guard it "
        "with `if not context.is_offline_mode():`."
    )


OFFLINE_UNSAFE = rule(
    "offline-unsafe",
    "info",
    "upgrade reads rows or inspects the database (breaks --sql)",
    "`alembic upgrade --sql` renders SQL without a database: this revision cannot be rendered offline for a "
    "DBA to run by hand.",
    _fix_offline,
)


def _reads(node: ast.Call) -> str | None:
    """What the call needs a live database for, or None."""
    name = callee(node)
    if name == "inspect":
        return "inspects the live database"
    if name in ("Session", "sessionmaker"):
        return "opens an ORM session"
    if not isinstance(node.func, ast.Attribute):
        return None
    on_result = isinstance(node.func.value, ast.Call) and callee(node.func.value) in ("execute", "query", "scalars")
    if name in ROW_READERS or (name in RESULT_READERS and on_result):
        return f"reads rows ({name}())"
    return None


@on_file
def offline_unsafe(state) -> None:
    func = state.migration.functions.get("upgrade")
    if func is None:
        return
    for node in walk(func):
        what = _reads(node) if isinstance(node, ast.Call) else None
        if what and isinstance(node, ast.Call):
            state.emit(
                OFFLINE_UNSAFE, None, f"upgrade() {what} at line {node.lineno}.", _fix_offline(), line=node.lineno
            )
            return


CASES = cases(
    Case(
        "offline-unsafe",
        'n = op.get_bind().execute(sa.text("SELECT count(*) FROM persons")).scalar()\n'
        "if n:\n    op.execute(\"COMMENT ON TABLE persons IS 'has rows'\")",
        severity="info",
    ),
    Case("offline-unsafe", "op.execute(\"COMMENT ON TABLE persons IS 'has rows'\")", triggers=False),
)
