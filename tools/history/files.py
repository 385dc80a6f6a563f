"""Reading the revision graph from the migration files' literal ids, without importing them.

The fast path for tools that need the graph but not the modules (review, rehearsal planning):
no worker, no Alembic import. Each file is parsed once per serving process while its content stays
the same (``cache.py``). ``None`` means a file needs importing (computed ids, syntax errors),
and the caller falls back to ``history.load_history`` in the worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.containment import ensure_contained
from alembic_mcp.tools.history.cache import parsed_with_record
from alembic_mcp.tools.history.graph import History, build_history
from alembic_mcp.tools.history.migration_ast import MigrationSource
from alembic_mcp.tools.worker.revision_ids import assigned_literal

__all__ = ["assigned_literal", "history_from_files"]


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
    for location in project.version_locations:
        for real in _migration_files(Path(location), project.recursive_version_locations):
            if real in seen:
                continue
            seen.add(real)
            try:
                migration, record = parsed_with_record(real)
            except (SyntaxError, OSError, UnicodeDecodeError, ValueError):
                return None
            if record is None:
                return None
            parsed[record["revision"]] = migration
            raw["revisions"].append(dict(record))
    return build_history(project, raw), parsed


def _migration_files(location: Path, recursive: bool) -> list[Path]:
    """The resolved ``*.py`` files of a version location, sorted (``__init__`` and editor locks left out).

    A flat folder is listed once and only links are resolved one by one: resolving a thousand plain
    files costs more than parsing is saved by the cache.
    """
    if recursive:
        found = [p.resolve() for p in sorted(location.glob("**/*.py"))]
    else:
        try:
            entries = sorted(os.scandir(location), key=lambda e: e.name)
        except OSError:
            return []
        folder = location.resolve()
        found = [
            Path(e.path).resolve() if e.is_symlink() else folder / e.name for e in entries if e.name.endswith(".py")
        ]
    return [p for p in found if not p.name.startswith(("__init__", ".#"))]
