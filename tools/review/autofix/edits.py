"""One edit of a migration's source: where the code goes (a statement's place, the top of upgrade(),
downgrade() as a whole) and the code; ``apply_edit`` returns the new source, ``unified_diff`` shows it."""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
from dataclasses import dataclass
from typing import Literal

Where = Literal["replace", "insert-before", "prepend-upgrade", "add-to-downgrade", "replace-downgrade"]


@dataclass(frozen=True)
class Edit:
    """``code`` (unindented, may span lines) put ``where`` in the file; ``span`` the statement replaced."""

    rule: str
    line: int
    where: Where
    code: str
    span: tuple[int, int] = (0, 0)
    removed: tuple[tuple[int, int], ...] = ()  # other statements' spans the edit takes out (a moved step's inverse)


def strip_comments(code: str) -> str:
    """The code without its comments (a fix's advice to the reader); lines left empty are dropped."""
    cuts: dict[int, int] = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            cuts[token.start[0]] = token.start[1]
    lines = code.splitlines()
    kept = [line[: cuts[n]].rstrip() if n in cuts else line.rstrip() for n, line in enumerate(lines, start=1)]
    return "\n".join(line for line in kept if line.strip())


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise ValueError(f"the migration has no {name}() function")


def _first_statement(func: ast.FunctionDef) -> ast.stmt:
    """The first statement of a body after its docstring (the docstring when it is all there is)."""
    body = func.body
    has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    return body[1] if has_doc and len(body) > 1 else body[0]


def _indented(code: str, indent: str) -> list[str]:
    return [indent + line if line.strip() else "" for line in code.splitlines()]


def _remove(source: str, spans: tuple[tuple[int, int], ...]) -> str:
    """The source without the statements at ``spans`` (bottom up); a body left empty gets ``pass``."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for start, end in sorted(spans, reverse=True):
        body = next(
            (
                n.body
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.With) and any(s.lineno == start for s in n.body)
            ),
            None,
        )
        alone = body is not None and len([s for s in body if not _is_docstring(s)]) == 1
        indent = lines[start - 1][: len(lines[start - 1]) - len(lines[start - 1].lstrip())]
        lines[start - 1 : end] = [indent + "pass"] if alone else []
    return "\n".join(lines) + "\n"


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def apply_edit(source: str, edit: Edit) -> str:
    """The source with ``edit`` made; raises ValueError when the place it names is not there."""
    if edit.removed:  # below the edit's own place (downgrade() follows upgrade()), so its lines stay put
        if any(start <= edit.span[1] for start, _ in edit.removed):
            raise ValueError("a statement to remove is not after the edited one")
        source = _remove(source, edit.removed)
    tree = ast.parse(source)
    lines = source.splitlines()
    if edit.where == "replace":
        start, end = edit.span
        indent = lines[start - 1][: len(lines[start - 1]) - len(lines[start - 1].lstrip())]
        lines[start - 1 : end] = _indented(edit.code, indent)
    elif edit.where == "insert-before":
        start = edit.span[0]
        indent = lines[start - 1][: len(lines[start - 1]) - len(lines[start - 1].lstrip())]
        lines[start - 1 : start - 1] = _indented(edit.code, indent)
    elif edit.where == "replace-downgrade":
        func = _function(tree, "downgrade")
        start = func.decorator_list[0].lineno if func.decorator_list else func.lineno
        lines[start - 1 : func.end_lineno or func.lineno] = edit.code.splitlines()
    else:
        func = _function(tree, "upgrade" if edit.where == "prepend-upgrade" else "downgrade")
        first = _first_statement(func) if edit.where == "prepend-upgrade" else func.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and first is func.body[0]:
            at = first.end_lineno or first.lineno  # after the docstring
        else:
            at = first.lineno - 1
        lines[at:at] = _indented(edit.code, " " * first.col_offset)
    return "\n".join(lines) + "\n"


def unified_diff(before: str, after: str, file: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{file}", f"b/{file}"
        )
    )
