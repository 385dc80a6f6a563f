"""A migration file's revision ids read from its source text (module-level literals), never imported.

Standard library only: the worker uses it for files that fail to import (their place in the graph
still counts), the server for its fast graph reader (``tools/history/files.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

SENTINEL = object()  # a name assigned something other than a literal
ID_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")


def as_revision_list(value: Any) -> list[str]:
    """``down_revision`` / ``branch_labels`` / ``depends_on`` as a list: None, a string or a sequence."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def assigned_literal(tree: ast.Module, name: str) -> Any:
    """Literal value assigned to ``name`` at module level; SENTINEL when it is not a literal."""
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                try:
                    return ast.literal_eval(node.value)
                except (ValueError, SyntaxError, TypeError):
                    return SENTINEL
    return None


def revision_record(tree: ast.Module, path: Path | str) -> dict[str, Any] | None:
    """The graph record of a parsed migration (as the worker's ``history`` op reports revisions).

    None when the revision id or one of its links is not a literal.
    """
    values = {name: assigned_literal(tree, name) for name in ID_NAMES}
    if not isinstance(values["revision"], str) or any(v is SENTINEL for v in values.values()):
        return None
    return {
        "revision": values["revision"],
        "down_revisions": as_revision_list(values["down_revision"]),
        "branch_labels": as_revision_list(values["branch_labels"]),
        "depends_on": as_revision_list(values["depends_on"]),
        "doc": ast.get_docstring(tree) or "",
        "path": str(path),
    }


def read_revision_record(path: Path | str) -> dict[str, Any] | None:
    """``revision_record`` of the file at ``path``; None when it cannot be read or parsed."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    return revision_record(tree, path)
