"""Reading the revision graph from the migration files' literal ids, without importing them.

The fast path for tools that need the graph but not the modules (review, rehearsal planning):
no worker, no Alembic import. ``None`` means a file needs importing (computed ids, syntax errors),
and the caller falls back to ``history.load_history`` in the worker.
"""

from __future__ import annotations

import ast
from pathlib import Path

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.containment import ensure_contained
from alembic_mcp.tools.history.graph import History, build_history
from alembic_mcp.tools.history.migration_ast import MigrationSource, as_revision_list, parse_file

SENTINEL = object()


def assigned_literal(tree: ast.Module, name: str):
    """Literal value assigned to ``name`` at module level; SENTINEL when it is not a literal."""
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                try:
                    return ast.literal_eval(node.value)
                except (ValueError, SyntaxError, TypeError):
                    return SENTINEL
    return None


def history_from_files(project: Project) -> tuple[History, dict[str, MigrationSource]] | None:
    """The revision graph read from the files' literal ids, without importing them (fast path).

    None when a file does not parse or declares its ids with expressions: then the worker imports them.
    Raises UnsafeProjectFiles for a link out of the project or a special file (blocking I/O: call it in a
    thread).
    """
    ensure_contained(project)
    raw: dict = {"revisions": [], "load_errors": []}
    parsed: dict[str, MigrationSource] = {}
    seen: set[Path] = set()
    pattern = "**/*.py" if project.recursive_version_locations else "*.py"
    for location in project.version_locations:
        for path in sorted(Path(location).glob(pattern)):
            real = path.resolve()
            if path.name.startswith(("__init__", ".#")) or real in seen:
                continue
            seen.add(real)
            try:
                migration = parse_file(real)
            except (SyntaxError, OSError, UnicodeDecodeError):
                return None
            values = {
                n: assigned_literal(migration.tree, n)
                for n in ("revision", "down_revision", "branch_labels", "depends_on")
            }
            if not isinstance(values["revision"], str) or any(v is SENTINEL for v in values.values()):
                return None
            parsed[values["revision"]] = migration
            raw["revisions"].append(
                {
                    "revision": values["revision"],
                    "down_revisions": as_revision_list(values["down_revision"]),
                    "branch_labels": as_revision_list(values["branch_labels"]),
                    "depends_on": as_revision_list(values["depends_on"]),
                    "doc": ast.get_docstring(migration.tree) or "",
                    "path": str(real),
                }
            )
    return build_history(project, raw), parsed
