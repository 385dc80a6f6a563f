"""Layer 1 of review_migration: run the registry's rules over one parsed migration.

``lint_migration`` walks upgrade()'s operations, dispatching each to the handlers the rule families
registered for its name (registry.OP_HANDLERS), then runs the whole-file checks. ``review_source`` adds
the file's ``# alembic-mcp: ignore[...]`` comments: they silence findings, never the escalations.
Rules about locks or existing rows stay quiet for tables created earlier in the same migration.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from alembic_mcp.tools.core.verdict import Escalation, Finding
from alembic_mcp.tools.history.lock_timeout import Scope, coverage, scope_of_sql
from alembic_mcp.tools.history.migration_ast import TABLE_ARG, MigrationSource, OpCall
from alembic_mcp.tools.review.rules import registry, schema_facts
from alembic_mcp.tools.review.rules.astutil import column_spec
from alembic_mcp.tools.review.rules.effects import Sources, bound_once, constant_text, migration_module
from alembic_mcp.tools.review.rules.expansion import enclosing_function, expanded_sql
from alembic_mcp.tools.review.rules.inline import merged, read_helpers
from alembic_mcp.tools.review.rules.registry import Hit, Rule
from alembic_mcp.tools.review.rules.tamper import bindings
from alembic_mcp.tools.review.rules.values import in_own_scope, sole_assignments
from alembic_mcp.tools.review.sql import ExecuteArg, analyse_execute_arg, analyse_sql, text_argument

PARAMETERS = ("bindparams", "columns", "execution_options")


@dataclass
class Lint:
    hits: list[Hit]
    cleared: set[tuple[str, str | None]]  # (rule, table) that layer 1 examined and found safe
    existing_tables: set[str]  # existing tables the upgrade touches
    changes: bool  # whether upgrade() changes anything
    statements: list[Any] = field(default_factory=list)  # dynamic.Statement: what layer 1 read of each
    read_sql: set[str] = field(default_factory=set)  # the SQL statements layer 1 read as text (normalised)


def normalised_sql(text: str) -> str:
    """A statement's text compared across layers: case, spacing and the terminator do not matter."""
    return " ".join(text.lower().split()).rstrip(";").strip()


@dataclass
class LintState:
    """What the rules share while one migration is linted: its operations, what they add, the hits."""

    migration: MigrationSource
    file: str | None
    backend: str | None
    definitions: Any = None  # downgrade.Definitions: how earlier migrations defined what is dropped
    env_sets_lock_timeout: bool = False  # env.py sets lock_timeout for every migration
    sources: Any = None  # effects.Sources: where the helpers the migration calls are read from
    hits: list[Hit] = field(default_factory=list)
    cleared: set[tuple[str, str | None]] = field(default_factory=set)
    added_columns: set[tuple[str, str]] = field(default_factory=set)  # (table, column) added by upgrade
    new_nullable_columns: set[tuple[str, str]] = field(default_factory=set)
    validated_tables: set[str] = field(default_factory=set)  # VALIDATE CONSTRAINT ran on them
    execs: dict[int, ExecuteArg] = field(default_factory=dict)  # by id() of the call node
    lock_timeout_seen: bool = False  # in effect at the current operation (env.py, or a SET before it)
    lock_timeout_ended: str | None = None  # what ended the one set before it: "autocommit" (its COMMIT) or "reset"
    statements: list[Any] = field(default_factory=list)  # set by the dynamic family's coverage check
    memo: dict[str, Any] = field(default_factory=dict)  # what several rules derive from this file, read once

    def __post_init__(self) -> None:
        self.lock_timeout_seen = self.env_sets_lock_timeout
        # helper calls read as the operations they run (inline.py), by id() of the call
        _name_tables(self.migration)
        found = read_helpers(self.migration, self.sources or Sources(), self.backend)
        self.inlined, self.inlined_arguments = found.ops, found.arguments
        helpers = [op for ops in self.inlined.values() for op in ops]
        # a branch guarded for another dialect (``if dialect == "mysql":``) is not reviewed for this target
        self.up = [op for op in self._ops("upgrade", helpers) if self.runs(op.line)]
        self.down = [op for op in self._ops("downgrade", helpers) if self.runs(op.line)]

    def _ops(self, function: str, helpers: list[OpCall]) -> list[OpCall]:
        return merged(self.migration.ops_in(function), [op for op in helpers if op.function == function])

    def runs(self, line: int) -> bool:
        """The code at ``line`` runs on the target's dialect (not inside another dialect's branch)."""
        return self.migration.runs_on(line, self.backend)

    @property
    def pg(self) -> bool:
        return self.backend in (None, "postgresql")

    def exec_arg(self, op: OpCall) -> ExecuteArg:
        key = id(op.node)
        if key not in self.execs:
            arg = self._analysed(self.statement_of(op))
            if arg.kind == "uninspectable" and (chosen := self._chosen(op)) is not None:
                arg = chosen
            self.execs[key] = arg
        return self.execs[key]

    def _analysed(self, statement) -> ExecuteArg:
        arg = analyse_execute_arg(statement, self.backend)
        if arg.kind == "interpolated" and (texts := self.expanded(statement)) is not None:
            arg = analyse_sql(";\n".join(texts), self.backend)  # one statement per value it may take
        return arg

    def _chosen(self, op: OpCall) -> ExecuteArg | None:
        """``stmt`` (or ``stmt.bindparams(...)``) assigned literal SQL more than once (``if dialect == "mysql":
        stmt = ... else: stmt = ...``): every statement it may hold, read together; only those assigned where the
        target's dialect runs when the choice is a dialect test of the migration's own connection. None unless
        every one is literal."""
        node = op.arg(0, "sqltext")
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in PARAMETERS:
            node = node.func.value  # ``stmt.bindparams(uuid=...)``: values bound as data, not SQL
        func = self.migration.functions.get(op.function)
        if not isinstance(node, ast.Name) or func is None or op.helper is not None or self.tampered:
            return None
        if not in_own_scope(func, op.node):
            return None
        assigned = sole_assignments(self.migration.tree, func, node.id)
        if assigned is None:
            return None
        running = [a for a in assigned if self.runs(a.lineno)] or assigned
        args = [self._analysed(a.value) for a in running]
        if not all(a.kind == "literal" for a in args):
            return None
        statements = [s for a in args for s in a.statements]
        return ExecuteArg(kind="literal", sql=";\n".join(a.sql or "" for a in args), statements=statements)

    def expanded(self, statement) -> list[str] | None:
        """The statements SQL built in a loop over literal values runs (expansion.py), or None."""
        if statement is None or self.tampered:
            return None
        inner = text_argument(statement) or statement
        func = enclosing_function(self.migration.functions, inner)
        return expanded_sql(self.migration.tree, func, inner, (self.sources or Sources()).shadows)

    @cached_property
    def tampered(self) -> str | None:
        """tamper.tampering() of the migration file."""
        return migration_module(self.migration).tampered

    def statement_of(self, op: OpCall) -> Any:
        """What op.execute / conn.execute runs: its argument, or what a name holding it was bound to once
        (``stmt = sa.text("SELECT ...")`` in the same function, or literal SQL in a module constant)."""
        return self._constant(op.arg(0, "sqltext"), op.function)

    def _constant(self, node, function: str = "upgrade"):
        """A name bound once in the function to a statement, or to literal SQL at module level (here, or in
        the project module it is imported from), read as that statement."""
        if not isinstance(node, ast.Name) or self.tampered:
            return node  # a file that rewrites names or objects: a name is not the value it was bound to
        func = self.migration.functions.get(function)
        local = bound_once(func).get(node.id) if func is not None else None
        if local is not None:
            return local
        module = migration_module(self.migration)
        text = constant_text(self.sources or Sources(), module, node.id)
        return ast.copy_location(ast.Constant(text), node) if text is not None else node

    def clear(self, rule_id: str, table: str | None) -> None:
        self.cleared.add((rule_id, table))

    def emit(
        self,
        rule: Rule,
        op: OpCall | None,
        message: str,
        fix: str,
        *,
        severity: str | None = None,
        why: str | None = None,
        table: str | None = None,
        column: str | None = None,
        line: int | None = None,
        fact: Any = None,
        escalation: tuple[str, dict[str, Any]] | None = None,
        **data: Any,
    ) -> Hit | None:
        """Record a finding of ``rule``; ``escalation`` is (reason, evidence) for the rule's escalation."""
        if rule.pg_only and not self.pg:
            return None
        start = line or (op.line if op else None) or 1
        end = (getattr(op.node, "end_lineno", start) or start) if op is not None else start
        finding = Finding(
            rule=rule.id,
            severity=severity or rule.severity,
            message=message,
            file=self.file,
            line=start,
            table=table if table is not None else (op.table if op else None),
            column=column,
            why=why or rule.why,
            fix=fix,
        )
        hit = Hit(finding=finding, span=(start, end), fact=fact, data=data)
        if escalation is not None:
            reason, evidence = escalation
            hit.escalation = Escalation(rule=rule.escalations[0], reason=reason, evidence=evidence)
        self.hits.append(hit)
        return hit


def _name_tables(migration: MigrationSource) -> None:
    """``op.drop_table(table_name)`` where the file binds ``table_name`` once, to a string: that table (as a
    helper's operations read it, inline.py). Not in a file that tampers: a name there is not its value."""
    module = migration_module(migration)
    if module.tampered:
        return
    for op in migration.ops:
        position, keywords = TABLE_ARG.get(op.name, (-1, ()))
        named = next((op.kwargs[k] for k in keywords if k in op.kwargs), None) or op.arg(position)
        if op.table is None and op.batch_table is None and isinstance(named, ast.Name):
            value = module.assigned.get(named.id)
            if (
                isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and bindings(module.tree, named.id) == 1
            ):
                op.table = value.value


def record_added_columns(state: LintState) -> None:
    for op in state.up:
        if op.name != "add_column":
            continue
        spec = column_spec(op.arg(1, "column"))
        # a helper may skip it (the column may exist), unless the schema model shows the column is not there:
        # then either it is added here, or it is missing and whatever uses it later fails
        new = not op.guarded or schema_facts.column_absent(state, op)
        if spec and op.table and spec.name and new:
            state.added_columns.add((op.table, spec.name))
            if spec.nullable is not False and spec.server_default is None and not spec.primary_key:
                state.new_nullable_columns.add((op.table, spec.name))


def _timeout_scopes(state: LintState, op: OpCall) -> list[Scope]:
    if op.name != "execute":
        return []
    found = (scope_of_sql(s.text) for s in state.exec_arg(op).statements)
    return [scope for scope in found if scope is not None]


def _note_statements(state: LintState, op: OpCall) -> None:
    """What an op.execute sets for the operations after it: validated constraints."""
    if op.name != "execute":
        return
    for statement in state.exec_arg(op).statements:
        if statement.kind == "alter_table" and "validate constraint" in statement.text.lower() and statement.table:
            state.validated_tables.add(statement.table)


def _tables_touched(state: LintState) -> set[str]:
    """Existing tables the upgrade changes (operations and raw SQL), for the policy layer."""
    tables = {
        op.table
        for op in state.up
        if op.table and not op.table_created_here and op.name not in ("create_table", "batch_alter_table")
    }
    writes = {
        "update",
        "delete",
        "insert",
        "alter_table",
        "add_constraint",
        "create_index",
        "drop_table",
        "truncate",
        "drop_column",
    }
    for arg in state.execs.values():
        tables |= {s.table for s in arg.statements if s.table and s.kind in writes}
    return tables - {op.table for op in state.up if op.name == "create_table"}


def lint_migration(
    migration: MigrationSource,
    file: str | None = None,
    backend: str | None = None,
    definitions: Any = None,
    env_sets_lock_timeout: bool = False,
    sources: Any = None,
) -> Lint:
    """Layer 1: every registered rule over one parsed migration."""
    registry.load()
    state = LintState(migration, file, backend, definitions, env_sets_lock_timeout, sources)
    record_added_columns(state)
    covered = coverage(state.up, lambda op: _timeout_scopes(state, op), state.env_sets_lock_timeout)
    for op, cover in zip(state.up, covered, strict=True):
        _note_statements(state, op)
        state.lock_timeout_seen, state.lock_timeout_ended = cover.covered, cover.ended
        for handler in registry.OP_HANDLERS.get(op.name, []) + registry.EVERY_OP:
            handler(state, op)
    for check in registry.FILE_CHECKS:
        check(state)
    changes = any(op.name not in ("batch_alter_table", "get_bind", "get_context", "f") for op in state.up)
    read_sql = {normalised_sql(s.text) for arg in state.execs.values() for s in arg.statements}
    return Lint(state.hits, state.cleared, _tables_touched(state), changes, state.statements, read_sql)


@dataclass
class FileReview:
    """Layer 1 of one file after its suppression comments.

    ``hits``: findings kept; ``silenced``: hits whose finding a comment silenced (their escalations
    still count); ``suppressions``: honoured comments; ``extra``: malformed or unused suppressions.
    """

    lint: Lint
    hits: list[Hit]
    suppressions: list[Any]
    extra: list[Finding]
    silenced: list[Hit] = field(default_factory=list)


def review_source(
    migration: MigrationSource,
    file: str | None = None,
    backend: str | None = None,
    definitions: Any = None,
    env_sets_lock_timeout: bool = False,
    sources: Any = None,
) -> FileReview:
    """``lint_migration`` plus the file's ``# alembic-mcp: ignore[...]`` comments."""
    from alembic_mcp.tools.review.suppressions import parse_suppressions, report, silence

    lint = lint_migration(migration, file, backend, definitions, env_sets_lock_timeout, sources)
    sset = parse_suppressions(migration.source, set(registry.rule_ids()), file)
    kept, silenced = silence(lint.hits, sset)
    honoured, unused = report(sset, file)
    return FileReview(lint=lint, hits=kept, suppressions=honoured, extra=sset.errors + unused, silenced=silenced)
