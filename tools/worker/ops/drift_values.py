"""Model-drift values as SQL text: server defaults rendered with the database's dialect and compared in a
normal form, so that ``server_default=func.now()`` matches MariaDB's reflected ``current_timestamp()``.

Worker side: only the standard library and SQLAlchemy (1.4 too).
"""

from __future__ import annotations

import re
from typing import Any

# Spellings of "the current timestamp" that databases reflect or models write, all one value.
_NOW_SPELLINGS = re.compile(
    r"^(current_timestamp|now|localtimestamp|transaction_timestamp|statement_timestamp)(\(\s*\d*\s*\))?$"
)
_CAST = re.compile(r"::[a-z_ ]+(\(\d+(,\s*\d+)?\))?(\[\])?$")  # PostgreSQL's reflected 'x'::character varying
_WHITESPACE = re.compile(r"\s+")


def default_sql(value: Any, dialect: Any) -> str | None:
    """A server default (a reflected string, a ``DefaultClause``, a SQL expression or None) as SQL text."""
    if value is None:
        return None
    arg = getattr(value, "arg", value)  # DefaultClause / FetchedValue hold the expression in .arg
    if isinstance(arg, str):
        return arg if value is arg else "'" + arg.replace("'", "''") + "'"
    return expression_sql(arg, dialect)


def expression_sql(expression: Any, dialect: Any) -> str:
    """A SQL expression or type compiled for ``dialect``; its ``str()`` when it cannot be compiled."""
    compile_ = getattr(expression, "compile", None)
    if compile_ is None:
        return str(expression)
    try:
        return str(compile_(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except TypeError:  # types take no compile_kwargs
        return str(compile_(dialect=dialect))
    except Exception:
        return str(expression)


def normal_default(sql: str | None) -> str | None:
    """The comparable form: no surrounding parentheses, quotes or cast; lower case; one space; one now()."""
    if sql is None:
        return None
    text = _WHITESPACE.sub(" ", sql.strip().lower())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    text = _CAST.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        text = text[1:-1]
    if _NOW_SPELLINGS.match(text):
        return "current_timestamp"
    return None if text == "null" else text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def same_default(database: Any, models: Any, dialect: Any) -> bool:
    """Whether the reflected default and the model's default are the same SQL once normalised."""
    return normal_default(default_sql(database, dialect)) == normal_default(default_sql(models, dialect))


def value_text(value: Any, dialect: Any) -> str:
    """A modify_* value (a default, a type, a bool) as text for a message: SQL, never a Python repr."""
    if value is None:
        return "none"
    if isinstance(value, (bool, int, str)):
        return str(value)
    if hasattr(value, "arg") or hasattr(value, "compile"):
        return default_sql(value, dialect) or "none"
    return str(value)
