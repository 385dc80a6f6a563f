"""Which project files are safe to read or import as migrations and models.

A file qualifies when it resolves inside the project (a symlink out of it does not), is a regular file
(never a FIFO, device or socket: reading one can block forever) and is not oversized. Only ``stat`` is
used here, never ``open``, so checking can itself never block on a special file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from alembic_mcp.tools.core.errors import ProjectError

if TYPE_CHECKING:
    from alembic_mcp.tools.core.config import Project
    from alembic_mcp.tools.core.verdict import Finding

MAX_SOURCE_BYTES = 5_000_000  # far above any hand-written migration or model module

WHY = {
    "outside-project": "Files outside the project are never imported: running them would run code nobody "
    "reviewed with this project (and write __pycache__ outside it).",
    "special-file": "Reading a FIFO, device or socket can block forever; it cannot be a migration or a model.",
    "oversized-file": f"Files over {MAX_SOURCE_BYTES // 1_000_000} MB are not read as source.",
}
FIX = {
    "outside-project": "Replace the link with a copy of the file inside the project, or remove it.",
    "special-file": "Remove it or give it another name (not *.py).",
    "oversized-file": "Split the file, or move generated data out of the migrations and models.",
}


@dataclass(frozen=True)
class UnsafeFile:
    path: Path  # as found in the project (not resolved)
    kind: str  # outside-project | special-file | oversized-file
    detail: str

    def shown(self, project: Project) -> str:
        """The path as found (a link's own name, not its target), relative to the project when inside."""
        try:
            return str(Path(os.path.abspath(self.path)).relative_to(project.root))
        except ValueError:
            return str(self.path)

    def finding(self, project: Project, severity: str = "error") -> Finding:
        from alembic_mcp.tools.core.verdict import Finding  # pydantic: only when there is something to report

        return Finding(
            rule=self.kind,
            severity=severity,
            message=f"{self.shown(project)} {self.detail}; it was skipped.",
            file=self.shown(project),
            why=WHY[self.kind],
            fix=FIX[self.kind],
        )


class UnsafeProjectFiles(ProjectError):
    """Migration files that must not be imported: the tool stops before any worker runs."""

    def __init__(self, project: Project, files: list[UnsafeFile]):
        self.files = files
        self.findings = [f.finding(project) for f in files]
        listed = "; ".join(f"{f.file}: {f.message.removesuffix('; it was skipped.')}" for f in self.findings[:5])
        more = f" (and {len(files) - 5} more)" if len(files) > 5 else ""
        super().__init__(f"Refusing to import the migrations: {listed}{more}. {FIX[files[0].kind]} Then call again.")


def check_source_file(path: Path, root: Path) -> UnsafeFile | None:
    """Why ``path`` must not be read as source under ``root`` (resolved), or None when it may be."""
    try:
        real = path.resolve()
        info = os.stat(path)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return UnsafeFile(path, "special-file", f"cannot be read ({type(exc).__name__})")
    if not real.is_relative_to(root):
        return UnsafeFile(path, "outside-project", f"is a link to {real}, outside the project")
    if not stat.S_ISREG(info.st_mode):
        return UnsafeFile(path, "special-file", "is not a regular file (a FIFO, device or socket)")
    if info.st_size > MAX_SOURCE_BYTES:
        return UnsafeFile(path, "oversized-file", f"is {info.st_size} bytes")
    return None


class ProjectLayout(Protocol):
    """Where a project's migrations are: a loaded ``Project``, or what a cold check_heads read of it."""

    @property
    def root(self) -> Path: ...
    @property
    def script_location(self) -> Path: ...
    @property
    def version_locations(self) -> list[Path]: ...
    @property
    def recursive_version_locations(self) -> bool: ...


def unsafe_migration_files(project: ProjectLayout, stats: dict[str, os.stat_result] | None = None) -> list[UnsafeFile]:
    """Every env.py, version folder, subfolder or ``*.py`` Alembic would load that is not safe to import.
    ``stats``, when given, is filled with the stat of every plain ``*.py`` file checked, by its path (a
    caller about to read them can take their signatures from it instead of asking again)."""
    root = project.root.resolve()
    found: list[UnsafeFile] = []
    env_py = project.script_location / "env.py"
    if env_py.exists() or env_py.is_symlink():
        found += filter(None, [check_source_file(env_py, root)])
    for location in map(Path, project.version_locations):
        if not location.resolve().is_relative_to(root):
            found.append(UnsafeFile(location, "outside-project", f"resolves to {location.resolve()}"))
            continue
        found += _unsafe_in_folder(location, root, project.recursive_version_locations, stats)
    return found


def _unsafe_in_folder(
    folder: Path, root: Path, recursive: bool, stats: dict[str, os.stat_result] | None = None
) -> list[UnsafeFile]:
    found: list[UnsafeFile] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():  # follows links: Alembic walks a linked folder like a real one
            if not recursive:
                continue
            path = Path(entry.path)
            if not path.resolve().is_relative_to(root):
                found.append(UnsafeFile(path, "outside-project", f"is a link to {path.resolve()}, outside the project"))
            elif not entry.is_symlink():
                found += _unsafe_in_folder(path, root, recursive, stats)
        elif entry.name.endswith(".py"):
            found += filter(None, [_check_entry(entry, root, stats)])
    return found


def _check_entry(entry: os.DirEntry, root: Path, stats: dict[str, os.stat_result] | None) -> UnsafeFile | None:
    """``check_source_file`` for a folder entry; a plain file in a folder already inside the project
    needs no resolving (the common case, and the costly part for a thousand files: no Path is built
    for it either)."""
    if entry.is_symlink():
        return check_source_file(Path(entry.path), root)
    try:
        info = entry.stat()
    except OSError as exc:
        return UnsafeFile(Path(entry.path), "special-file", f"cannot be read ({type(exc).__name__})")
    if not stat.S_ISREG(info.st_mode):
        return UnsafeFile(Path(entry.path), "special-file", "is not a regular file (a FIFO, device or socket)")
    if info.st_size > MAX_SOURCE_BYTES:
        return UnsafeFile(Path(entry.path), "oversized-file", f"is {info.st_size} bytes")
    if stats is not None:
        stats[entry.path] = info
    return None


def ensure_contained(project: Project, stats: dict[str, os.stat_result] | None = None) -> None:
    """Raise UnsafeProjectFiles before anything imports a file that is outside the project or special
    (``stats``: see ``unsafe_migration_files``)."""
    unsafe = unsafe_migration_files(project, stats)
    if unsafe:
        raise UnsafeProjectFiles(project, unsafe)
