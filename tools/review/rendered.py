"""Layer 2's data rules: each statement of a revision's rendered upgrade is judged like ``op.execute`` text.

squawk lints the rendered SQL for locks; what it runs on the rows (DELETE, UPDATE, TRUNCATE, DROP, code the
database runs) is judged here by the same rule functions as literal SQL in ``op.execute``
(rules/sql.STATEMENT_RULES), so SQL that a helper emits is held to the rules SQL written in the file is
held to. Statements layer 1 read as text are skipped, and a finding layer 1 already reported (or examined
and cleared) for the same table and column is not reported twice. A statement the rules cannot classify
(SQL that does not parse, a SELECT that may write or lock, DDL outside the known kinds) escalates as
uninspectable: the reviewer saw it, but cannot say what it does.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from alembic_mcp.tools.history.migration_ast import MigrationSource, OpCall
from alembic_mcp.tools.review.reads import sql_reads
from alembic_mcp.tools.review.rules.engine import Lint, LintState, normalised_sql, record_added_columns
from alembic_mcp.tools.review.rules.registry import Hit
from alembic_mcp.tools.review.rules.sql import (
    RAW_SQL_UNINSPECTABLE,
    STATEMENT_RULES,
    _fix_uninspectable,
    _uninspectable,
)
from alembic_mcp.tools.review.sql import DIALECTS, SqlStatement, _split_statements, analyse_sql

# What the statement does to rows or runs: the lock rules (indexes, constraints, enums) are squawk's.
DATA_KINDS = ("update", "delete", "truncate", "drop_table", "drop_column", "drop_cascade", "alter_table")
# Kinds the rules classify without a finding of their own (adding rows, objects, reading plainly).
QUIET_KINDS = (
    *("insert", "set_lock_timeout", "alter_type_add_value", "alter_type_rename_value", "create_index"),
    *("drop_index", "add_constraint", "create_function"),
)
NEW_OBJECTS = {"TABLE", "INDEX", "SEQUENCE", "TYPE", "SCHEMA", "VIEW", "DOMAIN"}
SETTINGS = re.compile(r"^\s*set\s+(local\s+|session\s+)?(lock_timeout|statement_timeout|search_path)\b", re.I)
# A batch operation that recreates the table renders a copy (_alembic_tmp_<table>), DROP TABLE and this rename.
RECREATED = re.compile(r'(?is)^\s*alter\s+table\s+"?_alembic_tmp_(\w+)"?\s+rename\s+to\s+"?(\w+)')
ARTIFACT = re.compile(r"^\s*(begin|commit|start\s+transaction)\s*$", re.I)


@dataclass
class RenderedStatement:
    """One statement of the rendered upgrade, and whether it ran outside a transaction (autocommit block)."""

    text: str
    in_autocommit: bool


@dataclass
class RenderedJudgement:
    """What the rendered upgrade's statements added to layer 1: findings, and statements nobody can classify."""

    hits: list[Hit] = field(default_factory=list)
    unclassified: list[str] = field(default_factory=list)


def rendered_statements(sql: str) -> list[RenderedStatement]:
    """The statements of one revision's offline script, without alembic's own (version table, BEGIN/COMMIT)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    out: list[RenderedStatement] = []
    autocommit = False
    for text in (part.strip() for part in _split_statements(body)):
        if ARTIFACT.match(text):  # alembic renders an autocommit block as COMMIT ... BEGIN
            autocommit = text.lower().startswith("commit")
            continue
        if text and "alembic_version" not in text:
            out.append(RenderedStatement(text, autocommit))
    return out


def judge_rendered(
    migration: MigrationSource, file: str | None, backend: str | None, lint: Lint, sql: str, reported: list[Hit]
) -> RenderedJudgement:
    """The rendered upgrade's statements through the SQL rules, less what layer 1 read or reported."""
    state = LintState(migration, file, backend)
    record_added_columns(state)
    created = {op.table for op in state.up if op.name == "create_table" and op.table}
    line = _anchor_line(migration, lint)
    judgement = RenderedJudgement()
    statements = rendered_statements(sql)
    recreates = _batch_recreates(state, statements)
    for rendered in statements:
        if _read_by_layer_1(rendered.text, lint.read_sql):
            continue  # layer 1 read this very text and judged it
        for statement in _statements(rendered.text, backend):
            if statement is None:
                judgement.unclassified.append(rendered.text)
                continue
            if statement.kind == "drop_table" and recreates.get(statement.table or "", 0) > 0:
                recreates[statement.table or ""] -= 1
                continue  # a batch block's copy-and-move: layer 1 judged the block's operations
            if statement.kind == "dynamic":
                _uninspectable(state, _pseudo_op(line, rendered), statement.detail, "the rendered upgrade")
            elif statement.kind in DATA_KINDS:
                STATEMENT_RULES[statement.kind](state, _pseudo_op(line, rendered), statement, created)
            elif not _classified(statement, backend):
                judgement.unclassified.append(statement.text)
            if statement.kind == "other" and (table := _created_table(statement.text)):
                created.add(table)
    judgement.hits = _new(state.hits, reported, lint.cleared)
    judgement.hits += _unclassified_hits(state, line, judgement.unclassified)
    return judgement


BIND = re.compile(r"(?<![:\w]):\w+|%\(\w+\)s")
LITERAL = r"(?:'(?:[^']|'')*'|-?[\d.]+|null|true|false)"


def _read_by_layer_1(text: str, read_sql: set[str]) -> bool:
    """The statement is one layer 1 read as text: the same text, or the same with a literal where layer 1
    saw a bind parameter (the offline render writes its value; layer 1 judged the statement without it)."""
    rendered = normalised_sql(text)
    if rendered in read_sql:
        return True
    for read in read_sql:
        if BIND.search(read):
            pattern = LITERAL.join(re.escape(part) for part in BIND.split(read))
            if re.fullmatch(pattern, rendered):
                return True
    return False


def _batch_recreates(state: LintState, statements: list[RenderedStatement]) -> dict[str, int]:
    """How many DROP TABLE of each table are a batch block's move (one per block upgrade() opens on it, when
    the render renames a copy back to it): a helper's own DROP TABLE stays a drop."""
    renamed = {m.group(2) for s in statements if (m := RECREATED.match(s.text)) and m.group(1) == m.group(2)}
    blocks: dict[str, int] = {}
    for op in state.up:
        if op.name == "batch_alter_table" and op.table is not None and op.table in renamed:
            blocks[op.table] = blocks.get(op.table, 0) + 1
    return blocks


def _statements(text: str, backend: str | None) -> list[SqlStatement | None]:
    arg = analyse_sql(text, backend)
    return [None] if arg.kind != "literal" else list(arg.statements) or [None]


def _classified(statement: SqlStatement, backend: str | None) -> bool:
    """The rules know what the statement does: a kind they judge, a new object, a setting, a plain read."""
    if statement.kind in QUIET_KINDS:
        return True
    tree = _tree(statement.text, backend)
    if statement.kind == "select":
        return sql_reads(statement.text)  # the same proof of a read as layer 1's
    if isinstance(tree, exp.Create):
        return str(tree.args.get("kind") or "").upper() in NEW_OBJECTS
    return isinstance(tree, exp.Comment) or bool(SETTINGS.match(statement.text))


def _tree(text: str, backend: str | None) -> exp.Expression | None:
    try:
        tree = sqlglot.parse_one(text, read=DIALECTS.get(backend, "postgres"))
    except (ParseError, TokenError, ValueError):
        return None
    return tree if isinstance(tree, exp.Expression) else None


def _created_table(text: str) -> str | None:
    match = re.match(r'(?is)^\s*create\s+table\s+(?:if\s+not\s+exists\s+)?([\w."]+)', text)
    return match.group(1).replace('"', "").split(".")[-1] if match else None


def _anchor_line(migration: MigrationSource, lint: Lint) -> int:
    """Where a rendered statement's finding points: the first upgrade() statement layer 1 did not read, else
    upgrade() itself (the render does not say which statement emitted it)."""
    unread = [s.line for s in lint.statements if s.function == "upgrade" and not s.read]
    func = migration.functions.get("upgrade")
    return min(unread) if unread else (func.lineno if func is not None else 1)


def _pseudo_op(line: int, rendered: RenderedStatement) -> OpCall:
    node = ast.Call(func=ast.Name("execute", ast.Load()), args=[], keywords=[], lineno=line, end_lineno=line)
    return OpCall(name="execute", function="rendered", line=line, node=node, in_autocommit=rendered.in_autocommit)


def _key(hit: Hit) -> tuple:
    """Findings that say the same: with an escalation, per table and column; without one, per rule."""
    finding = hit.finding
    return (finding.rule, finding.table, finding.column) if hit.escalation is not None else (finding.rule,)


def _new(hits: list[Hit], reported: list[Hit], cleared: set[tuple[str, str | None]]) -> list[Hit]:
    """The rendered statements' hits that layer 1 did not report or clear, one per table and column."""
    seen = {k for h in reported for k in ((h.finding.rule,), (h.finding.rule, h.finding.table, h.finding.column))}
    cleared_rules = {rule for rule, table in cleared if table is None}
    out = []
    for hit in hits:
        rule, table = hit.finding.rule, hit.finding.table
        if _key(hit) in seen or (rule, table) in cleared or rule in cleared_rules:
            continue
        seen.add(_key(hit))
        hit.finding.message += " (Found in the rendered SQL: no operation of the migration shows it.)"
        hit.data["rendered"] = True
        out.append(hit)
    return out


def _unclassified_hits(state: LintState, line: int, texts: list[str]) -> list[Hit]:
    hits = []
    for text in dict.fromkeys(" ".join(t.split())[:200] for t in texts):
        hit = state.emit(
            RAW_SQL_UNINSPECTABLE,
            None,
            f"The rendered upgrade runs `{text}`, which no operation of the migration shows and the SQL rules "
            "cannot classify.",
            _fix_uninspectable(),
            line=line,
            escalation=(
                f"The rendered upgrade runs `{text}`, SQL the reviewer cannot classify (it may write, lock or "
                "run code); a human must read it.",
                {"line": line, "statement": text, "found_by": "rendered-sql"},
            ),
        )
        if hit is not None:
            hits.append(hit)
    return hits
