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


# ------------------------------------------------------------------ casts PostgreSQL makes without USING

# ALTER COLUMN ... TYPE converts the old values with an implicit or assignment cast (pg_cast); anything else
# needs USING. Categories of SQLAlchemy type names, and the PostgreSQL spelling of a USING cast to them.
CATEGORIES = {
    "string": {"String", "VARCHAR", "Unicode", "NVARCHAR", "Text", "TEXT", "UnicodeText", "CHAR", "NCHAR", "CLOB"},
    "integer": {"Integer", "INTEGER", "INT", "SmallInteger", "SMALLINT", "BigInteger", "BIGINT"},
    "numeric": {"Numeric", "NUMERIC", "DECIMAL", "Float", "FLOAT", "REAL", "Double", "DOUBLE_PRECISION"},
    "boolean": {"Boolean", "BOOLEAN"},
    "date": {"Date", "DATE"},
    "timestamp": {"DateTime", "TIMESTAMP", "DATETIME"},
    "time": {"Time", "TIME"},
    "interval": {"Interval", "INTERVAL"},
    "json": {"JSON", "JSONB"},
    "uuid": {"Uuid", "UUID"},
    "bytes": {"LargeBinary", "BYTEA"},
    "enum": {"Enum", "ENUM"},
}
# (from, to) categories with an implicit or assignment cast; a cast to a string type always exists (I/O)
_CASTS = {
    ("integer", "numeric"),
    ("numeric", "integer"),
    ("date", "timestamp"),
    ("timestamp", "date"),
    ("timestamp", "time"),
}
SQL_NAMES = {
    "SmallInteger": "smallint",
    "SMALLINT": "smallint",
    "BigInteger": "bigint",
    "BIGINT": "bigint",
    "Float": "double precision",
    "Double": "double precision",
    "DOUBLE_PRECISION": "double precision",
    "REAL": "real",
    "Boolean": "boolean",
    "DateTime": "timestamp",
    "Date": "date",
    "Time": "time",
    "Interval": "interval",
    "JSON": "json",
    "JSONB": "jsonb",
    "Uuid": "uuid",
    "LargeBinary": "bytea",
}


def category(node: ast.expr | None) -> str | None:
    """The cast category of a type expression (``sa.String(20)`` -> "string"), or None if unknown."""
    name = callee(node) if node is not None else None
    return next((c for c, names in CATEGORIES.items() if name in names), None)


def enum_name(node: ast.expr | None) -> str | None:
    """The type name of ``sa.Enum(..., name="x")`` / ``postgresql.ENUM(..., name="x")``."""
    if not isinstance(node, ast.Call) or category(node) != "enum":
        return None
    value = literal_value(kw(node, "name"))
    return value if isinstance(value, str) else None


def pg_cast_missing(old: ast.expr | None, new: ast.expr | None) -> bool:
    """PostgreSQL has no implicit or assignment cast from ``old`` to ``new``: ALTER COLUMN ... TYPE without
    USING fails ("cannot be cast automatically"). False when either type is unknown."""
    source, target = category(old), category(new)
    if source is None or target is None or target == "string":
        return False
    if source == target:
        return source == "enum" and enum_name(old) != enum_name(new)  # two enum types: no cast between them
    return (source, target) not in _CASTS


def pg_type_sql(node: ast.expr) -> str:
    """How a USING cast spells the type of ``node`` in PostgreSQL (an enum by its name)."""
    name = callee(node) or ""
    if category(node) == "enum":
        return enum_name(node) or "<enum_name>"
    if name in SQL_NAMES:
        return SQL_NAMES[name]
    if category(node) == "numeric":
        precision, scale = _param(node, 0, "precision"), _param(node, 1, "scale")
        return f"numeric({precision}, {scale or 0})" if precision else "numeric"
    return name.lower()
