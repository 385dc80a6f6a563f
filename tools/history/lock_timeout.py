"""Whether a lock_timeout is in effect when each operation of upgrade() runs.

``SET LOCAL lock_timeout`` lasts until its transaction ends, and an autocommit block ends it (Alembic
COMMITs before the block and begins a new transaction after it): the operations after the block run with
no timeout unless it is set again. A session-level ``SET lock_timeout`` lasts until ``RESET``. Shared by
the review (missing-lock-timeout) and the rehearsal (which says whether the lock it saw was covered).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from alembic_mcp.tools.history.migration_ast import OpCall

Scope = Literal["local", "session", "reset"]

_SET = re.compile(r"^\s*set\s+(local\s+|session\s+)?lock_timeout\b(?P<value>.*)$", re.I | re.S)
_RESET = re.compile(r"^\s*reset\s+(lock_timeout|all)\b", re.I)
_OFF = re.compile(r"^\s*(=|to)\s*('0'|0|default|'0s'|'0ms')\s*;?\s*$", re.I)


def scope_of_sql(sql: str) -> Scope | None:
    """What one statement does to lock_timeout: sets it for the transaction or the session, resets it."""
    if _RESET.match(sql):
        return "reset"
    found = _SET.match(sql)
    if found is None:
        return None
    if _OFF.match(found.group("value")):
        return "reset"
    return "local" if (found.group(1) or "").strip().lower() == "local" else "session"


def literal_sql(op: OpCall) -> str | None:
    """The SQL text of ``op.execute("...")`` or ``op.execute(sa.text("..."))``; None when it is built."""
    node = op.arg(0, "sqltext") if op.name == "execute" else None
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


Ended = Literal["autocommit", "reset"]


@dataclass(frozen=True)
class Coverage:
    op: OpCall
    covered: bool  # a lock_timeout is in effect when the operation runs
    ended: Ended | None = None  # uncovered although one was set before: an autocommit block or RESET ended it


def coverage(ops: Iterable[OpCall], scopes: Callable[[OpCall], list[Scope]], preset: bool = False) -> list[Coverage]:
    """Each operation (in order) with whether a lock_timeout covers it; ``preset``: env.py sets one."""
    local, session = False, preset
    ended: Ended | None = None
    result = []
    for op in ops:
        if op.in_autocommit and local:
            local, ended = False, "autocommit"
        for scope in scopes(op):  # a statement that sets it comes first in its op.execute
            if scope == "reset":
                local = session = False
                ended = "reset"
            elif scope == "session":
                session = True
            elif not op.in_autocommit:  # SET LOCAL outside a transaction has no effect
                local = True
        covered = local or session
        result.append(Coverage(op, covered, None if covered else ended))
    return result


def literal_scopes(op: OpCall) -> list[Scope]:
    """The scopes of a literal op.execute's statements (split on ``;``), for callers without a SQL parser."""
    sql = literal_sql(op)
    if sql is None:
        return []
    found = (scope_of_sql(part) for part in sql.split(";"))
    return [scope for scope in found if scope is not None]
