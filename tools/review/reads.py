"""Which statements only read: SQL text parsed by sqlglot, and SQLAlchemy ``select()`` constructs.

A statement is a read only when it is proven one: exactly one SELECT, no data-changing CTE, no INTO, no
locking clause, and every function it calls a pure builtin named in ``READ_FUNCTIONS`` (a function may
write: ``setval``, ``pg_terminate_backend``, a user's ``purge()``). Quoting or comments do not hide a
function from the parser, as they would from a regular expression. Anything the parser refuses is not a read.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import sqlglot
from sqlglot import exp

# Builtin SQL functions that change nothing (case-folded; sqlglot's name for a typed function, or the
# name as written for one it does not know).
READ_FUNCTIONS = frozenset(
    {
        *("count", "sum", "min", "max", "avg", "coalesce", "nullif", "greatest", "least", "abs", "round"),
        *("lower", "upper", "length", "char_length", "octet_length", "substring", "substr", "trim", "ltrim"),
        *("rtrim", "btrim", "concat", "concat_ws", "replace", "left", "right", "position", "strpos", "lpad"),
        *("rpad", "cast", "trycast", "try_cast", "if", "case", "ifnull", "nvl", "array_agg", "string_agg"),
        *("group_concat", "json_agg", "jsonb_agg", "arrayagg", "groupconcat", "split_part", "to_char"),
        *("date_trunc", "datetrunc", "timestamptrunc", "extract", "currentdate", "currenttimestamp", "now"),
        *("current_date", "current_timestamp", "current_schema", "current_database", "version", "md5"),
        *("regexp_replace", "regexpreplace", "regexp_like", "regexplike", "distinct", "stddev", "variance"),
        *("initcap", "array_length", "arraysize", "unnest", "explode", "row_number", "rank", "dense_rank"),
        *("first_value", "last_value", "lag", "lead", "ntile", "bool_and", "bool_or", "logicaland", "logicalor"),
        *("json_extract", "jsonextract", "jsonbextract", "jsonextractscalar", "jsonbextractscalar"),
        *("floor", "ceil", "mod", "power", "pow", "sqrt", "sign", "trunc", "exists", "anyvalue", "any_value"),
        *("strftime", "date", "datetime", "timetostr", "strtotime", "unixtotime", "timestrtotime"),
        *("tsordstodate", "timestamp_trunc", "lengthb", "chr", "ascii", "reverse", "translate", "repeat"),
    }
)
DIALECTS = ("postgres", "mysql", "sqlite")
WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Command, exp.Alter)


def function_name(node: exp.Func) -> str:
    """The case-folded name the database resolves: as written for an unknown function, else sqlglot's."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


OPERATOR_NODES = (
    exp.JSONExtract,
    exp.JSONExtractScalar,
    exp.JSONBExtract,
    exp.JSONBExtractScalar,
    exp.JSONBContains,
    exp.JSONBContainsTopKey,
    exp.JSONBContainsAnyTopKeys,
    exp.JSONBContainsAllTopKeys,
    exp.ArrayContains,
    exp.ArrayContainsAll,
    exp.ArrayOverlaps,
    exp.Array,  # the ARRAY[...] constructor
)


def sql_reads(sql: str) -> bool:
    """``sql`` is one SELECT that only reads, under every dialect that parses it (and one at least does)."""
    verdicts = [_reads_as(sql, dialect) for dialect in DIALECTS]
    parsed = [v for v in verdicts if v is not None]
    return bool(parsed) and all(parsed)


def _reads_as(sql: str, dialect: str) -> bool | None:
    """None when ``dialect`` does not parse it."""
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        return None
    if len(trees) != 1 or not isinstance(trees[0], exp.Select | exp.Union | exp.Intersect | exp.Except):
        return False
    return _only_reads(trees[0])


def _only_reads(tree: exp.Expression) -> bool:
    for node in tree.walk():
        if isinstance(node, (*WRITES, exp.Into, exp.Lock)):
            return False
        if isinstance(node, exp.Select) and (node.args.get("into") or node.args.get("locks")):
            return False
        # AND / OR / XOR, and PostgreSQL's JSON and array operators (->>, #>, ?, ?|, ?&, @>, &&), are Func
        # nodes to sqlglot: the built-in operators, not functions a database could resolve to a writer
        operator = isinstance(node, (exp.Connector, *OPERATOR_NODES))
        if isinstance(node, exp.Func) and not operator and function_name(node) not in READ_FUNCTIONS:
            return False
    return True


# SQLAlchemy builders and methods a read-only select() may be made of; anything else (``.cte()`` of a DML
# statement, ``literal_column``, ``with_for_update``, ``prefix_with``, a project function) is not proven.
SELECT_BUILDERS = frozenset(
    {
        *("select", "column", "table", "literal", "bindparam", "and_", "or_", "not_", "case", "cast", "null"),
        *("true", "false", "distinct", "exists", "desc", "asc", "tuple_", "type_coerce", "label", "alias"),
        *("where", "filter", "filter_by", "order_by", "group_by", "having", "limit", "offset", "join"),
        *("outerjoin", "select_from", "subquery", "scalar_subquery", "correlate", "in_", "not_in", "notin_"),
        *("is_", "is_not", "isnot", "like", "ilike", "not_like", "notlike", "startswith", "endswith", "contains"),
        *("between", "with_only_columns", "add_columns", "union", "union_all", "lateral", "over", "get"),
        *("Integer", "String", "Text", "Boolean", "DateTime", "Date", "BigInteger", "Numeric", "JSON", "Float"),
        *("nulls_first", "nulls_last", "any_", "all_", "collate", "as_scalar", "fetch", "unique"),
        *("Table", "MetaData", "Column", "ForeignKey", "Enum", "Interval", "SmallInteger", "LargeBinary", "Uuid"),
    }
)
TRUSTED = "trusted"  # a name the resolver knows to be sqlalchemy (or a column of a read)


def select_reads(node: ast.expr, resolve: Callable[[str], object], depth: int = 0) -> bool:
    """A ``select(...)`` construct made only of known builders, pure ``func.X`` and values that pass the
    same check. ``resolve(name)`` answers TRUSTED, the expression a name is bound to once, or None."""
    if depth > 6:
        return False
    parents = {id(child): parent for parent in ast.walk(node) for child in ast.iter_child_nodes(parent)}
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Attribute) and sub.attr == "func") or (isinstance(sub, ast.Name) and sub.id == "func"):
            # ``func.count(...)`` only: ``f = sa.func`` then ``f.anything()`` is not followed
            parent = parents.get(id(sub))
            called = isinstance(parent, ast.Attribute) and parent.attr.lower() in READ_FUNCTIONS
            if not (called and isinstance(parents.get(id(parent)), ast.Call)):
                return False
        if isinstance(sub, ast.Attribute) and sub.attr == "func":
            continue
        if isinstance(sub, ast.Call) and not _builder(sub, parents):
            return False
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            held = resolve(sub.id)
            if held is None or (held is not TRUSTED and not select_reads(held, resolve, depth + 1)):  # type: ignore[arg-type]
                return False
    return True


def _builder(call: ast.Call, parents: dict[int, ast.AST]) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "func":
        return func.attr.lower() in READ_FUNCTIONS
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in SELECT_BUILDERS


def resyncs_sequence(sql: str) -> bool:
    """``SELECT setval('seq', (SELECT coalesce(max(id), 1) FROM t))``: moves a sequence to the largest id in
    use, the resync after a bulk import. Only that shape: ``setval('seq', 1)`` would make inserts collide."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        return False
    if len(trees) != 1 or not isinstance(trees[0], exp.Select) or len(trees[0].expressions) != 1:
        return False
    select = trees[0]
    call = select.expressions[0]
    if any(select.args.get(k) for k in ("from", "where", "with", "into", "locks", "joins")):
        return False
    if not (isinstance(call, exp.Anonymous) and str(call.name).lower() == "setval" and len(call.expressions) == 2):
        return False
    sequence, value = call.expressions
    return (
        isinstance(sequence, exp.Literal)
        and sequence.is_string
        and value.find(exp.Max) is not None
        and isinstance(value, exp.Subquery | exp.Select | exp.Coalesce)
        and _only_reads(value)
    )
