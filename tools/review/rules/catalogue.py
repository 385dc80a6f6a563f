"""Layer 1 of review_migration: the RULES.md catalogue over the AST of one migration file.

``lint_migration`` reads a parsed migration (tools/migration_ast.py) and returns ``Hit``s: a Finding
(rule, severity, message, file, line, table, column, why, fix as code) plus what the database-context
layer needs to turn "with data" into a fact, and the escalation the hit implies when no fact is known.
Rules about locks or existing rows stay quiet for tables created earlier in the same migration.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from alembic_mcp.tools.core.verdict import Escalation, Finding
from alembic_mcp.tools.history.migration_ast import MigrationSource, OpCall, literal_value
from alembic_mcp.tools.review.sql import ExecuteArg, analyse_execute_arg, is_interpolated

RULE_IDS: dict[str, str] = {
    "add-column-required": "NOT NULL column without server_default added to an existing table",
    "set-not-null": "alter_column(nullable=False) on an existing column",
    "create-index-non-concurrent": "create_index on an existing table without CONCURRENTLY (PostgreSQL)",
    "concurrent-in-transaction": "CONCURRENTLY inside Alembic's transaction",
    "drop-index-non-concurrent": "drop_index without CONCURRENTLY (PostgreSQL)",
    "fk-not-valid-missing": "foreign key / CHECK on an existing table without NOT VALID",
    "add-unique-constraint": "unique constraint on an existing table",
    "primary-key-change": "primary key dropped, created or its column's type changed",
    "change-column-type": "alter_column(type_=...) on an existing column",
    "rename-column": "alter_column(new_column_name=...)",
    "rename-table": "rename_table",
    "drop-column": "drop_column",
    "drop-table": "drop_table of an existing table",
    "volatile-default": "add_column with a volatile server default (PostgreSQL)",
    "json-column": "new column of type json (PostgreSQL)",
    "missing-lock-timeout": "strong lock on an existing table without lock_timeout (PostgreSQL)",
    "unbatched-backfill": "UPDATE/DELETE over a whole table inside the DDL transaction",
    "raw-sql-interpolated": "SQL built with f-string, %, + or .format",
    "raw-sql-uninspectable": "op.execute of something that is not SQL text, or SQL that cannot be parsed",
    "empty-downgrade": "downgrade() empty while upgrade() changes something",
    "downgrade-not-inverse": "downgrade() does not undo an upgrade operation",
    "irreversible-downgrade": "downgrade() raises",
    "downgrade-loses-data": "downgrade() drops a column/table that upgrade() filled",
    "unnamed-constraint": "constraint or index without a name",
    "offline-unsafe": "upgrade reads rows or inspects the database (breaks --sql)",
    "enum-change": "PostgreSQL enum values added or renamed",
    "fk-missing-index": "new foreign key whose columns have no index",
}

PG_ONLY = {
    "create-index-non-concurrent",
    "concurrent-in-transaction",
    "drop-index-non-concurrent",
    "fk-not-valid-missing",
    "volatile-default",
    "json-column",
    "missing-lock-timeout",
    "enum-change",
}
VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v[14]\w*|clock_timestamp|timeofday|"
    r"statement_timestamp|nextval|txid_current)\s*\(",
    re.I,
)
CONSTRAINT_OPS = {
    "create_foreign_key": "foreignkey",
    "create_unique_constraint": "unique",
    "create_check_constraint": "check",
    "create_primary_key": "primary",
    "create_exclude_constraint": "exclude",
}
STRONG_LOCK_OPS = {
    "add_column",
    "drop_column",
    "alter_column",
    "create_foreign_key",
    "create_unique_constraint",
    "create_check_constraint",
    "create_primary_key",
    "drop_constraint",
    "rename_table",
    "drop_table",
    "create_exclude_constraint",
}
ROW_READERS = {
    "fetchone",
    "fetchall",
    "fetchmany",
    "scalar",
    "scalar_one",
    "scalar_one_or_none",
    "scalars",
    "first",
    "one",
    "one_or_none",
    "mappings",
    "all",
}
DOC_IRREVERSIBLE = re.compile(r"irreversib|not reversible|one[- ]way|cannot be (undone|reversed)|no downgrade", re.I)
DOC_DATA_LOSS = re.compile(
    r"data (is |will be )?los[st]|loses data|lose[sd]? (the )?data|data loss|"
    r"export .* first|backup",
    re.I,
)


@dataclass
class Hit:
    """One layer-1 finding, what the context layer may check, and the escalation it implies."""

    finding: Finding
    span: tuple[int, int]
    fact: dict[str, Any] | None = None
    escalation: Escalation | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lint:
    hits: list[Hit]
    cleared: set[tuple[str, str | None]]  # (rule, table) that layer 1 examined and found safe
    existing_tables: set[str]  # existing tables the upgrade touches
    changes: bool  # whether upgrade() changes anything


# ---------------------------------------------------------------------------------------------- helpers


def _name_value(node: ast.expr | None) -> str | None:
    """A literal name or ``op.f("name")`` / ``conv("name")``."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute | ast.Name):
        func = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if func in ("f", "conv"):
            node = node.args[0]
    value = literal_value(node)
    return value if isinstance(value, str) else None


def _is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _callee(node: ast.expr) -> str | None:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _truthy(node: ast.expr | None) -> bool:
    return literal_value(node) is True


def _src(node: ast.expr | None) -> str:
    return ast.unparse(node) if node is not None else ""


def _list_of_str(node: ast.expr | None) -> list[str]:
    value = literal_value(node)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


@dataclass
class ColumnSpec:
    name: str | None
    type_node: ast.expr | None
    type_name: str | None
    nullable: bool | None
    primary_key: bool
    server_default: ast.expr | None
    unique: bool
    index: bool
    foreign_keys: list[tuple[str | None, ast.Call]]  # (target "table.col", node)
    node: ast.Call


def column_spec(node: ast.expr | None) -> ColumnSpec | None:
    if not isinstance(node, ast.Call) or _callee(node) != "Column":
        return None
    name = literal_value(node.args[0]) if node.args else literal_value(_kw(node, "name"))
    type_node = node.args[1] if len(node.args) > 1 and _callee(node.args[1]) != "ForeignKey" else _kw(node, "type_")
    fks = []
    for arg in node.args[1:]:
        if isinstance(arg, ast.Call) and _callee(arg) == "ForeignKey":
            fks.append((literal_value(arg.args[0]) if arg.args else None, arg))
    nullable = literal_value(_kw(node, "nullable"))
    return ColumnSpec(
        name=name if isinstance(name, str) else None,
        type_node=type_node,
        type_name=_callee(type_node) if type_node is not None else None,
        nullable=nullable if isinstance(nullable, bool) else None,
        primary_key=_truthy(_kw(node, "primary_key")),
        server_default=_kw(node, "server_default"),
        unique=_truthy(_kw(node, "unique")),
        index=_truthy(_kw(node, "index")),
        foreign_keys=fks,
        node=node,
    )


def _default_text(node: ast.expr | None) -> str:
    """Text of a server_default: a literal, sa.text("..."), sa.func.x() ..."""
    if node is None:
        return ""
    value = literal_value(node)
    if isinstance(value, str):
        return value
    if isinstance(node, ast.Call) and _callee(node) == "text" and node.args:
        inner = literal_value(node.args[0])
        return inner if isinstance(inner, str) else _src(node)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "func"
    ):
        return f"{node.func.attr}()"
    return _src(node)


def _type_label(node: ast.expr | None) -> str:
    return _src(node) if node is not None else "<type>"


def _q(value: str | None) -> str:
    return repr(value) if value is not None else "None"


# ---------------------------------------------------------------------------------------------- linting


class _Linter:
    def __init__(
        self,
        migration: MigrationSource,
        file: str | None,
        backend: str | None,
        definitions: Definitions | None = None,
        env_sets_lock_timeout: bool = False,
    ):
        self.definitions = definitions
        self.env_sets_lock_timeout = env_sets_lock_timeout
        self.m = migration
        self.file = file
        self.backend = backend
        self.hits: list[Hit] = []
        self.cleared: set[tuple[str, str | None]] = set()
        self.up = migration.ops_in("upgrade")
        self.down = migration.ops_in("downgrade")
        self.added_columns: set[tuple[str, str]] = set()  # (table, column) added by upgrade
        self.new_nullable_columns: set[tuple[str, str]] = set()
        self.execs: dict[int, ExecuteArg] = {}

    # -- plumbing
    @property
    def pg(self) -> bool:
        return self.backend in (None, "postgresql")

    def emit(
        self,
        rule: str,
        severity: str,
        op: OpCall | None,
        message: str,
        why: str,
        fix: str,
        table: str | None = None,
        column: str | None = None,
        line: int | None = None,
        fact: dict | None = None,
        escalation: Escalation | None = None,
        **data,
    ) -> Hit:
        if rule in PG_ONLY and not self.pg:
            return None  # type: ignore[return-value]
        node = op.node if op is not None else None
        start = line or (op.line if op else None) or 1
        end = getattr(node, "end_lineno", start) or start
        hit = Hit(
            finding=Finding(
                rule=rule,
                severity=severity,
                message=message,
                file=self.file,
                line=start,
                table=table if table is not None else (op.table if op else None),
                column=column,
                why=why,
                fix=fix,
            ),
            span=(start, end),
            fact=fact,
            escalation=escalation,
            data=data,
        )
        self.hits.append(hit)
        return hit

    def clear(self, rule: str, table: str | None) -> None:
        self.cleared.add((rule, table))

    def existing(self, op: OpCall) -> bool:
        return not op.table_created_here

    def exec_arg(self, op: OpCall) -> ExecuteArg:
        if op.line not in self.execs or self.execs[op.line] is None:
            self.execs[op.line] = analyse_execute_arg(op.arg(0, "sqltext"), self.backend)
        return self.execs[op.line]

    # -- run
    def run(self) -> Lint:
        for op in self.up:
            if op.name == "add_column":
                spec = column_spec(op.arg(1, "column"))
                if spec and op.table and spec.name:
                    self.added_columns.add((op.table, spec.name))
                    if spec.nullable is not False and spec.server_default is None and not spec.primary_key:
                        self.new_nullable_columns.add((op.table, spec.name))
        lock_timeout_seen = self.env_sets_lock_timeout  # env.py sets it for every migration
        if lock_timeout_seen:
            self.clear("missing-lock-timeout", None)
        lock_timeout_reported = False
        validated_tables: set[str] = set()
        for op in self.up:
            handler = getattr(self, f"up_{op.name}", None)
            if op.name == "execute":
                arg = self.exec_arg(op)
                if any(s.kind == "set_lock_timeout" for s in arg.statements):
                    lock_timeout_seen = True
                for s in arg.statements:
                    if s.kind == "alter_table" and "validate constraint" in s.text.lower() and s.table:
                        validated_tables.add(s.table)
            if op.name == "alter_column" and op.table in validated_tables:
                op._validated = True  # type: ignore[attr-defined]
            if handler:
                handler(op)
            if self.pg and not lock_timeout_seen and not lock_timeout_reported and self._strong_lock(op):
                lock_timeout_reported = True
                self.emit(
                    "missing-lock-timeout",
                    "warning",
                    op,
                    f"{op.name} takes a strong lock on existing table {op.table or '?'} and no lock_timeout "
                    "is set before it.",
                    "Waiting for the lock queues every later query on the table behind this statement: "
                    "one long transaction elsewhere turns the migration into an outage.",
                    "op.execute(\"SET LOCAL lock_timeout = '5s'\")  # first statement of upgrade(); "
                    "inside autocommit_block() use SET lock_timeout ... and RESET lock_timeout",
                )
        self.rows_readers()
        self.interpolated_sql()
        self.downgrade_checks()
        existing_tables = {
            op.table
            for op in self.up
            if op.table and not op.table_created_here and op.name not in ("create_table", "batch_alter_table")
        }
        for arg in self.execs.values():
            for s in arg.statements:
                if s.table and s.kind in (
                    "update",
                    "delete",
                    "insert",
                    "alter_table",
                    "add_constraint",
                    "create_index",
                ):
                    existing_tables.add(s.table)
        created = {op.table for op in self.up if op.name == "create_table"}
        changes = any(op.name != "batch_alter_table" for op in self.up)
        return Lint(self.hits, self.cleared, existing_tables - created, changes)

    def _strong_lock(self, op: OpCall) -> bool:
        if op.table_created_here or op.in_autocommit:
            return False
        if op.name in STRONG_LOCK_OPS:
            if op.name == "add_column":
                spec = column_spec(op.arg(1, "column"))
                # A nullable column without default is a catalogue-only change, but it still needs
                # ACCESS EXCLUSIVE briefly: the lock queue problem is the same.
                return spec is not None
            return True
        if op.name == "create_index":
            return not _truthy(op.kwargs.get("postgresql_concurrently"))
        if op.name == "drop_index":
            return not _truthy(op.kwargs.get("postgresql_concurrently"))
        if op.name == "execute":
            arg = self.exec_arg(op)
            return any(
                s.kind in ("alter_table", "add_constraint") or (s.kind == "create_index" and not s.concurrently)
                for s in arg.statements
            )
        return False

    # -- upgrade rules
    def up_add_column(self, op: OpCall) -> None:
        spec = column_spec(op.arg(1, "column"))
        if spec is None:
            return
        table, col = op.table, spec.name
        if spec.type_name in ("JSON",) and self.pg:
            self.emit(
                "json-column",
                "warning",
                op,
                f"New column {table}.{col} has type json.",
                "PostgreSQL's json has no equality operator: DISTINCT, GROUP BY, UNION and unique "
                "indexes on it fail, and every read re-parses the text.",
                f"sa.Column({_q(col)}, postgresql.JSONB(), ...)  # from sqlalchemy.dialects import postgresql",
                column=col,
            )
        if op.table_created_here:
            self.clear("add-column-required", table)
            return
        default_text = _default_text(spec.server_default)
        if spec.server_default is not None and VOLATILE.search(default_text):
            self.emit(
                "volatile-default",
                "error",
                op,
                f"Column {table}.{col} is added with the volatile default {default_text}.",
                "A volatile default is evaluated per row: PostgreSQL rewrites the whole table under ACCESS "
                "EXCLUSIVE, blocking reads and writes for the duration.",
                f"op.add_column({_q(table)}, sa.Column({_q(col)}, {_type_label(spec.type_node)}, "
                f"nullable=True))\n"
                f"op.alter_column({_q(table)}, {_q(col)}, server_default=sa.text({default_text!r}))\n"
                f"# then backfill existing rows in batches, outside the DDL transaction:\n"
                f"# UPDATE {table} SET {col} = {default_text} WHERE id IN "
                f"(SELECT id FROM {table} WHERE {col} IS NULL LIMIT 10000)",
                column=col,
            )
        elif spec.server_default is not None:
            self.clear("volatile-default", table)
        if spec.nullable is False and spec.server_default is None and not spec.primary_key:
            type_src = _type_label(spec.type_node)
            if op.batch_table is not None:  # SQLite: the NOT NULL change needs batch mode too
                batch = f"with op.batch_alter_table({_q(table)}) as batch_op:\n    batch_op."
                add = f"{batch}add_column(sa.Column({_q(col)}, {type_src}, nullable=True))"
                enforce = f"{batch}alter_column({_q(col)}, existing_type={type_src}, nullable=False)"
            else:
                add = f"op.add_column({_q(table)}, sa.Column({_q(col)}, {type_src}, nullable=True))"
                enforce = f"op.alter_column({_q(table)}, {_q(col)}, existing_type={type_src}, nullable=False)"
            self.emit(
                "add-column-required",
                "error",
                op,
                f"NOT NULL column {table}.{col} is added to existing table {table} without a server_default.",
                "The ALTER fails as soon as the table has a row, and code still running the old model "
                "inserts rows without the column and breaks.",
                "# the three-phase migration: add nullable, backfill, then set NOT NULL\n"
                f"{add}\n"
                f'op.execute(sa.text("UPDATE {table} SET {col} = :value WHERE {col} IS NULL")'
                ".bindparams(value=...))  # the value existing rows should get\n"
                f"{enforce}\n"
                f"# or, when one constant fits every row: sa.Column({_q(col)}, {type_src}, nullable=False, "
                "server_default=<constant>)",
                column=col,
                fact={"kind": "rows", "table": table},
            )
        else:
            self.clear("add-column-required", table)
        if spec.unique and self.existing(op):
            self._unique_hit(op, table, [col] if col else [], "unique=True on the new column")
        for target, _ in spec.foreign_keys:
            if not target:
                continue
            ref_table, _, ref_col = target.rpartition(".")
            self._fk_hit(op, table, [col] if col else [], ref_table, [ref_col], new_columns=True)

    def up_alter_column(self, op: OpCall) -> None:
        table = op.table
        col = _name_value(op.arg(1, "column_name"))
        kwargs = op.kwargs
        if op.table_created_here or (table, col) in self.added_columns:
            self.clear("set-not-null", table)
            self.clear("change-column-type", table)
            if "new_column_name" in kwargs:
                self.clear("rename-column", table)
            return
        if literal_value(kwargs.get("nullable")) is False:
            if getattr(op, "_validated", False):
                self.clear("set-not-null", table)
            else:
                check = f"ck_{table}_{col}_not_null"
                self.emit(
                    "set-not-null",
                    "error",
                    op,
                    f"alter_column sets {table}.{col} NOT NULL on an existing column.",
                    "SET NOT NULL takes ACCESS EXCLUSIVE and scans the whole table; it fails if any row holds NULL.",
                    f"# migration 1:\nop.create_check_constraint({_q(check)}, {_q(table)}, "
                    f'"{col} IS NOT NULL", postgresql_not_valid=True)\n'
                    f"# migration 2 (separate transaction):\n"
                    f'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {check}")\n'
                    f"op.alter_column({_q(table)}, {_q(col)}, nullable=False)  # PostgreSQL 12+ skips "
                    f"the scan\n"
                    f'op.drop_constraint({_q(check)}, {_q(table)}, type_="check")'
                    if self.pg
                    else f'op.execute("UPDATE {table} SET {col} = <value> WHERE {col} IS NULL")  # first\n'
                    f"op.alter_column({_q(table)}, {_q(col)}, nullable=False)",
                    column=col,
                    fact={"kind": "nulls", "table": table, "column": col},
                )
        if "type_" in kwargs:
            self._type_change(op, table, col, kwargs["type_"], kwargs.get("existing_type"))
        new_name = _name_value(kwargs.get("new_column_name"))
        if "new_column_name" in kwargs:
            self.emit(
                "rename-column",
                "warning",
                op,
                f"Column {table}.{col} is renamed to {new_name}.",
                "Code deployed before this migration still uses the old name and fails the moment it runs.",
                f"Keep the database name and rename only the ORM attribute: "
                f"{new_name} = mapped_column({_q(col)}, ...); or expand/contract: add {new_name}, "
                f"dual-write, "
                f"backfill, switch reads, drop {col} in a later release.",
                column=col,
                escalation=Escalation(
                    rule="breaking-api-change",
                    reason=f"Renaming {table}.{col} to {new_name} breaks running code until every instance "
                    "uses the new name; proceed only after test_roundtrip verifies it and the models "
                    "agree.",
                    evidence={"table": table, "column": col, "new_name": new_name},
                ),
                rename=("column", table, col, new_name),
            )

    def _type_change(self, op: OpCall, table: str | None, col: str | None, new: ast.expr, old: ast.expr | None) -> None:
        safe = known_safe_cast(old, new)
        if _callee(new) == "Enum" or (old is not None and _callee(old) == "Enum"):
            self.emit(
                "enum-change",
                "warning",
                op,
                f"{table}.{col} changes an Enum type; autogenerate and alter_column do not add or rename "
                "PostgreSQL enum values.",
                "The application and the database disagree on the allowed values: inserts of the new value "
                "fail with 'invalid input value for enum'.",
                "with op.get_context().autocommit_block():\n"
                "    op.execute(\"ALTER TYPE <enum_name> ADD VALUE IF NOT EXISTS '<new value>'\")",
                column=col,
            )
        if safe:
            self.clear("change-column-type", table)
            return
        self.emit(
            "change-column-type",
            "warning",
            op,
            f"The type of {table}.{col} changes to {_src(new)}"
            + (f" (from {_src(old)})." if old is not None else " (the old type is not stated: existing_type)."),
            "Unless the cast is binary-compatible (varchar widening, numeric precision up) PostgreSQL "
            "rewrites the table under ACCESS EXCLUSIVE, and clients reading the old type may break.",
            f"Expand/contract: op.add_column({_q(table)}, sa.Column('{col}_new', {_src(new)}, "
            f"nullable=True)); "
            f"dual-write in the application; backfill in batches; switch reads; drop {col} later.",
            column=col,
            fact={"kind": "column_type", "table": table, "column": col},
            escalation=Escalation(
                rule="breaking-api-change",
                reason=f"Changing the type of {table}.{col} rewrites the table and may break clients.",
                evidence={
                    "table": table,
                    "column": col,
                    "new_type": _src(new),
                    "old_type": _src(old) if old is not None else None,
                },
            ),
            old_type=_src(old) if old is not None else None,
            new_type=_src(new),
        )

    def up_create_index(self, op: OpCall) -> None:
        table = op.table
        name = _name_value(op.arg(0, "index_name"))
        columns = _list_of_str(op.arg(2, "columns"))
        concurrently = _truthy(op.kwargs.get("postgresql_concurrently"))
        if _is_none(op.arg(0, "index_name")):
            self._unnamed(
                op,
                f"create_index on {table} has no name (None).",
                f"op.create_index(op.f('ix_{table}_{'_'.join(columns)}'), {_q(table)}, {columns!r})",
            )
        if concurrently and not op.in_autocommit:
            self.emit(
                "concurrent-in-transaction",
                "error",
                op,
                f"CREATE INDEX CONCURRENTLY on {table} runs inside Alembic's transaction.",
                "PostgreSQL refuses CONCURRENTLY in a transaction block: the deploy fails at this statement.",
                "with op.get_context().autocommit_block():\n"
                f"    op.create_index({_q(name)}, {_q(table)}, {columns!r}, postgresql_concurrently=True, "
                "if_not_exists=True)",
            )
        if op.table_created_here:
            self.clear("create-index-non-concurrent", table)
            self.clear("add-unique-constraint", table)
            return
        if not concurrently:
            self.emit(
                "create-index-non-concurrent",
                "error",
                op,
                f"Index {name} is built on existing table {table} without CONCURRENTLY.",
                "CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the "
                "table waits until it finishes.",
                "with op.get_context().autocommit_block():\n"
                f"    op.create_index({_q(name)}, {_q(table)}, {columns!r}, "
                f"{'unique=True, ' if _truthy(op.kwargs.get('unique')) else ''}postgresql_concurrently=True, "
                "if_not_exists=True)",
            )
        else:
            self.clear("create-index-non-concurrent", table)
        if _truthy(op.kwargs.get("unique")) and columns:
            hit = self.emit(
                "add-unique-constraint",
                "info",
                op,
                f"Unique index {name} on existing table {table} fails if ({', '.join(columns)}) has duplicates.",
                "Existing duplicate values make the build fail (and a failed CONCURRENTLY build leaves an "
                "INVALID index behind).",
                f"SELECT {', '.join(columns)}, count(*) FROM {table} GROUP BY {', '.join(columns)} "
                "HAVING count(*) > 1;  -- clean these up first",
                fact={"kind": "duplicates", "table": table, "columns": columns},
            )
            if hit:
                hit.data["informational"] = True

    def up_drop_index(self, op: OpCall) -> None:
        if op.table_created_here:
            return
        if not _truthy(op.kwargs.get("postgresql_concurrently")):
            name = _name_value(op.arg(0, "index_name"))
            self.emit(
                "drop-index-non-concurrent",
                "warning",
                op,
                f"Index {name} is dropped without CONCURRENTLY.",
                "DROP INDEX takes ACCESS EXCLUSIVE on the table: reads and writes wait behind it.",
                "with op.get_context().autocommit_block():\n"
                f"    op.drop_index({_q(name)}, table_name={_q(op.table)}, postgresql_concurrently=True, "
                "if_exists=True)",
            )
        elif not op.in_autocommit:
            self.emit(
                "concurrent-in-transaction",
                "error",
                op,
                "DROP INDEX CONCURRENTLY runs inside Alembic's transaction.",
                "PostgreSQL refuses CONCURRENTLY in a transaction block: the deploy fails here.",
                "with op.get_context().autocommit_block():\n    op.drop_index(..., "
                "postgresql_concurrently=True, if_exists=True)",
            )

    def up_create_foreign_key(self, op: OpCall) -> None:
        table = op.table
        if _is_none(op.arg(0, "constraint_name")):
            self._unnamed(
                op,
                f"create_foreign_key on {table} has no name (None).",
                f"op.create_foreign_key(op.f('fk_{table}_...'), {_q(table)}, ...)  "
                "# and MetaData(naming_convention=...) in the models",
            )
        ref_table = _name_value(op.arg(2, "referent_table"))
        local = _list_of_str(op.arg(3, "local_cols"))
        remote = _list_of_str(op.arg(4, "remote_cols"))
        new_cols = all((table, c) in self.new_nullable_columns for c in local) and bool(local)
        self._fk_hit(
            op,
            table,
            local,
            ref_table,
            remote,
            new_columns=new_cols,
            not_valid=_truthy(op.kwargs.get("postgresql_not_valid")),
        )

    def _fk_hit(
        self,
        op: OpCall,
        table: str | None,
        local: list[str],
        ref_table: str | None,
        remote: list[str],
        new_columns: bool = False,
        not_valid: bool = False,
    ) -> None:
        self._fk_index(op, table, local, ref_table)
        if op.table_created_here or not_valid:
            self.clear("fk-not-valid-missing", table)
            return
        name = _name_value(op.arg(0, "constraint_name")) if op.name == "create_foreign_key" else None
        severity = "warning" if new_columns else "error"
        self.emit(
            "fk-not-valid-missing",
            severity,
            op,
            f"Foreign key {table}({', '.join(local)}) -> {ref_table}({', '.join(remote)}) is validated while "
            "it is added" + (" (the column is new and empty, so the scan finds nothing)." if new_columns else "."),
            f"Adding it scans {table} under a SHARE ROW EXCLUSIVE lock on both {table} and {ref_table} "
            "(writes blocked), and fails on orphan rows.",
            f"op.create_foreign_key({_q(name)}, {_q(table)}, {_q(ref_table)}, {local!r}, {remote!r}, "
            "postgresql_not_valid=True)\n"
            f'# in a later migration: op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {name}")',
            column=", ".join(local) or None,
            fact={
                "kind": "orphans",
                "table": table,
                "columns": local,
                "ref_table": ref_table,
                "ref_columns": remote,
            },
        )

    def _fk_index(self, op: OpCall, table: str | None, local: list[str], ref_table: str | None) -> None:
        if not local or self.backend == "mysql":
            return
        if self._indexed_here(table, local):
            self.clear("fk-missing-index", table)
            return
        self.emit(
            "fk-missing-index",
            "warning",
            op,
            f"Foreign key columns {table}({', '.join(local)}) have no index"
            + ("" if op.table_created_here else " created in this migration")
            + ".",
            f"Deleting or updating a {ref_table} row scans {table} to find referencing rows; joins on the "
            "key scan too.",
            f"op.create_index(op.f('ix_{table}_{'_'.join(local)}'), {_q(table)}, {local!r})",
            column=", ".join(local),
            fact=None if op.table_created_here else {"kind": "index_on", "table": table, "columns": local},
        )

    def _indexed_here(self, table: str | None, columns: list[str]) -> bool:
        for op in self.up:
            if op.name == "create_index" and op.table == table:
                cols = _list_of_str(op.arg(2, "columns"))
                if cols[: len(columns)] == columns:
                    return True
            if op.name == "create_table" and op.table == table:
                for arg in op.node.args[1:]:
                    spec = column_spec(arg)
                    if (
                        spec
                        and len(columns) == 1
                        and spec.name == columns[0]
                        and (spec.index or spec.unique or spec.primary_key)
                    ):
                        return True
                    if isinstance(arg, ast.Call) and _callee(arg) in (
                        "PrimaryKeyConstraint",
                        "UniqueConstraint",
                        "Index",
                    ):
                        cols = [c for c in (literal_value(a) for a in arg.args) if isinstance(c, str)]
                        if _callee(arg) == "Index":
                            cols = cols[1:]
                        if cols[: len(columns)] == columns:
                            return True
            if op.name == "add_column" and op.table == table and len(columns) == 1:
                spec = column_spec(op.arg(1, "column"))
                if spec and spec.name == columns[0] and (spec.index or spec.unique):
                    return True
        return False

    def up_create_unique_constraint(self, op: OpCall) -> None:
        table = op.table
        columns = _list_of_str(op.arg(2, "columns"))
        if _is_none(op.arg(0, "constraint_name")):
            self._unnamed(
                op,
                f"create_unique_constraint on {table} has no name (None).",
                f"op.create_unique_constraint(op.f('uq_{table}_{'_'.join(columns)}'), {_q(table)}, {columns!r})",
            )
        if op.table_created_here:
            self.clear("add-unique-constraint", table)
            return
        self._unique_hit(op, table, columns, "create_unique_constraint")

    def _unique_hit(self, op: OpCall, table: str | None, columns: list[str], what: str) -> None:
        name = f"uq_{table}_{'_'.join(columns)}"
        self.emit(
            "add-unique-constraint",
            "error" if self.pg else "warning",
            op,
            f"{what} adds a unique constraint on existing table {table} ({', '.join(columns)}).",
            "The unique index is built under ACCESS EXCLUSIVE (reads and writes blocked), and the statement "
            "fails if duplicates exist.",
            "with op.get_context().autocommit_block():\n"
            f"    op.create_index({_q(name)}, {_q(table)}, {columns!r}, unique=True, "
            "postgresql_concurrently=True, if_not_exists=True)\n"
            f'op.execute("ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")',
            column=", ".join(columns) or None,
            fact={"kind": "duplicates", "table": table, "columns": columns},
        )

    def up_create_check_constraint(self, op: OpCall) -> None:
        table = op.table
        if _is_none(op.arg(0, "constraint_name")):
            self._unnamed(
                op,
                f"create_check_constraint on {table} has no name (None).",
                f"op.create_check_constraint(op.f('ck_{table}_...'), {_q(table)}, ...)",
            )
        if op.table_created_here or _truthy(op.kwargs.get("postgresql_not_valid")):
            self.clear("fk-not-valid-missing", table)
            return
        name = _name_value(op.arg(0, "constraint_name"))
        condition = _src(op.arg(2, "condition"))
        self.emit(
            "fk-not-valid-missing",
            "error",
            op,
            f"CHECK constraint {name} on existing table {table} is validated while it is added.",
            "Adding it scans the whole table under ACCESS EXCLUSIVE and fails if any row violates it.",
            f"op.create_check_constraint({_q(name)}, {_q(table)}, {condition}, postgresql_not_valid=True)\n"
            f'# in a later migration: op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {name}")',
            fact={"kind": "rows", "table": table},
        )

    def up_create_primary_key(self, op: OpCall) -> None:
        if op.table_created_here:
            return
        table = op.table
        self.emit(
            "primary-key-change",
            "error",
            op,
            f"A primary key is created on existing table {table}.",
            "Building the key rewrites/locks the table and changes what every reference and ORM identity "
            "map relies on.",
            "A human decides; the safe path is expand/contract: build a unique index CONCURRENTLY, then "
            "ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY USING INDEX.",
            escalation=Escalation(
                rule="primary-key-change",
                reason=f"The primary key of {table} is created or replaced.",
                evidence={"table": table},
            ),
        )

    def up_drop_constraint(self, op: OpCall) -> None:
        table = op.table
        type_ = literal_value(op.kwargs.get("type_"))
        if _is_none(op.arg(0, "constraint_name")):
            self._unnamed(
                op,
                f"drop_constraint(None, {table!r}) cannot drop anything: the constraint has no name in the migration.",
                "Look the real name up (\\d table in psql, or Inspector.get_foreign_keys) and pass it; "
                "set MetaData(naming_convention=...) so future names are predictable.",
            )
        if type_ == "primary" and not op.table_created_here:
            self.emit(
                "primary-key-change",
                "error",
                op,
                f"The primary key of existing table {table} is dropped.",
                "Rows lose their identity: references, replication and ORM identity maps depend on it.",
                "A human decides; keep the key and add a new unique constraint, or expand/contract.",
                escalation=Escalation(
                    rule="primary-key-change",
                    reason=f"The primary key of {table} is dropped.",
                    evidence={"table": table},
                ),
            )

    def up_create_table(self, op: OpCall) -> None:
        table = op.table
        for arg in op.node.args[1:]:
            spec = column_spec(arg)
            if spec is not None:
                if spec.type_name == "JSON" and self.pg:
                    self.emit(
                        "json-column",
                        "warning",
                        op,
                        f"New column {table}.{spec.name} has type json.",
                        "PostgreSQL's json has no equality operator: DISTINCT, GROUP BY and unique indexes on it fail.",
                        f"sa.Column({_q(spec.name)}, postgresql.JSONB(), ...)",
                        column=spec.name,
                        line=arg.lineno,
                    )
                for target, fk in spec.foreign_keys:
                    if _kw(fk, "name") is None:
                        self._unnamed(
                            op,
                            f"Inline ForeignKey on {table}.{spec.name} has no name.",
                            f"sa.ForeignKey({_q(target)}, name=op.f('fk_{table}_{spec.name}_...'))  "
                            "# or MetaData(naming_convention=...)",
                            severity="warning",
                            line=fk.lineno,
                        )
                    if target:
                        ref_table = target.rpartition(".")[0]
                        self._fk_index(op, table, [spec.name] if spec.name else [], ref_table)
                if spec.unique:
                    self._unnamed(
                        op,
                        f"unique=True on {table}.{spec.name} creates an unnamed constraint.",
                        f"sa.UniqueConstraint({_q(spec.name)}, name=op.f('uq_{table}_{spec.name}'))",
                        severity="warning",
                        line=arg.lineno,
                    )
            elif isinstance(arg, ast.Call) and _callee(arg) in (
                "ForeignKeyConstraint",
                "UniqueConstraint",
                "CheckConstraint",
            ):
                name = _kw(arg, "name")
                kind = _callee(arg)
                if name is None or _is_none(name):
                    prefix = {
                        "ForeignKeyConstraint": "fk",
                        "UniqueConstraint": "uq",
                        "CheckConstraint": "ck",
                    }[kind]
                    self._unnamed(
                        op,
                        f"{kind} in create_table({table!r}) has no name.",
                        f"sa.{kind}(..., name=op.f('{prefix}_{table}_...'))  "
                        "# autogenerate writes these when MetaData has a naming_convention",
                        line=arg.lineno,
                    )
                if kind == "ForeignKeyConstraint":
                    local = _list_of_str(arg.args[0] if arg.args else None)
                    remote = _list_of_str(arg.args[1] if len(arg.args) > 1 else None)
                    ref_table = remote[0].rpartition(".")[0] if remote else None
                    self._fk_index(op, table, local, ref_table)

    def up_drop_column(self, op: OpCall) -> None:
        if op.table_created_here:
            return
        table = op.table
        col = _name_value(op.arg(1, "column_name"))
        self.emit(
            "drop-column",
            "warning",
            op,
            f"Column {table}.{col} is dropped.",
            "Its data is gone for good, and code still selecting the column (every ORM query of the model) "
            "fails once it is dropped.",
            f"Stop using {col} in the code and release that first; drop it in a later migration after a "
            f"backup. Guard: SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE {col} IS NOT NULL);",
            column=col,
            fact={"kind": "nonnull", "table": table, "column": col},
            escalation=Escalation(
                rule="drop-column-with-data",
                reason=f"{table}.{col} is dropped; the database was not checked, so it is assumed to hold data.",
                evidence={"table": table, "column": col, "non_null_values": None},
            ),
        )

    def up_drop_table(self, op: OpCall) -> None:
        if op.table_created_here:
            return
        table = op.table
        self.emit(
            "drop-table",
            "warning",
            op,
            f"Table {table} is dropped.",
            "Every row is lost and any code or view reading the table breaks.",
            f"Two-phase removal: stop reading/writing {table} in one release, back it up "
            f"(backup_db, tables=[{table!r}]), drop it in a later migration.",
            fact={"kind": "rows", "table": table},
            escalation=Escalation(
                rule="drop-table-with-data",
                reason=f"Table {table} is dropped; the database was not checked, so it is assumed to have rows.",
                evidence={"table": table, "rows": None},
            ),
        )

    def up_rename_table(self, op: OpCall) -> None:
        old = op.table
        new = _name_value(op.arg(1, "new_table_name"))
        self.emit(
            "rename-table",
            "warning",
            op,
            f"Table {old} is renamed to {new}.",
            "Code deployed before this migration still queries the old name and fails at once.",
            f"Keep the table name and set __tablename__ = {old!r} in the model; or create a view {old} over "
            f"{new} for the transition.",
            escalation=Escalation(
                rule="breaking-api-change",
                reason=f"Renaming {old} to {new} breaks running code until every instance uses the new name; "
                "proceed only after test_roundtrip verifies it and the models agree.",
                evidence={"table": old, "new_name": new},
            ),
            rename=("table", old, None, new),
        )

    def up_execute(self, op: OpCall) -> None:
        arg = self.exec_arg(op)
        if arg.kind == "interpolated":
            return  # reported by interpolated_sql()
        if arg.kind == "uninspectable":
            self.emit(
                "raw-sql-uninspectable",
                "error",
                op,
                f"op.execute runs {arg.detail}: the reviewer cannot see what it does.",
                "SQL that cannot be read cannot be checked for locks, data loss or injection.",
                'Pass the SQL as a literal: op.execute(sa.text("...").bindparams(...)), or ask a human to '
                "review the rendered SQL (review_migration include_sql=true).",
                escalation=Escalation(
                    rule="uninspectable-sql",
                    reason=f"op.execute at line {op.line} runs SQL the reviewer cannot inspect "
                    f"({arg.detail}); a "
                    "human must read it.",
                    evidence={"line": op.line, "detail": arg.detail},
                ),
            )
            return
        if arg.kind == "construct":
            if arg.construct in ("update", "delete") and not op.in_autocommit and not self._in_loop(op):
                self._backfill(
                    op,
                    arg.construct.upper(),
                    op.table or arg.construct_table,
                    _src(op.node.args[0]) if op.node.args else "",
                )
            return
        for statement in arg.statements:
            self._statement(op, statement)

    def _statement(self, op: OpCall, s) -> None:
        created = {o.table for o in self.up if o.name == "create_table" and o.line < op.line}
        table = s.table
        if s.kind in ("update", "delete"):
            if table in created:
                return
            if not s.batched and not op.in_autocommit and not self._in_loop(op):
                self._backfill(op, s.kind.upper(), table, s.text)
        elif s.kind == "create_index":
            if s.concurrently and not op.in_autocommit:
                self.emit(
                    "concurrent-in-transaction",
                    "error",
                    op,
                    f"CREATE INDEX CONCURRENTLY on {table} runs inside Alembic's transaction.",
                    "PostgreSQL refuses CONCURRENTLY in a transaction block: the deploy fails here.",
                    f"with op.get_context().autocommit_block():\n    op.execute({s.text!r})",
                    table=table,
                )
            elif not s.concurrently and table not in created:
                self.emit(
                    "create-index-non-concurrent",
                    "error",
                    op,
                    f"Raw CREATE INDEX on existing table {table} without CONCURRENTLY.",
                    "CREATE INDEX holds a SHARE lock for the whole build: writes wait until it finishes.",
                    "with op.get_context().autocommit_block():\n    op.execute("
                    + repr(re.sub(r"(?i)index\s+", "INDEX CONCURRENTLY IF NOT EXISTS ", s.text, count=1))
                    + ")",
                    table=table,
                )
        elif s.kind == "drop_index" and not s.concurrently:
            self.emit(
                "drop-index-non-concurrent",
                "warning",
                op,
                "Raw DROP INDEX without CONCURRENTLY.",
                "DROP INDEX takes ACCESS EXCLUSIVE on the table.",
                "with op.get_context().autocommit_block():\n    op.execute("
                + repr(re.sub(r"(?i)index\s+", "INDEX CONCURRENTLY IF EXISTS ", s.text, count=1))
                + ")",
            )
        elif s.kind == "drop_index" and s.concurrently and not op.in_autocommit:
            self.emit(
                "concurrent-in-transaction",
                "error",
                op,
                "DROP INDEX CONCURRENTLY runs inside Alembic's transaction.",
                "PostgreSQL refuses CONCURRENTLY in a transaction block.",
                f"with op.get_context().autocommit_block():\n    op.execute({s.text!r})",
            )
        elif s.kind == "add_constraint" and s.constraint in ("foreign_key", "check") and table not in created:
            if not s.not_valid:
                self.emit(
                    "fk-not-valid-missing",
                    "error",
                    op,
                    f"Raw ALTER TABLE {table} ADD CONSTRAINT ({s.constraint}) without NOT VALID.",
                    "The constraint is validated while added: a full scan under a write-blocking lock; "
                    "fails on violating rows.",
                    f"op.execute({(s.text.rstrip(';') + ' NOT VALID')!r})\n# later: ALTER TABLE {table} "
                    "VALIDATE CONSTRAINT <name>",
                    table=table,
                    fact={"kind": "rows", "table": table},
                )
        elif s.kind == "add_constraint" and s.constraint == "unique" and table not in created:
            if "using index" not in s.text.lower():
                self._unique_hit(op, table, [], "ALTER TABLE ... ADD CONSTRAINT ... UNIQUE")
        elif s.kind in ("alter_type_add_value", "alter_type_rename_value"):
            if s.kind == "alter_type_add_value" and op.in_autocommit:
                self.clear("enum-change", None)
                return
            self.emit(
                "enum-change",
                "warning",
                op,
                f"Enum type {s.table} is changed "
                f"({'ADD VALUE' if s.kind.endswith('add_value') else 'RENAME VALUE'})"
                + ("" if op.in_autocommit else " inside the migration's transaction")
                + ".",
                "A value added in a transaction cannot be used until it commits (and before PostgreSQL 12 "
                "ADD VALUE cannot run in one); a renamed value breaks application code still sending the old "
                "one.",
                "with op.get_context().autocommit_block():\n"
                f"    op.execute({s.text!r})"
                + ("" if s.kind.endswith("add_value") else "\n# deploy code accepting both values first"),
                table=s.table,
            )

    def _in_loop(self, op: OpCall) -> bool:
        func = self.m.functions.get(op.function)
        if func is None:
            return False
        for node in ast.walk(func):
            if isinstance(node, ast.For | ast.While) and node.lineno <= op.line <= (node.end_lineno or node.lineno):
                return True
        return False

    def _backfill(self, op: OpCall, verb: str, table: str | None, text: str) -> None:
        self.emit(
            "unbatched-backfill",
            "warning",
            op,
            f"{verb} over {table or 'a table'} runs in one statement inside the DDL transaction.",
            "Every touched row stays locked until the migration commits, the WAL grows with the table and "
            "replicas lag; on a big table this is an outage.",
            "# move the data change out of the DDL transaction and batch it:\n"
            "with op.get_context().autocommit_block():\n"
            "    bind = op.get_bind()\n"
            "    while bind.execute(sa.text(\n"
            f'        "{verb} ... WHERE id IN (SELECT id FROM {table or "<table>"} WHERE <not done yet> '
            'LIMIT 10000)"\n'
            "    )).rowcount:\n"
            "        pass",
            table=table,
            fact={"kind": "backfill_rows", "table": table},
            sql=text[:300],
        )

    def _unnamed(self, op: OpCall, message: str, fix: str, severity: str = "error", line: int | None = None) -> None:
        self.emit(
            "unnamed-constraint",
            severity,
            op,
            message,
            "A constraint without a name in the migration gets a database-generated one that differs "
            "between backends and databases: a later migration cannot drop or alter it reliably.",
            fix + "\n# metadata = MetaData(naming_convention={'ix': 'ix_%(column_0_label)s', 'uq': "
            "'uq_%(table_name)s_%(column_0_name)s', 'ck': 'ck_%(table_name)s_%(constraint_name)s', "
            "'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s', "
            "'pk': 'pk_%(table_name)s'})",
            line=line,
        )

    # -- whole-file rules
    def rows_readers(self) -> None:
        for fname in ("upgrade",):
            func = self.m.functions.get(fname)
            if func is None:
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Call):
                    continue
                name = _callee(node)
                reads = (
                    isinstance(node.func, ast.Attribute) and name in ROW_READERS and name not in ("all", "first", "one")
                ) or (
                    name in ("all", "first", "one")
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Call)
                    and _callee(node.func.value) in ("execute", "query", "scalars")
                )
                if name == "inspect" or name in ("Session", "sessionmaker") or reads:
                    what = (
                        "inspects the live database"
                        if name == "inspect"
                        else "opens an ORM session"
                        if name in ("Session", "sessionmaker")
                        else f"reads rows ({name}())"
                    )
                    self.emit(
                        "offline-unsafe",
                        "info",
                        None,
                        f"upgrade() {what} at line {node.lineno}.",
                        "`alembic upgrade --sql` renders SQL without a database: this revision cannot be "
                        "rendered offline for a DBA to run by hand.",
                        "Fine for online upgrades; for offline use, replace the read with literal SQL "
                        "or guard it "
                        "with `if not context.is_offline_mode():`.",
                        line=node.lineno,
                    )
                    return

    def interpolated_sql(self) -> None:
        for fname in ("upgrade", "downgrade"):
            func = self.m.functions.get(fname)
            if func is None:
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = _callee(node)
                if name not in ("execute", "text", "exec_driver_sql"):
                    continue
                if name == "execute" and _text_call(node.args[0]):
                    continue  # reported on the text() call
                how = is_interpolated(node.args[0])
                if not how:
                    continue
                self.hits.append(
                    Hit(
                        finding=Finding(
                            rule="raw-sql-interpolated",
                            severity="error",
                            message=f"SQL at line {node.lineno} is built with {how}: `{_src(node.args[0])[:100]}`.",
                            file=self.file,
                            line=node.lineno,
                            why="Values pasted into SQL text are an injection path and hard-code data "
                            "into the "
                            "migration; quoting breaks on the first apostrophe.",
                            fix='op.execute(sa.text("UPDATE t SET col = :value WHERE id = :id")'
                            ".bindparams(value=value, id=id))  # identifiers: sa.table()/sa.column() "
                            "constructs",
                        ),
                        span=(node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno),
                    )
                )

    def downgrade_checks(self) -> None:
        down_func = self.m.functions.get("downgrade")
        for op in self.down:
            if op.name == "drop_constraint" and _is_none(op.arg(0, "constraint_name")):
                self._unnamed(
                    op,
                    f"downgrade() calls drop_constraint(None, {op.table!r}): it fails at runtime, the "
                    "constraint has no name in the migration.",
                    "Look the real name up (\\d table in psql, or Inspector.get_foreign_keys) and pass it to "
                    "both create_* in upgrade() and drop_constraint in downgrade().",
                )
        up_changes = [op for op in self.up if op.name not in ("batch_alter_table",)]
        if not up_changes and not _has_statements(self.m.functions.get("upgrade")):
            return
        raises = [n for n in ast.walk(down_func) if isinstance(n, ast.Raise)] if down_func else []
        if raises:
            raise_node = raises[0]
            message = _raise_message(raise_node)
            documented = bool(message) and bool(DOC_IRREVERSIBLE.search(self.m.source))
            self.hits.append(
                Hit(
                    finding=Finding(
                        rule="irreversible-downgrade",
                        severity="warning" if documented else "error",
                        message="downgrade() raises"
                        + (f": {message}" if message else "")
                        + ("; the file documents why." if documented else "; the file does not say why."),
                        file=self.file,
                        line=raise_node.lineno,
                        why="There is no way back if this migration misbehaves in production.",
                        fix="Write the inverse operations in downgrade(); if it truly cannot be "
                        "reversed, keep the "
                        'raise with a message and say why in the docstring ("irreversible: ...") so a human '
                        "signs off.",
                    ),
                    span=(raise_node.lineno, raise_node.end_lineno or raise_node.lineno),
                    escalation=None
                    if documented
                    else Escalation(
                        rule="unclear-rollback",
                        reason="downgrade() raises and the file does not document why.",
                        evidence={"line": raise_node.lineno},
                    ),
                )
            )
            return
        if down_func is None or not _has_statements(down_func):
            line = down_func.lineno if down_func else 1
            self.hits.append(
                Hit(
                    finding=Finding(
                        rule="empty-downgrade",
                        severity="error",
                        message="downgrade() "
                        + ("is missing" if down_func is None else "does nothing")
                        + " while upgrade() changes the schema.",
                        file=self.file,
                        line=line,
                        why="There is no rollback path: `alembic downgrade` succeeds but leaves the "
                        "upgrade's "
                        "changes in place, and the next upgrade fails.",
                        fix="def downgrade() -> None:\n" + "\n".join("    " + inv for inv in self._inverses(up_changes))
                        if self._inverses(up_changes)
                        else "Write the inverse of each upgrade operation in downgrade().",
                    ),
                    span=(line, line),
                    escalation=Escalation(
                        rule="unclear-rollback",
                        reason="downgrade() is empty while upgrade() changes the schema.",
                        evidence={"line": line},
                    ),
                )
            )
            return
        missing = []
        for op in up_changes:
            inverse = self._inverse(op)
            if inverse is None:
                continue
            if not self._has_inverse(op):
                missing.append((op, inverse))
        for op, inverse in missing:
            self.hits.append(
                Hit(
                    finding=Finding(
                        rule="downgrade-not-inverse",
                        severity="error",
                        message=f"downgrade() does not undo upgrade's {op.name} at line {op.line}.",
                        file=self.file,
                        line=op.line,
                        table=op.table,
                        why="A downgrade that leaves this behind makes the next upgrade fail (the "
                        "object already "
                        "exists or is missing) and the schema drifts from the models.",
                        fix=f"# add to downgrade():\n{inverse}",
                    ),
                    span=(op.line, op.node.end_lineno or op.line),
                )
            )
        self._downgrade_loses_data(down_func)

    def _downgrade_loses_data(self, down_func: ast.FunctionDef) -> None:
        """Tables upgrade filled with rows, and columns it filled by copying other data into them."""
        filled_tables: set[str] = set()
        filled_columns: set[tuple[str, str]] = set()
        for op in self.up:
            if op.name == "bulk_insert" and op.table:
                filled_tables.add(op.table)
            if op.name != "execute":
                continue
            arg = self.exec_arg(op)
            for s in arg.statements:
                if s.kind == "insert" and s.table:
                    filled_tables.add(s.table)
                if s.kind == "update" and s.table:
                    filled_columns.update((s.table, c) for c in s.copied_columns)
            if arg.kind == "construct" and arg.construct == "insert" and (op.table or arg.construct_table):
                filled_tables.add(op.table or arg.construct_table)
        added = {op.table for op in self.up if op.name == "create_table"}
        down_src = ast.get_source_segment(self.m.source, down_func) or ""
        documented = bool(DOC_DATA_LOSS.search(down_src))
        for op in self.down:
            target = None
            if op.name == "drop_table" and op.table in added and op.table in filled_tables:
                target = f"table {op.table}"
            elif op.name == "drop_column":
                col = _name_value(op.arg(1, "column_name"))
                if (op.table, col) in self.added_columns and (op.table, col) in filled_columns:
                    target = f"column {op.table}.{col}"
            if target is None:
                continue
            self.hits.append(
                Hit(
                    finding=Finding(
                        rule="downgrade-loses-data",
                        severity="warning",
                        message=f"downgrade() drops {target}, which upgrade() filled with data"
                        + ("; the file documents the loss." if documented else "; the loss is not documented."),
                        file=self.file,
                        line=op.line,
                        table=op.table,
                        why="Rolling back destroys the data written by the upgrade and everything the "
                        "application "
                        "stored there since.",
                        fix=f"# in downgrade(), before the drop:\n# data loss: export {target} first "
                        "(backup_db tables=[...]) - rollback cannot restore it",
                    ),
                    span=(op.line, op.node.end_lineno or op.line),
                    escalation=None
                    if documented
                    else Escalation(
                        rule="unclear-rollback",
                        reason=f"downgrade() drops {target} which upgrade() filled, without documenting the loss.",
                        evidence={"line": op.line},
                    ),
                )
            )

    # -- inverses
    def _inverse(self, op: OpCall) -> str | None:
        t = _q(op.table)
        if op.name == "add_column":
            spec = column_spec(op.arg(1, "column"))
            return f"op.drop_column({t}, {_q(spec.name if spec else None)})"
        if op.name == "create_table":
            return f"op.drop_table({t})"
        if op.name == "create_index":
            return f"op.drop_index({_q(_name_value(op.arg(0, 'index_name')))}, table_name={t})"
        if op.name in CONSTRAINT_OPS:
            return (
                f"op.drop_constraint({_q(_name_value(op.arg(0, 'constraint_name')))}, {t}, "
                f"type_={CONSTRAINT_OPS[op.name]!r})"
            )
        if op.name == "drop_column":
            col = _name_value(op.arg(1, "column_name"))
            known = self.definitions.column(op.table, col) if self.definitions else None
            if known:
                return f"op.add_column({t}, {known})  # as an earlier migration defined it"
            return (
                f"op.add_column({t}, sa.Column({_q(col)}, "
                "<its original type>, nullable=True))  # take the type from the migration that added it"
            )
        if op.name == "drop_table":
            known = self.definitions.table(op.table) if self.definitions else None
            if known:
                return known + "  # as an earlier migration created it"
            return f"op.create_table({t}, ...)  # the columns as the migration that created {op.table} had them"
        if op.name == "drop_index":
            name = _name_value(op.arg(0, "index_name"))
            known = self.definitions.index(name) if self.definitions else None
            if known:
                return known
            return f"op.create_index({_q(name)}, {t}, [<its columns>])"
        if op.name == "rename_table":
            return f"op.rename_table({_q(_name_value(op.arg(1, 'new_table_name')))}, {t})"
        if op.name == "alter_column":
            col = _name_value(op.arg(1, "column_name"))
            new = _name_value(op.kwargs.get("new_column_name"))
            if new:
                return f"op.alter_column({t}, {_q(new)}, new_column_name={_q(col)})"
            parts = []
            if "nullable" in op.kwargs:
                parts.append(f"nullable={not literal_value(op.kwargs['nullable'])}")
            if "type_" in op.kwargs:
                parts.append(f"type_={_src(op.kwargs.get('existing_type')) or '<the old type>'}")
            if "server_default" in op.kwargs:
                parts.append(f"server_default={_src(op.kwargs.get('existing_server_default')) or 'None'}")
            return f"op.alter_column({t}, {_q(col)}, {', '.join(parts)})" if parts else None
        return None

    def _inverses(self, ops: list[OpCall]) -> list[str]:
        return [inv for inv in (self._inverse(op) for op in reversed(ops)) if inv]

    def _has_inverse(self, op: OpCall) -> bool:
        down = self.down
        table = op.table
        dropped_tables = {d.table for d in down if d.name == "drop_table"}
        created_tables = {d.table for d in down if d.name == "create_table"}
        if op.name == "add_column":
            spec = column_spec(op.arg(1, "column"))
            col = spec.name if spec else None
            return (
                table in dropped_tables
                or any(
                    d.name == "drop_column" and d.table == table and _name_value(d.arg(1, "column_name")) == col
                    for d in down
                )
                or _has_raw(self, down, "drop")
            )
        if op.name == "create_table":
            return table in dropped_tables or _has_raw(self, down, "drop table")
        if op.name == "create_index":
            name = _name_value(op.arg(0, "index_name"))
            return (
                table in dropped_tables
                or name is None
                or any(d.name == "drop_index" and _name_value(d.arg(0, "index_name")) == name for d in down)
                or _has_raw(self, down, "drop index")
            )
        if op.name in CONSTRAINT_OPS:
            name = _name_value(op.arg(0, "constraint_name"))
            return (
                table in dropped_tables
                or name is None
                or any(d.name == "drop_constraint" and _name_value(d.arg(0, "constraint_name")) == name for d in down)
                or _has_raw(self, down, "drop constraint")
            )
        if op.name == "drop_column":
            col = _name_value(op.arg(1, "column_name"))
            return (
                any(
                    d.name == "add_column"
                    and d.table == table
                    and (
                        column_spec(d.arg(1, "column"))
                        or ColumnSpec(None, None, None, None, False, None, False, False, [], d.node)
                    ).name
                    == col
                    for d in down
                )
                or table in created_tables
                or _has_raw(self, down, "add")
            )
        if op.name == "drop_table":
            return table in created_tables or _has_raw(self, down, "create table")
        if op.name == "drop_index":
            name = _name_value(op.arg(0, "index_name"))
            return (
                name is None
                or any(d.name == "create_index" and _name_value(d.arg(0, "index_name")) == name for d in down)
                or _has_raw(self, down, "create")
            )
        if op.name == "rename_table":
            new = _name_value(op.arg(1, "new_table_name"))
            return any(d.name == "rename_table" and d.table == new for d in down)
        if op.name == "alter_column":
            col = _name_value(op.arg(1, "column_name"))
            new = _name_value(op.kwargs.get("new_column_name"))
            return (
                table in dropped_tables
                or (table, col) in self.added_columns
                or any(
                    d.name == "alter_column" and d.table == table and _name_value(d.arg(1, "column_name")) in (col, new)
                    for d in down
                )
                or _has_raw(self, down, "alter")
            )
        return True


def _has_raw(linter: _Linter, down: list[OpCall], keyword: str) -> bool:
    """A raw op.execute in downgrade whose SQL mentions ``keyword`` (benefit of the doubt)."""
    for d in down:
        if d.name == "execute":
            arg = linter.exec_arg(d)
            if arg.kind != "literal" or (arg.sql and keyword in arg.sql.lower()):
                return True
    return False


def _text_call(node: ast.expr) -> bool:
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("bindparams", "columns")
    ):
        node = node.func.value
    return isinstance(node, ast.Call) and _callee(node) == "text"


def _has_statements(func: ast.FunctionDef | None) -> bool:
    if func is None:
        return False
    for stmt in func.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring / Ellipsis
        return True
    return False


def _raise_message(node: ast.Raise) -> str:
    exc = node.exc
    if isinstance(exc, ast.Call) and exc.args:
        value = literal_value(exc.args[0])
        if isinstance(value, str):
            return value.strip()
        return _src(exc.args[0])
    return ""


def known_safe_cast(old: ast.expr | None, new: ast.expr | None) -> bool:
    """varchar(n) -> varchar(m >= n) / text, numeric(p, s) -> numeric(q >= p, s): no rewrite."""
    if old is None or new is None:
        return False
    old_name, new_name = _callee(old), _callee(new)
    strings = {"String", "VARCHAR", "Unicode", "NVARCHAR"}
    texts = {"Text", "TEXT", "UnicodeText"}

    def length(node: ast.expr) -> int | None:
        if isinstance(node, ast.Call):
            value = literal_value(node.args[0]) if node.args else literal_value(_kw(node, "length"))
            return value if isinstance(value, int) else None
        return None

    if old_name in strings and new_name in texts:
        return True
    if old_name in strings and new_name in strings:
        old_len, new_len = length(old), length(new)
        return new_len is None or (old_len is not None and new_len >= old_len)
    if old_name in ("Numeric", "NUMERIC", "DECIMAL") and new_name in ("Numeric", "NUMERIC", "DECIMAL"):

        def precision(node):
            if not isinstance(node, ast.Call):
                return None, None
            p = literal_value(node.args[0]) if node.args else literal_value(_kw(node, "precision"))
            s = literal_value(node.args[1]) if len(node.args) > 1 else literal_value(_kw(node, "scale"))
            return p, s

        (op_, os_), (np_, ns_) = precision(old), precision(new)
        return isinstance(op_, int) and isinstance(np_, int) and np_ >= op_ and os_ == ns_
    return False


class Definitions:
    """How earlier migrations defined tables, columns and indexes: the code for restoring inverses."""

    def __init__(self, earlier):
        self._earlier = earlier  # list in upgrade order, or a callable returning it (computed lazily)

    @property
    def earlier(self) -> list[MigrationSource]:
        if callable(self._earlier):
            self._earlier = self._earlier()
        return self._earlier

    def _ops(self):
        for migration in reversed(self.earlier):
            yield from reversed(migration.ops_in("upgrade"))

    def column(self, table: str | None, column: str | None) -> str | None:
        for op in self._ops():
            if op.table != table:
                continue
            candidates = (
                [op.arg(1, "column")]
                if op.name == "add_column"
                else (op.node.args[1:] if op.name == "create_table" else [])
            )
            for node in candidates:
                spec = column_spec(node)
                if spec is not None and spec.name == column:
                    return ast.unparse(spec.node)
        return None

    def table(self, table: str | None) -> str | None:
        for op in self._ops():
            if op.name == "create_table" and op.table == table:
                return ast.unparse(op.node)
        return None

    def index(self, name: str | None) -> str | None:
        for op in self._ops():
            if op.name == "create_index" and _name_value(op.arg(0, "index_name")) == name:
                return ast.unparse(op.node)
        return None


def lint_migration(
    migration: MigrationSource,
    file: str | None = None,
    backend: str | None = None,
    definitions: Definitions | None = None,
    env_sets_lock_timeout: bool = False,
) -> Lint:
    """Layer 1: every catalogue rule over one parsed migration."""
    return _Linter(migration, file, backend, definitions, env_sets_lock_timeout).run()


@dataclass
class FileReview:
    """Layer 1 of one file after suppression comments: kept hits, honoured suppressions, extra findings."""

    lint: Lint
    hits: list[Hit]
    suppressions: list[Any]
    extra: list[Finding]
    silenced: list[Finding] = field(default_factory=list)


def review_source(
    migration: MigrationSource,
    file: str | None = None,
    backend: str | None = None,
    definitions: Definitions | None = None,
    env_sets_lock_timeout: bool = False,
) -> FileReview:
    """``lint_migration`` plus the file's ``# alembic-mcp: ignore[...]`` comments."""
    from alembic_mcp.tools.review.suppressions import apply_suppressions, parse_suppressions, report

    lint = lint_migration(migration, file, backend, definitions, env_sets_lock_timeout)
    sset = parse_suppressions(migration.source, set(RULE_IDS), file)
    spans = {h.finding.line: h.span for h in lint.hits if h.finding.line is not None}
    by_id = {id(h.finding): h for h in lint.hits}
    kept, silenced = apply_suppressions([h.finding for h in lint.hits], spans, sset)
    hits = [by_id[id(f)] for f in kept]
    honoured, unused = report(sset, file)
    return FileReview(lint=lint, hits=hits, suppressions=honoured, extra=sset.errors + unused, silenced=silenced)
