"""Reading the revision graph from the migration files' literal ids, without importing them.

The fast path for tools that need the graph but not the modules (review, rehearsal planning):
no worker, no Alembic import. ``None`` means a file needs importing (computed ids, syntax errors),
and the caller falls back to ``history.load_history`` in the worker.
"""

from __future__ import annotations

from pathlib import Path

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.containment import ensure_contained
from alembic_mcp.tools.history.graph import History, build_history
from alembic_mcp.tools.history.migration_ast import MigrationSource, parse_file
from alembic_mcp.tools.worker.revision_ids import assigned_literal, revision_record

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
            record = revision_record(migration.tree, real)
            if record is None:
                return None
            parsed[record["revision"]] = migration
            raw["revisions"].append(record)
    return build_history(project, raw), parsed
