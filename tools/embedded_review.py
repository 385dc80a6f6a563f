"""The review generate_migration runs on the file it wrote, against the target database's data:
dropped columns and tables with data escalate, NOT NULL columns without default on tables with rows
get the three-phase rewrite, protected and audit tables escalate. One entry point, ``embedded_review``,
so it can be swapped for review_migration's full review.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .config import Project
from .dbinfo import row_counts, with_pg, with_sync
from .errors import AlembicMcpError
from .migration_ast import OpCall, parse_file
from .policy import matches_any
from .urls import backend_of, mask_url
from .verdict import Escalation, Finding


def sqlite_file_exists(project: Project) -> bool:
    database = project.database_url.database if project.database_url is not None else None
    return bool(database) and database != ":memory:" and Path(database).exists()


async def embedded_review(
    project: Project, migration_path: Path | str
) -> tuple[list[Finding], list[Escalation]]:
    """Review one migration file against the target database: drops with data, required columns on
    tables with rows, protected and audit tables. Swappable for review_migration's full review."""
    migration_path = Path(migration_path)
    try:
        parsed = parse_file(migration_path)
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return [
            Finding(
                rule="unparseable-migration",
                severity="error",
                message=f"Cannot parse the file: {exc}",
                file=project.relative(migration_path),
                fix="Fix the syntax error.",
            )
        ], []
    rel = project.relative(migration_path)
    ups = parsed.ops_in("upgrade")
    tables = sorted({op.table for op in ups if op.table})
    counts, count_error = await _target_counts(project, tables)
    findings: list[Finding] = []
    escalations: list[Escalation] = []
    settings = project.settings
    for table in sorted(
        {op.table for op in ups if op.table and op.name != "create_table" and not op.table_created_here}
    ):
        if matches_any(table, settings.protected_tables):
            escalations.append(
                Escalation(
                    rule="protected-table",
                    reason=f"{table} matches protected_tables {settings.protected_tables}.",
                    evidence={"table": table, "file": rel},
                )
            )
        if matches_any(table, settings.audit_tables):
            escalations.append(
                Escalation(
                    rule="audit-trail",
                    reason=f"{table} matches audit_tables {settings.audit_tables}.",
                    evidence={"table": table, "file": rel},
                )
            )
    for op in ups:
        if op.table_created_here or not op.table:
            continue
        rows = counts.get(op.table, {}).get("rows") if counts is not None else None
        known_empty = counts is not None and (op.table not in counts or rows == 0)
        if op.name == "add_column":
            finding = _required_column(op, rows, known_empty, count_error, rel)
            if finding:
                findings.append(finding)
        elif op.name == "drop_column":
            column = op.literal(1, "column_name")
            non_null = (
                0
                if known_empty
                else (await _non_null(project, op.table, column) if counts is not None and column else None)
            )
            if non_null == 0:
                findings.append(
                    Finding(
                        rule="drop-column",
                        severity="warning",
                        file=rel,
                        line=op.line,
                        table=op.table,
                        column=column,
                        message=f"Drops {op.table}.{column}, which holds no values in the target.",
                        fix="Stop using the column in code before the release that drops it.",
                    )
                )
                continue
            escalations.append(
                Escalation(
                    rule="drop-column-with-data",
                    reason=f"{op.table}.{column} is dropped and "
                    + (
                        f"holds {non_null} non-null value(s)"
                        if non_null
                        else f"the table has {rows} row(s)"
                        if rows
                        else f"its data cannot be checked ({count_error})"
                    )
                    + " in the target database.",
                    evidence={
                        "table": op.table,
                        "column": column,
                        "rows": rows,
                        "non_null": non_null,
                        "file": rel,
                        "line": op.line,
                    },
                )
            )
            findings.append(
                Finding(
                    rule="drop-column",
                    severity="warning",
                    file=rel,
                    line=op.line,
                    table=op.table,
                    column=column,
                    message=f"Drops {op.table}.{column} and its data.",
                    why="Data loss; application code still selecting the column breaks.",
                    fix=f"Back up first (backup_db); stop using the column in code, drop it in a later "
                    f"release; "
                    f"guard: SELECT NOT EXISTS (SELECT 1 FROM {op.table} WHERE {column} IS NOT NULL).",
                )
            )
        elif op.name == "drop_table":
            if known_empty:
                continue
            escalations.append(
                Escalation(
                    rule="drop-table-with-data",
                    reason=f"{op.table} is dropped and "
                    + (f"has {rows} row(s)" if rows else f"its row count cannot be read ({count_error})")
                    + " in the target database.",
                    evidence={"table": op.table, "rows": rows, "file": rel, "line": op.line},
                )
            )
    return findings, escalations


def _required_column(
    op: OpCall, rows: int | None, known_empty: bool, count_error: str | None, rel: str
) -> Finding | None:
    column = op.arg(1, "column")
    if not (isinstance(column, ast.Call) and column.args):
        return None
    kwargs = {kw.arg: kw.value for kw in column.keywords if kw.arg}
    nullable = kwargs.get("nullable")
    primary = kwargs.get("primary_key")
    required = (isinstance(nullable, ast.Constant) and nullable.value is False) or (
        nullable is None and isinstance(primary, ast.Constant) and primary.value is True
    )
    default = kwargs.get("server_default")
    if not required or (
        default is not None and not (isinstance(default, ast.Constant) and default.value is None)
    ):
        return None
    name = ast.literal_eval(column.args[0]) if isinstance(column.args[0], ast.Constant) else "?"
    type_src = ast.unparse(column.args[1]) if len(column.args) > 1 else "sa.String()"
    table = op.table
    in_batch = op.batch_table is not None
    prefix = f"with op.batch_alter_table({table!r}) as batch_op:\n    batch_op." if in_batch else "op."
    phase1 = (
        f"{prefix}add_column("
        + ("" if in_batch else f"{table!r}, ")
        + f"sa.Column({name!r}, {type_src}, nullable=True))"
    )
    phase3 = (
        f"{prefix}alter_column("
        + ("" if in_batch else f"{table!r}, ")
        + f"{name!r}, existing_type={type_src}, nullable=False)"
    )
    fix = (
        "Three phases (the skill's pattern), e.g. three revisions committed together:\n"
        f"# 1. this revision: add it nullable\n{phase1}\n"
        f'# 2. next revision: backfill existing rows\nop.execute(sa.text("UPDATE {table} SET {name} = :value '
        f'WHERE {name} IS NULL").bindparams(value=...))\n'
        f"# 3. last revision: enforce NOT NULL\n{phase3}\n"
        "Or, when one constant fits every existing row, add server_default=sa.text('...') to the column."
    )
    if known_empty:
        return Finding(
            rule="add-column-required",
            severity="warning",
            file=rel,
            line=op.line,
            table=table,
            column=name,
            message=f"Adds NOT NULL {table}.{name} without server_default; the target "
            "table is empty so it runs, but fails wherever the table has rows.",
            why="Other databases (staging, production) likely have rows.",
            fix=fix,
        )
    return Finding(
        rule="add-column-required",
        severity="error",
        file=rel,
        line=op.line,
        table=table,
        column=name,
        message=f"Adds NOT NULL {table}.{name} without server_default to a table with "
        + (f"{rows} row(s)" if rows else f"an unknown number of rows ({count_error})")
        + ".",
        why="The ALTER fails on existing rows (NOT NULL violation); old code inserting without the "
        "column breaks.",
        fix=fix,
    )


async def _target_counts(project: Project, tables: list[str]) -> tuple[dict[str, dict] | None, str | None]:
    """Row counts in the target database, or (None, why) when they cannot be read."""
    if project.database_url is None:
        return None, "no target database configured"
    if backend_of(project.database_url) == "sqlite" and not sqlite_file_exists(project):
        return {}, None  # no file: no rows anywhere (and reading it would create it)
    try:
        return await row_counts(project.database_url, tables, project.settings.exact_count_limit), None
    except AlembicMcpError as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"{type(exc).__name__} reading {mask_url(project.database_url)}"


async def _non_null(project: Project, table: str, column: str) -> int | None:
    """How many rows hold a value in ``table.column`` in the target; None when it cannot be read."""
    url = project.database_url
    try:
        if backend_of(url) == "postgresql":

            def quote(name: str) -> str:
                return '"' + name.replace('"', '""') + '"'

            async def query(conn) -> int:
                return int(
                    await conn.fetchval(
                        f"SELECT count(*) FROM {quote(table)} WHERE {quote(column)} IS NOT NULL"
                    )
                )

            return await with_pg(url, query)
        from sqlalchemy import text

        def query_sync(conn) -> int:
            q = conn.dialect.identifier_preparer.quote
            return int(
                conn.execute(
                    text(f"SELECT count(*) FROM {q(table)} WHERE {q(column)} IS NOT NULL")
                ).scalar_one()
            )

        return await with_sync(url, query_sync)
    except Exception:
        return None
