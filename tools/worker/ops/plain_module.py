"""The shape every file the tools write must have before it is kept: a plain migration module.

Importing a plain module runs nothing but imports, assignments of literal-like values and ``def``
statements without decorators or computed defaults: no call, no comprehension, no lambda at module
level. Whatever a client's text turned into, a file of this shape cannot execute it on import.
Standard library only (loaded inside the worker).
"""

from __future__ import annotations

import ast

# Expression nodes allowed in assigned values, annotations and defaults: names, attributes, literals
# and their containers, subscripts (``Union[str, None]``), ``|`` unions and unary minus.
_VALUE_NODES = (
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.Load,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.Subscript,
    ast.Slice,
    ast.BinOp,
    ast.BitOr,
    ast.UnaryOp,
    ast.USub,
)


class NotPlainModule(ValueError):
    """The file is not a plain migration module; ``line`` is where the offending statement starts."""

    def __init__(self, problem: str, line: int | None = None):
        super().__init__(f"{problem} (line {line})" if line else problem)
        self.line = line


def _check_expression(node: ast.AST | None, where: str) -> None:
    if node is None:
        return
    for child in ast.walk(node):
        if not isinstance(child, _VALUE_NODES):
            raise NotPlainModule(f"{where} computes a value ({type(child).__name__})", getattr(node, "lineno", None))


def _check_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    if node.decorator_list:
        raise NotPlainModule(f"function {node.name}() has a decorator", node.lineno)
    arguments = node.args
    for default in [*arguments.defaults, *arguments.kw_defaults]:
        _check_expression(default, f"a default of {node.name}()")
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]:
        if arg is not None:
            _check_expression(arg.annotation, f"an annotation of {node.name}()")
    _check_expression(node.returns, f"the return annotation of {node.name}()")


def _is_docstring(index: int, node: ast.stmt) -> bool:
    if index != 0 or not isinstance(node, ast.Expr):
        return False
    return isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _check_statement(index: int, node: ast.stmt) -> None:
    if _is_docstring(index, node):
        return
    if isinstance(node, ast.Import | ast.ImportFrom):
        return
    if isinstance(node, ast.Assign):
        if not all(isinstance(target, ast.Name) for target in node.targets):
            raise NotPlainModule("an assignment to something other than a plain name", node.lineno)
        _check_expression(node.value, "an assignment")
        return
    if isinstance(node, ast.AnnAssign):
        if not isinstance(node.target, ast.Name):
            raise NotPlainModule("an assignment to something other than a plain name", node.lineno)
        _check_expression(node.annotation, "an annotation")
        _check_expression(node.value, "an assignment")
        return
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        _check_function(node)
        return
    raise NotPlainModule(f"a module-level {type(node).__name__} statement", node.lineno)


def check_plain_module(source: str, filename: str = "<migration>") -> None:
    """Raise NotPlainModule unless ``source`` parses and is a docstring, imports, assignments and defs."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise NotPlainModule(f"the file does not parse: {exc.msg}", exc.lineno) from None
    for index, node in enumerate(tree.body):
        _check_statement(index, node)
