"""The review rules as a registry: one ``Rule`` record per rule id, and the dispatch tables of the engine.

A rule module (columns.py, tables.py, ...) declares its ``Rule`` records with ``rule(...)``, its
operation handlers with ``@on_op("add_column", ...)`` (called for every upgrade() call of that name),
its whole-file checks with ``@on_file`` and, beside them, ``CASES``: migrations that must trigger a rule
and close variants that must not (squawk's style). ``load()`` imports every family module once, so
iterating the registry always sees every rule.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from alembic_mcp.tools.core.verdict import Escalation, Finding

# Rule families, one module each under tools/review/rules/, in the order their handlers run.
FAMILIES = (
    "columns",
    "types",
    "indexes",
    "constraints",
    "tables",
    "sql",
    "locks",
    "environment",
    "dynamic",
    "imports",
    "downgrade",
    "schema",
)


@dataclass(frozen=True)
class Rule:
    """One catalogue rule: what it is called, how bad it is, what it may escalate and how to fix it."""

    id: str
    severity: str  # the usual severity; facts from the database may lower or raise it
    summary: str  # the trigger, in one line (docs, suppression help)
    why: str  # why it hurts
    fix: Callable[..., str]  # builds the finding's fix (code) from the operation's names
    escalations: tuple[str, ...] = ()  # escalation rule ids (tools/core/policy.py) it can raise
    family: str = ""
    pg_only: bool = False  # PostgreSQL-only (silent for SQLite and MySQL/MariaDB targets)
    anchors: str = ""  # the same rule in squawk / strong_migrations / Atlas / eugene


@dataclass(frozen=True)
class Case:
    """A migration (upgrade and downgrade bodies) and what the rule must report for it."""

    rule: str
    upgrade: str
    downgrade: str = ""
    triggers: bool = True
    severity: str | None = None
    escalation: str | None = None
    line: int | None = None
    table: str | None = None
    column: str | None = None
    fix_contains: tuple[str, ...] = ()
    message_contains: tuple[str, ...] = ()
    backend: str = "postgresql"
    header: str = ""


@dataclass
class Hit:
    """One layer-1 finding, the database fact that may confirm or clear it, and the escalation it implies."""

    finding: Finding
    span: tuple[int, int]
    fact: Any = None  # one of tools/review/rules/facts.py's fact types
    escalation: Escalation | None = None
    data: dict[str, Any] = field(default_factory=dict)
    suppressed_by: Any = None  # the suppression directive that silenced the finding (never the escalation)


RULES: dict[str, Rule] = {}
OP_HANDLERS: dict[str, list[Callable]] = {}
EVERY_OP: list[Callable] = []  # handlers called for every upgrade() operation, after its own handlers
FILE_CHECKS: list[Callable] = []
CASES: list[Case] = []


def rule(id: str, severity: str, summary: str, why: str, fix: Callable[..., str], **extra: Any) -> Rule:
    """Declare a rule; its family is the declaring module."""
    if id in RULES:
        raise ValueError(f"rule {id} is declared twice")
    family = extra.pop("family", None) or _caller_family()
    record = Rule(id=id, severity=severity, summary=summary, why=why, fix=fix, family=family, **extra)
    RULES[id] = record
    return record


def _caller_family() -> str:
    return sys._getframe(2).f_globals.get("__name__", "").rsplit(".", 1)[-1]


def on_op(*names: str) -> Callable[[Callable], Callable]:
    """Register a handler ``handler(state, op)`` for upgrade() calls named ``names`` ("*": every call)."""

    def register(handler: Callable) -> Callable:
        for name in names:
            (EVERY_OP if name == "*" else OP_HANDLERS.setdefault(name, [])).append(handler)
        return handler

    return register


def on_file(check: Callable) -> Callable:
    """Register a whole-file check ``check(state)``, run after every operation handler."""
    FILE_CHECKS.append(check)
    return check


def cases(*items: Case) -> list[Case]:
    """Register a module's cases (and return them, for the module's own ``CASES``)."""
    CASES.extend(items)
    return list(items)


_loaded = False


def load() -> None:
    """Import every family module (each registers its rules, handlers and cases once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for family in FAMILIES:
        importlib.import_module(f"alembic_mcp.tools.review.rules.{family}")


def get(rule_id: str) -> Rule:
    load()
    return RULES[rule_id]


def all_rules() -> Iterator[Rule]:
    """Every rule, by family then declaration order."""
    load()
    order = {family: i for i, family in enumerate(FAMILIES)}
    yield from sorted(RULES.values(), key=lambda r: order.get(r.family, len(order)))


def rule_ids() -> dict[str, str]:
    """rule id -> summary (what suppression comments may name)."""
    return {r.id: r.summary for r in all_rules()}


def all_cases() -> list[Case]:
    load()
    return list(CASES)


CASE_HEADER = '''"""test migration"""
import sqlalchemy as sa
from alembic import op

revision = "r2"
down_revision = "r1"

'''


def case_source(upgrade: str, downgrade: str = "pass", header: str = "") -> str:
    """A migration module around two function bodies (upgrade()'s first statement is on line 9)."""
    up = textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    ")
    down = textwrap.indent(textwrap.dedent(downgrade).strip() or "pass", "    ")
    return header + CASE_HEADER + f"def upgrade() -> None:\n{up}\n\n\ndef downgrade() -> None:\n{down}\n"
