"""Does a type change break the application? The models' declared type of the column against the migration's.

The render worker writes each model column's type the way the target's dialect does (``VARCHAR(20)``).
The migration's type expression is read the same way here, without running any of the migration: only a
type class of SQLAlchemy's own modules, named by the path it was imported from (``types.py`` resolves
``sa.String`` or ``from sqlalchemy import Boolean as String`` to it), called with literal arguments.
"""

from __future__ import annotations

import ast
import importlib
from typing import Any

from alembic_mcp.tools.review.rules import Hit

DIALECT_MODULES = {
    "postgresql": "sqlalchemy.dialects.postgresql",
    "mysql": "sqlalchemy.dialects.mysql",
    "sqlite": "sqlalchemy.dialects.sqlite",
}


def type_text(source: str | None, callee: str | None, dialect_name: str | None = None) -> str | None:
    """``sa.String(10)`` whose callee is ``sqlalchemy.String`` -> ``VARCHAR(10)`` (as ``dialect_name``
    writes it, else SQLAlchemy's default dialect); None when the expression is anything but a literal call
    of the SQLAlchemy type class ``callee`` names."""
    if not source or not callee:
        return None
    try:
        node = ast.parse(source, mode="eval").body
        call = node if isinstance(node, ast.Call) else ast.Call(func=node, args=[], keywords=[])
        cls = _type_class(callee)
        if cls is None or any(k.arg is None for k in call.keywords):
            return None
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        column_type = cls(*args, **kwargs)
        dialect = _dialect(dialect_name)
        return str(column_type.compile(dialect=dialect)) if dialect is not None else str(column_type)
    except Exception:  # not literal, not a type, or refused by SQLAlchemy: not known
        return None


def _dialect(name: str | None) -> Any:
    if name not in DIALECT_MODULES:
        return None
    return importlib.import_module(DIALECT_MODULES[name]).dialect()


def _type_class(callee: str) -> Any:
    """The class at the dotted path ``callee`` (``sqlalchemy.dialects.postgresql.JSONB``), when it is one of
    SQLAlchemy's type classes."""
    from sqlalchemy.types import TypeEngine

    parts = callee.split(".")
    if parts[0] != "sqlalchemy" or any(part.startswith("_") for part in parts):
        return None
    for split in range(len(parts) - 1, 0, -1):  # the longest importable module, then attributes
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = getattr(found, name, None)
        return found if isinstance(found, type) and issubclass(found, TypeEngine) else None
    return None


def judge_type_change(hit: Hit, model_types: dict[str, dict[str, str]], dialect_name: str | None = None) -> None:
    """Say in the escalation what the models declare; none is needed when they declare the new type. The
    migration's types are read only through the SQLAlchemy class each is called by (``*_type_callee``, None
    when the name is not imported from SQLAlchemy and bound once), so a look-alike cannot pass for it."""
    table, column = hit.finding.table or "", hit.finding.column or ""
    declared = model_types.get(table, {}).get(column)
    if hit.escalation is None or not model_types:
        return
    new = type_text(hit.data.get("new_type"), hit.data.get("new_type_callee"), dialect_name)
    old = type_text(hit.data.get("old_type"), hit.data.get("old_type_callee"), dialect_name)
    if declared is None:
        hit.escalation.reason = (
            f"No model declares {table}.{column}: code outside the models that reads it may break, and the "
            "change rewrites the table."
        )
        hit.escalation.evidence["models_declare"] = None
        return
    hit.escalation.evidence["models_declare"] = declared
    if new is not None and declared == new and declared != old:
        hit.escalation = None
        hit.finding.message += (
            f" The models already declare {declared}: proceed once test_roundtrip verifies the conversion."
        )
        return
    if new is None:
        hit.escalation.reason = (
            f"The models declare {table}.{column} as {declared} and the migration changes it to "
            f"{hit.data.get('new_type')}: whether the application still works with the new type is not known."
        )
        return
    hit.escalation.reason = (
        f"The models declare {table}.{column} as {declared}, not the new {new}: the application would read "
        "and write a type the column no longer has."
    )
