"""What an ``op.execute`` (or ``sa.text``) argument is, and what its SQL does.

Classifies the argument as literal SQL, SQL built by interpolation (f-string, ``%``, ``+``,
``.format``), a SQLAlchemy construct (``table.update()``, ``sa.update(...)``) or something that cannot
be inspected; parses literal SQL with sqlglot into statements and says what each one does (backfill
UPDATE/DELETE, lock_timeout, enum ALTER TYPE, index or constraint DDL).
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass, field
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from alembic_mcp.tools.review import reads

logging.getLogger("sqlglot").setLevel(logging.ERROR)

ArgKind = Literal["literal", "interpolated", "construct", "uninspectable"]

DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite", None: "postgres"}
CONSTRUCT_METHODS = {"update", "insert", "delete", "values", "where"}
CONSTRUCT_FUNCS = {"update", "insert", "delete"}


@dataclass
class SqlStatement:
    """One statement of a literal SQL string."""

    text: str
    kind: str  # update, delete, insert, set_lock_timeout, alter_type_add_value, alter_type_rename_value,
    #            create_index, drop_index, add_constraint, drop_column, drop_table, truncate, alter_table,
    #            select, other
    table: str | None = None
    concurrently: bool = False
    not_valid: bool = False
    batched: bool = False
    constraint: str | None = None  # foreign_key / check / unique / primary_key
    column: str | None = None  # ALTER TABLE ... DROP COLUMN
    copied_columns: list[str] = field(default_factory=list)  # UPDATE ... SET col = <other columns>
    set_columns: list[str] = field(default_factory=list)  # UPDATE ... SET <these columns>
    fills_nulls: list[str] = field(default_factory=list)  # SET col = COALESCE(col, ...): only NULLs change
    negated: list[str] = field(default_factory=list)  # SET col = NOT col: every value kept, flipped
    carried: list[str] = field(default_factory=list)  # columns of the updated table whose values SET carries
    where: bool = True  # UPDATE/DELETE restricted by a WHERE clause (False: every row)
    detail: str = ""  # dynamic / drop_cascade: what the statement is


@dataclass
class ExecuteArg:
    """The analysed argument of one ``op.execute`` call."""

    kind: ArgKind
    sql: str | None = None
    statements: list[SqlStatement] = field(default_factory=list)
    parse_error: str | None = None
    construct: str | None = None  # update / insert / delete for SQLAlchemy constructs
    construct_table: str | None = None
    construct_where: bool = False  # the construct is restricted by .where()/.filter()/whereclause
    detail: str = ""


def _func_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def is_interpolated(node: ast.expr) -> str | None:
    """How a string expression is built from values, or None when it is a plain literal/other."""
    if isinstance(node, ast.JoinedStr):
        if any(isinstance(v, ast.FormattedValue) for v in node.values):
            return "f-string"
        return None
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod) and _stringy(node.left):
            return "% formatting"
        if isinstance(node.op, ast.Add) and (_stringy(node.left) or _stringy(node.right)):
            return "+ concatenation"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and _stringy(node.func.value)
    ):
        return ".format()"
    return None


def folded_literal(node: ast.expr | None) -> str | None:
    """The text of a string built only from literals (``"DR" + "OP TABLE x"``, an f-string without
    placeholders), or None when any part is computed at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [folded_literal(v) if not isinstance(v, ast.FormattedValue) else None for v in node.values]
        return None if any(p is None for p in parts) else "".join(parts)  # type: ignore[arg-type]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = folded_literal(node.left), folded_literal(node.right)
        return None if left is None or right is None else left + right
    return None


def _stringy(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _stringy(node.left) or _stringy(node.right)
    return False


def text_argument(node: ast.expr) -> ast.expr | None:
    """``sa.text(X)`` / ``text(X)`` (optionally ``.bindparams(...)``/``.columns(...)``) -> X."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("bindparams", "columns", "execution_options")
    ):
        node = node.func.value
    if isinstance(node, ast.Call) and _func_name(node.func) == "text" and node.args:
        return node.args[0]
    return None


def _construct(node: ast.expr) -> tuple[str, str | None] | None:
    """``tbl.update()...``, ``sa.update(tbl)...`` -> (kind, table variable name or literal)."""
    current = node
    while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
        attr = current.func.attr
        receiver = current.func.value
        if attr in ("update", "insert", "delete") and not isinstance(receiver, ast.Call):
            name = receiver.id if isinstance(receiver, ast.Name) else None
            if not (isinstance(receiver, ast.Name) and receiver.id in ("sa", "sqlalchemy")):
                return attr, name
        if (
            attr in ("update", "insert", "delete")
            and isinstance(receiver, ast.Name)
            and receiver.id in ("sa", "sqlalchemy")
        ):
            return attr, _construct_target(current.args[0] if current.args else None)
        if attr in CONSTRUCT_METHODS or attr in ("returning", "execution_options", "inline", "filter", "from_select"):
            current = receiver
            continue
        break
    if isinstance(current, ast.Call) and isinstance(current.func, ast.Name) and current.func.id in CONSTRUCT_FUNCS:
        return current.func.id, _construct_target(current.args[0] if current.args else None)
    return None


def _construct_target(target: ast.expr | None) -> str | None:
    """The table of ``sa.delete(persons)`` / ``sa.delete(sa.table("persons"))``: a variable or a literal name."""
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Call) and _func_name(target.func) in ("table", "Table") and target.args:
        first = target.args[0]
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    return None


def _construct_where(node: ast.expr) -> bool:
    """The construct chain restricts its rows: ``.where(...)``, ``.filter(...)`` or a ``whereclause=`` argument."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in ("where", "filter", "filter_by"):
            return True
        if isinstance(sub, ast.Call) and any(k.arg == "whereclause" for k in sub.keywords):
            return True
    return False


def analyse_execute_arg(node: ast.expr | None, backend: str | None = None) -> ExecuteArg:
    """Classify the first argument of ``op.execute``."""
    if node is None:
        return ExecuteArg(kind="uninspectable", detail="op.execute() without an argument")
    inner = text_argument(node)
    candidate = inner if inner is not None else node
    how = is_interpolated(candidate)
    folded = folded_literal(candidate) if how else None
    if folded is not None:  # pieces of literal text glued together: still readable
        return analyse_sql(folded, backend)
    if how:
        return ExecuteArg(kind="interpolated", detail=how)
    if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str):
        return analyse_sql(candidate.value, backend)
    if isinstance(candidate, ast.JoinedStr):  # f-string without placeholders
        text = "".join(str(v.value) for v in candidate.values if isinstance(v, ast.Constant))
        return analyse_sql(text, backend)
    construct = _construct(node)
    if construct:
        return ExecuteArg(
            kind="construct",
            construct=construct[0],
            construct_table=construct[1],
            construct_where=_construct_where(node),
            detail=f"SQLAlchemy {construct[0]}() construct",
        )
    return ExecuteArg(kind="uninspectable", detail=f"argument is `{ast.unparse(node)[:80]}`, not SQL text")


_LOCK_TIMEOUT = re.compile(r"^\s*set\s+(local\s+|session\s+)?lock_timeout\b", re.I)
_ALTER_TYPE = re.compile(r"^\s*alter\s+type\s+(\S+)\s+(add\s+value|rename\s+value)", re.I)
_CREATE_INDEX = re.compile(
    r"^\s*create\s+(unique\s+)?index\s+(concurrently\s+)?(if\s+not\s+exists\s+)?(\S+\s+)?on\s+(only\s+)?([\w.\"]+)",
    re.I,
)
_DROP_INDEX = re.compile(r"^\s*drop\s+index\s+(concurrently\s+)?", re.I)
_DROP_TABLE = re.compile(r"^\s*drop\s+table\s+(if\s+exists\s+)?([\w.\"`]+)", re.I)
_TRUNCATE = re.compile(r"^\s*truncate\s+(table\s+)?(only\s+)?([\w.\"`]+)", re.I)
_DROP_COLUMN = re.compile(
    r"^drop\s+(?:column\s+)?(?:if\s+exists\s+)?(?!constraint\b|index\b|key\b|primary\b|foreign\b|check\b)([\w\"`]+)",
    re.I,
)
_ALTER_TABLE = re.compile(r"^\s*alter\s+table\s+(if\s+exists\s+)?(only\s+)?([\w.\"]+)\s+(.*)$", re.I | re.S)
_DYNAMIC = re.compile(
    r"^\s*(?:(do)\b|create\s+(?:or\s+replace\s+)?(function|procedure|rule)\b"
    r"|(call|prepare|execute)\b)",
    re.I,
)
_COPY_PROGRAM = re.compile(r"^\s*copy\b.*\bprogram\b", re.I | re.S)
_DROP_CASCADE = re.compile(r"^\s*drop\s+(?:(schema|owned)\b|\w.*\bcascade\s*;?\s*$)", re.I | re.S)
_BATCH_HINT = re.compile(r"\blimit\b|\bbetween\b|\bctid\b|\bid\s*(<|<=|>|>=)\s*\d|:\w+|%\(\w+\)s", re.I)


def _unquote(name: str) -> str:
    return name.replace('"', "").replace("`", "")


def _table_of(expression: exp.Expression) -> str | None:
    table = expression.find(exp.Table)
    return table.name if table is not None and table.name else None


def _textual(stripped: str) -> SqlStatement | None:
    """Statements recognised from their text (DDL the parser may not model): lock_timeout, enums, indexes,
    DROP TABLE / TRUNCATE."""
    if _LOCK_TIMEOUT.match(stripped):
        return SqlStatement(stripped, "set_lock_timeout")
    if m := _ALTER_TYPE.match(stripped):
        kind = "alter_type_add_value" if m.group(2).lower().startswith("add") else "alter_type_rename_value"
        return SqlStatement(stripped, kind, table=_unquote(m.group(1)))
    if m := _CREATE_INDEX.match(stripped):
        table = _unquote(m.group(6)).split(".")[-1]
        unique = "unique" if m.group(1) else None
        return SqlStatement(stripped, "create_index", table=table, concurrently=bool(m.group(2)), constraint=unique)
    if m := _DROP_INDEX.match(stripped):
        return SqlStatement(stripped, "drop_index", concurrently=bool(m.group(1)))
    if m := _DROP_TABLE.match(stripped) or _TRUNCATE.match(stripped):
        kind = "truncate" if stripped.lower().startswith("truncate") else "drop_table"
        return SqlStatement(stripped, kind, table=_unquote(m.groups()[-1]).split(".")[-1])
    return _hidden_or_cascading(stripped)


_PLAIN_SQL_FUNCTION = re.compile(
    r"""(?isx)^\s*create\s+function\s+(?:"?(\w+)"?\.)?"?(\w+)"?\s*\(   # plain CREATE FUNCTION [schema.]name(
    [^()]*\)\s*returns\s+[\w\s\[\]."]+?                           # (args) RETURNS type
    \s+as\s+\$(\w*)\$(.*?)\$\3\$                                   # AS $tag$ body $tag$
    \s+language\s+sql\s+immutable(?:\s+strict)?(?:\s+parallel\s+safe)?\s*;?\s*$""",
)


def _read_only_function(stripped: str) -> bool:
    """A new SQL function that can change nothing, when called or by being defined: plain CREATE FUNCTION (OR
    REPLACE may swap an authorisation, RLS or trigger function), LANGUAGE sql IMMUTABLE and nothing else (no
    SECURITY DEFINER), a name no pure builtin has, and a body that is one proven read (reads.py)."""
    m = _PLAIN_SQL_FUNCTION.match(stripped)
    if m is None or m.group(2).lower() in reads.READ_FUNCTIONS:
        return False
    return reads.sql_reads(m.group(4).strip().rstrip(";"))


def _hidden_or_cascading(stripped: str) -> SqlStatement | None:
    """Statements whose effect the text does not show: code the database runs (DO, functions, rules,
    PREPARE/EXECUTE, CALL, COPY ... PROGRAM) and drops that cascade to objects nobody named."""
    if _read_only_function(stripped):
        return SqlStatement(stripped, "create_function")
    if m := _DYNAMIC.match(stripped):
        what = next(g for g in m.groups() if g)
        return SqlStatement(stripped, "dynamic", detail=f"{' '.join(what.upper().split())} (code run by the database)")
    if _COPY_PROGRAM.match(stripped):
        return SqlStatement(stripped, "dynamic", detail="COPY ... PROGRAM (a shell command on the database host)")
    if m := _DROP_CASCADE.match(stripped):
        cascades = "cascade" in stripped.lower() or (m.group(1) or "").lower() == "owned"
        return SqlStatement(stripped, "drop_cascade", detail=" ".join(stripped.split())[:80]) if cascades else None
    return None


def _constraint_kind(rest: str) -> str | None:
    for words, kind in (("foreign key", "foreign_key"), ("check", "check"), ("unique", "unique")):
        if words in rest:
            return kind
    return "primary_key" if "primary key" in rest else None


def _alter_table(stripped: str) -> SqlStatement | None:
    m = _ALTER_TABLE.match(stripped)
    if not m:
        return None
    rest = m.group(4).lower()
    table = _unquote(m.group(3)).split(".")[-1]
    if dropped := _DROP_COLUMN.match(m.group(4).strip()):
        return SqlStatement(stripped, "drop_column", table=table, column=_unquote(dropped.group(1)))
    if "add constraint" in rest or re.search(r"\badd\s+(foreign|unique|check|primary)", rest):
        kind = _constraint_kind(rest)
        return SqlStatement(stripped, "add_constraint", table=table, not_valid="not valid" in rest, constraint=kind)
    return SqlStatement(stripped, "alter_table", table=table)


def _parsed(stripped: str, parsed: exp.Expression | None) -> SqlStatement:
    """Data statements, from sqlglot's tree."""
    batched = bool(_BATCH_HINT.search(stripped))
    if isinstance(parsed, exp.Update):
        copied = [
            eq.this.name
            for eq in parsed.expressions
            if isinstance(eq, exp.EQ)
            and isinstance(eq.this, exp.Column)
            and eq.expression is not None
            and eq.expression.find(exp.Column) is not None
        ]
        set_columns = [eq.this.name for eq in parsed.expressions if isinstance(eq, exp.EQ) and eq.this is not None]
        where = parsed.args.get("where") is not None
        return SqlStatement(
            stripped,
            "update",
            table=_table_of(parsed),
            batched=batched,
            copied_columns=copied,
            set_columns=set_columns,
            carried=_carried_reads(parsed),
            where=where,
            fills_nulls=_fills_nulls(parsed),
            negated=_negated(parsed),
        )
    if isinstance(parsed, exp.Delete):
        where = parsed.args.get("where") is not None
        return SqlStatement(stripped, "delete", table=_table_of(parsed), batched=batched, where=where)
    if isinstance(parsed, exp.Insert):
        return SqlStatement(stripped, "insert", table=_table_of(parsed))
    if isinstance(parsed, exp.Select) and not reads.sql_reads(stripped) and not reads.resyncs_sequence(stripped):
        # a function may write (setval, a user's purge()); SELECT ... INTO / FOR UPDATE; a data-changing CTE
        return SqlStatement(stripped, "dynamic", detail="a SELECT not proven to only read (a function it calls)")
    return SqlStatement(stripped, "select" if isinstance(parsed, exp.Select) else "other")


def _fills_nulls(update: exp.Update) -> list[str]:
    """Columns set to ``COALESCE(<the same column>, ...)`` (``IFNULL``): every value but NULL is kept, so the
    SET only fills the NULL rows, as a ``WHERE col IS NULL`` would."""
    target = update.this
    own = {target.name, target.alias_or_name} if isinstance(target, exp.Table) else set()
    out = []
    for eq in update.expressions:
        if not (isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Coalesce)):
            continue
        kept = eq.expression.this
        if isinstance(kept, exp.Column) and (not kept.table or kept.table in own) and _same(kept, eq.this):
            out.append(eq.this.name)
    return out


def _negated(update: exp.Update) -> list[str]:
    """Columns set to ``NOT <the same column>`` (indico ad0625914645, after renaming is_active to
    is_deleted): a flip loses nothing, running it again gives every value back."""
    target = update.this
    own = {target.name, target.alias_or_name} if isinstance(target, exp.Table) else set()
    out = []
    for eq in update.expressions:
        value = eq.expression.unnest() if isinstance(eq, exp.EQ) else None
        if not (isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column) and isinstance(value, exp.Not)):
            continue
        flipped = value.this.unnest()
        if isinstance(flipped, exp.Column) and (not flipped.table or flipped.table in own) and _same(flipped, eq.this):
            out.append(eq.this.name)
    return out


def _same(left: exp.Column, right: exp.Column) -> bool:
    """The same column name as the database folds it (unquoted names fold case, quoted ones do not)."""
    a, b = left.this, right.this
    if not (isinstance(a, exp.Identifier) and isinstance(b, exp.Identifier)):
        return False
    if a.quoted or b.quoted:
        return a.quoted == b.quoted and a.name == b.name
    return a.name.lower() == b.name.lower()


def _carried_reads(update: exp.Update) -> list[str]:
    """Columns of the updated table whose values the SET carries into the columns it sets: read by a SET
    value, or (UPDATE ... FROM) compared for equality, in a top-level AND of the WHERE, with a column of a
    FROM table that a SET value reads (the reverse lookup ``SET name = r.name FROM r WHERE r.id = t.r_id``)."""
    target = update.this
    own = {target.name, target.alias_or_name} if isinstance(target, exp.Table) else set()
    values = [eq.expression for eq in update.expressions if isinstance(eq, exp.EQ) and eq.expression is not None]
    read = [c for value in values for c in value.find_all(exp.Column)]
    reads = [c.name for c in read if not c.table or c.table in own]
    source = update.args.get("from_") or update.args.get("from")
    where = update.args.get("where")
    if source is None or where is None:
        return reads
    joined = {t.alias_or_name for t in source.find_all(exp.Table)}
    looked_up = {c.table for c in read if c.table in joined}
    for condition in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if not isinstance(condition, exp.EQ):
            continue
        for mine, other in ((condition.this, condition.expression), (condition.expression, condition.this)):
            mine_own = isinstance(mine, exp.Column) and (not mine.table or mine.table in own)
            if mine_own and isinstance(other, exp.Column) and other.table in looked_up:
                reads.append(mine.name)
    return reads


_LEADING_COMMENTS = re.compile(r"^\s*(?:--[^\n]*(?:\n|$)\s*|/\*.*?\*/\s*)*", re.S)


def _statement(text: str, parsed: exp.Expression | None) -> SqlStatement:
    stripped = _LEADING_COMMENTS.sub("", text).strip()  # `/* x */ DROP TABLE t` is a DROP TABLE
    return _textual(stripped) or _alter_table(stripped) or _parsed(stripped, parsed)


def analyse_sql(sql: str, backend: str | None = None) -> ExecuteArg:
    """Parse literal SQL; a parse failure makes the argument uninspectable (with the parser's reason)."""
    dialect = DIALECTS.get(backend, "postgres")
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except (ParseError, TokenError) as exc:
        try:  # vendor syntax the dialect does not know: try the generic parser before giving up
            trees = [t for t in sqlglot.parse(sql) if t is not None]
        except (ParseError, TokenError):
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return ExecuteArg(
                kind="uninspectable",
                sql=sql,
                parse_error=first,
                detail=f"SQL that cannot be parsed ({first})",
            )
    texts = [t.strip() for t in _split_statements(sql)]
    statements: list[SqlStatement] = []
    for index, tree in enumerate(trees):
        text = texts[index] if index < len(texts) and len(texts) == len(trees) else tree.sql(dialect=dialect)
        statements.append(_statement(text, tree if isinstance(tree, exp.Expression) else None))
    return ExecuteArg(kind="literal", sql=sql, statements=statements)


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")


def _split_statements(sql: str) -> list[str]:
    """Split on semicolons outside quotes and $$ bodies (good enough to keep each statement's original text)."""
    parts: list[str] = []
    start = index = 0
    while index < len(sql):
        char = sql[index]
        if char in ("'", '"'):
            index = _after(sql, char, index + 1)
        elif char == "$" and (tag := _DOLLAR_TAG.match(sql, index)):
            index = _after(sql, tag.group(0), tag.end())
        elif char == ";":
            parts.append(sql[start:index])
            start = index = index + 1
        else:
            index += 1
    parts.append(sql[start:])
    return [p for p in parts if p.strip()]


def _after(sql: str, closing: str, index: int) -> int:
    """The position after ``closing`` (the end of the text when it never closes)."""
    end = sql.find(closing, index)
    return len(sql) if end < 0 else end + len(closing)
