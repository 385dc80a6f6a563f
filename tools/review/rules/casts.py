"""Which column type changes a database makes without rewriting the table, per dialect.

``no_rewrite(old, new, dialect)`` reads two SQLAlchemy type expressions (``sa.String(120)``,
``postgresql.TEXT()``...) into a family and its parameters, then looks the pair up in ``NO_REWRITE``:
the conversions the dialect does in the catalogue only (PostgreSQL: binary-coercible casts whose
target accepts every old value; MySQL/MariaDB: in-place VARCHAR growth that keeps the length prefix
size). Anything not listed is assumed to rewrite the table.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from alembic_mcp.tools.history.migration_ast import literal_value
from alembic_mcp.tools.review.rules.astutil import callee, kw

FAMILIES = {
    "varchar": {"String", "VARCHAR", "Unicode", "NVARCHAR", "CHARACTER VARYING"},
    "text": {"Text", "TEXT", "UnicodeText", "CLOB"},
    "numeric": {"Numeric", "NUMERIC", "DECIMAL"},
    "cidr": {"CIDR"},
    "inet": {"INET"},
    "xml": {"XML"},
    "varbit": {"BIT VARYING", "VARBIT"},
}


@dataclass(frozen=True)
class ColumnType:
    """A type expression read from the migration: its family, length or (precision, scale)."""

    family: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    source: str = ""


def read_type(node: ast.expr | None) -> ColumnType | None:
    """The family of ``sa.String(120)`` / ``sa.Numeric(10, 2)`` / ``postgresql.TEXT()``, or None if unknown."""
    if node is None:
        return None
    name = callee(node)
    family = next((f for f, names in FAMILIES.items() if name in names), None)
    if family is None:
        return None
    first = _param(node, 0, "length" if family == "varchar" else "precision")
    second = _param(node, 1, "scale")
    if family == "numeric":
        return ColumnType(family, precision=first, scale=second, source=ast.unparse(node))
    return ColumnType(family, length=first if family in ("varchar", "varbit") else None, source=ast.unparse(node))


def _param(node: ast.expr, position: int, keyword: str) -> int | None:
    if not isinstance(node, ast.Call):
        return None
    value = literal_value(node.args[position]) if len(node.args) > position else literal_value(kw(node, keyword))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _widens(old: ColumnType, new: ColumnType) -> bool:
    """A length limit raised or removed (never added)."""
    return new.length is None or (old.length is not None and new.length >= old.length)


def _numeric_widens(old: ColumnType, new: ColumnType) -> bool:
    """numeric(p, s) -> numeric(q >= p, s), or to unconstrained numeric."""
    if new.precision is None and new.scale is None:
        return True
    return (
        old.precision is not None
        and new.precision is not None
        and new.precision >= old.precision
        and (old.scale == new.scale)
    )


def _unlimited(old: ColumnType, new: ColumnType) -> bool:
    return new.length is None


def _always(old: ColumnType, new: ColumnType) -> bool:
    return True


def _length_prefix_class(length: int) -> int:
    """MySQL/MariaDB store a VARCHAR's length in 1 byte up to 255 bytes, else 2; the byte width depends
    on the character set (latin1: 1 per character, utf8mb4: 4). The classes below keep the prefix size
    under both: 1..63 characters, 64..255 and 256 up."""
    return 0 if length <= 63 else 1 if length <= 255 else 2


def _mysql_varchar_grows(old: ColumnType, new: ColumnType) -> bool:
    if old.length is None or new.length is None or new.length < old.length:
        return False
    return _length_prefix_class(old.length) == _length_prefix_class(new.length)


Check = Callable[[ColumnType, ColumnType], bool]

POSTGRESQL: dict[tuple[str, str], Check] = {
    ("varchar", "varchar"): _widens,
    ("varchar", "text"): _always,
    ("text", "varchar"): _unlimited,  # text -> varchar without a length; varchar(n) checks every value
    ("text", "text"): _always,
    ("numeric", "numeric"): _numeric_widens,
    ("cidr", "inet"): _always,
    ("xml", "text"): _always,
    ("varbit", "varbit"): _widens,
}
MYSQL: dict[tuple[str, str], Check] = {
    ("varchar", "varchar"): _mysql_varchar_grows,
    ("text", "text"): _always,  # the same TEXT type spelt differently (sa.Text() / mysql.TEXT())
}
NO_REWRITE: dict[str, dict[tuple[str, str], Check]] = {
    "postgresql": POSTGRESQL,
    "mysql": MYSQL,
    "sqlite": POSTGRESQL,  # column types are affinities: widening changes nothing stored
}


def no_rewrite(old_node: ast.expr | None, new_node: ast.expr | None, dialect: str | None) -> bool:
    """The change from ``old_node`` to ``new_node`` is done in the catalogue only on ``dialect``
    (None: PostgreSQL). Unknown types, or an unstated old type, count as a rewrite."""
    old, new = read_type(old_node), read_type(new_node)
    if old is None or new is None:
        return False
    check = NO_REWRITE.get(dialect or "postgresql", POSTGRESQL).get((old.family, new.family))
    return check is not None and check(old, new)
