"""Reading the revision graph from the migration files' literal ids, without importing them.

The fast path for tools that need the graph but not the modules (review, rehearsal planning):
no worker, no Alembic import. Each file is parsed once per serving process while its content stays
the same (``cache.py``), and the graph built from them is kept too: the next call over the same parses
(the same files, each unchanged) hands out a copy of it instead of building it again, so a warm call
costs a stat per file, not a graph per call. ``None`` means a file needs importing (computed ids,
syntax errors), and the caller falls back to ``history.load_history`` in the worker.
"""

from __future__ import annotations

import os
from collections import Counter, OrderedDict
from dataclasses import replace
from pathlib import Path
from threading import Lock

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.containment import ensure_contained
from alembic_mcp.tools.history.cache import parsed_with_record
from alembic_mcp.tools.history.graph import History, build_history
from alembic_mcp.tools.history.migration_ast import MigrationSource
from alembic_mcp.tools.worker.revision_ids import assigned_literal

__all__ = ["assigned_literal", "history_from_files"]

MAX_PROJECTS = 8  # graphs kept, one per project; the least recently used goes first
stats: Counter[str] = Counter()  # "graph_built", "graph_reused"
_graphs: OrderedDict[tuple, tuple[list[tuple[str, MigrationSource, dict]], History]] = OrderedDict()
_lock = Lock()  # called from worker threads


def clear() -> None:
    """Forget every kept graph."""
    with _lock:
        _graphs.clear()


def history_from_files(project: Project) -> tuple[History, dict[str, MigrationSource]] | None:
    """The revision graph read from the files' literal ids, without importing them (fast path).

    None when a file does not parse or declares its ids with expressions: then the worker imports them.
    Raises UnsafeProjectFiles for a link out of the project or a special file (blocking I/O: call it in a
    thread). The history and the dict are the caller's own (the nodes and parses are shared: read only).
    """
    stats: dict[str, os.stat_result] = {}  # by path: taken while checking, before any read
    ensure_contained(project, stats)
    files: list[tuple[str, MigrationSource, dict]] = []  # path, its parse, its graph record
    seen: set[str] = set()
    for location in project.version_locations:
        for real in _migration_files(Path(location), project.recursive_version_locations):
            if real in seen:
                continue
            seen.add(real)
            try:
                migration, record = parsed_with_record(real, stats.get(real))
            except (SyntaxError, OSError, UnicodeDecodeError, ValueError):
                return None
            if record is None:
                return None
            files.append((real, migration, record))
    history = _built_from(project, files)
    return _own_copy(history), {record["revision"]: migration for _, migration, record in files}


def _built_from(project: Project, files: list[tuple[str, MigrationSource, dict]]) -> History:
    """The graph of ``files``: the one built last time for this project when every file is the same
    parse as then (an edited file is parsed again, into a new object), else built now and kept."""
    key = (str(project.root), tuple(project.version_locations))
    with _lock:
        known = _graphs.get(key)
    if known is not None and _same_parses(known[0], files):
        stats["graph_reused"] += 1
        return known[1]
    raw = {"revisions": [dict(record) for _, _, record in files], "load_errors": []}
    history = build_history(project, raw)
    stats["graph_built"] += 1
    with _lock:  # holding the parses keeps them alive, so an identity match is never a recycled object
        _graphs[key] = (files, history)
        _graphs.move_to_end(key)
        while len(_graphs) > MAX_PROJECTS:
            _graphs.popitem(last=False)
    return history


def _same_parses(kept: list[tuple[str, MigrationSource, dict]], files: list[tuple[str, MigrationSource, dict]]) -> bool:
    """The same paths in the same order, each with the very parse object kept (the file is unchanged)."""
    if len(kept) != len(files):
        return False
    return all(a[0] == b[0] and a[1] is b[1] for a, b in zip(kept, files, strict=True))


def _own_copy(history: History) -> History:
    """A copy the caller may change (its lists, its findings); nodes are shared and never changed."""
    return replace(
        history,
        findings=[finding.model_copy(deep=True) for finding in history.findings],
        heads=list(history.heads),
        bases=list(history.bases),
        cycle=list(history.cycle),
        unplaced_files=list(history.unplaced_files),
    )


def _migration_files(location: Path, recursive: bool) -> list[str]:
    """The resolved ``*.py`` files of a version location, sorted (``__init__`` and editor locks left out).

    A flat folder is listed once and only links are resolved one by one: resolving a thousand plain
    files costs more than parsing is saved by the cache.
    """
    if recursive:
        found = [str(p.resolve()) for p in sorted(location.glob("**/*.py"))]
    else:
        try:
            entries = sorted(os.scandir(location), key=lambda e: e.name)
        except OSError:
            return []
        folder = str(location.resolve())
        found = [
            str(Path(e.path).resolve()) if e.is_symlink() else os.path.join(folder, e.name)
            for e in entries
            if e.name.endswith(".py")
        ]
    return [p for p in found if not os.path.basename(p).startswith(("__init__", ".#"))]
