"""A NOT NULL column added without a server default to a table with rows, when the model gives the
value: add it nullable (with the model's server default, if it declares one), backfill existing rows
with the model's default, then set NOT NULL. Without a literal model default the value is a human's
choice (a constant, a lookup from a parent table) and the finding stays advice."""

from __future__ import annotations

import ast
import copy

from alembic_mcp.tools.review.autofix.edits import Edit
from alembic_mcp.tools.review.autofix.model_defaults import ModelDefault
from alembic_mcp.tools.review.autofix.split import NewRevision, split_steps
from alembic_mcp.tools.review.rules.astutil import callee, kw
from alembic_mcp.tools.review.rules.registry import Hit


def _statement_at(tree: ast.Module, line: int) -> tuple[ast.stmt, ast.With | None]:
    """The statement starting at ``line`` and the ``with op.batch_alter_table(...)`` around it, if any."""
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for stmt in node.body:
                if stmt.lineno == line:
                    return stmt, node
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno == line and not isinstance(node, ast.FunctionDef):
            return node, None
    raise ValueError(f"no statement at line {line}")


def _with_keyword(call: ast.Call, name: str, value: ast.expr) -> None:
    call.keywords = [k for k in call.keywords if k.arg != name] + [ast.keyword(arg=name, value=value)]


def _nullable_column(column: ast.Call, model: ModelDefault) -> ast.Call:
    column = copy.deepcopy(column)
    _with_keyword(column, "nullable", ast.Constant(True))
    if model.server_default is not None and kw(column, "server_default") is None:
        _with_keyword(column, "server_default", ast.parse(model.server_default, mode="eval").body)
    return column


def backfill_steps(hit: Hit, source: str, model: ModelDefault | None, backend: str | None = None) -> list[str] | str:
    """The three steps' code (add nullable, backfill, set NOT NULL), or why they cannot be written."""
    if model is None or (not model.literal and model.server_default is None):
        return "the models give no constant default for the column: the backfill value is a human's choice"
    stmt, batch = _statement_at(ast.parse(source), hit.span[0])
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not isinstance(call, ast.Call) or callee(call) != "add_column":
        return "the column is not added by a plain add_column statement"
    if batch is not None and len(batch.body) > 1:
        return "the column is added inside a batch with other operations: split the batch first"
    column = call.args[-1] if call.args else kw(call, "column")
    if not isinstance(column, ast.Call):
        return "the column is not written as sa.Column(...)"
    table, name = model.table, model.column
    type_src = ast.unparse(column.args[1]) if len(column.args) > 1 else "sa.NullType()"
    add = copy.deepcopy(call)
    add.args = [*add.args[:-1], _nullable_column(column, model)]
    steps = [ast.unparse(add)]
    if model.literal:
        update = f"UPDATE {table} SET {name} = :value WHERE {name} IS NULL"
        steps.append(f"op.execute(sa.text({update!r}).bindparams(value={model.value!r}))")
    if batch is not None or backend == "sqlite":  # SQLite changes NOT NULL only in batch mode
        head = ast.unparse(batch.items[0].context_expr) if batch is not None else f"op.batch_alter_table({table!r})"
        steps[0] = f"with {head} as batch_op:\n    {steps[0]}" if batch is not None else steps[0]
        steps.append(
            f"with {head} as batch_op:\n    batch_op.alter_column({name!r}, existing_type={type_src}, nullable=False)"
        )
    else:
        steps.append(f"op.alter_column({table!r}, {name!r}, existing_type={type_src}, nullable=False)")
    return steps


def backfill_edit(
    hit: Hit, source: str, model: ModelDefault | None, backend: str | None = None, split: bool = False
) -> Edit | str | tuple[Edit, list[NewRevision]]:
    """The three steps in the statement's place (the whole batch block when it is in one); with ``split``
    only the nullable add, and the backfill and NOT NULL steps as new revisions."""
    steps = backfill_steps(hit, source, model, backend)
    if isinstance(steps, str):
        return steps
    stmt, batch = _statement_at(ast.parse(source), hit.span[0])
    node = batch if batch is not None else stmt
    span = (node.lineno, node.end_lineno or node.lineno)
    if split and model is not None:
        enforce = steps[-1]
        relax = "nullable=True".join(enforce.rsplit("nullable=False", 1))
        backfill = steps[1] if len(steps) == 3 else None
        edit = Edit(hit.finding.rule, hit.span[0], "replace", steps[0], span)
        return edit, split_steps(model.table, model.column, backfill, enforce, relax, backend)
    return Edit(
        hit.finding.rule, hit.span[0], "replace", "\n".join(steps), (node.lineno, node.end_lineno or node.lineno)
    )
