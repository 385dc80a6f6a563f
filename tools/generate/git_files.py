"""Which files belong in the commit with a new migration, according to ``git status``."""

from __future__ import annotations

from pathlib import Path

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.generate.model_scan import defines_tables


async def files_to_commit(project: Project, migration: Path) -> list[str]:
    """The migration, plus model modules and env.py changed according to ``git status`` (if a git repo)."""
    files = [project.relative(migration)]
    try:
        top = await anyio.run_process(["git", "-C", str(project.root), "rev-parse", "--show-toplevel"], check=False)
        if top.returncode != 0:
            return files
        status = await anyio.run_process(
            ["git", "-C", str(project.root), "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            check=False,
        )
    except OSError:
        return files
    if status.returncode != 0:
        return files
    root = Path(top.stdout.decode().strip())
    env_py = (project.script_location / "env.py").resolve()
    versions = [v.resolve() for v in project.version_locations]
    entries = status.stdout.decode(errors="replace").split("\0")
    skip_next = False
    for entry in entries:
        if skip_next:
            skip_next = False
            continue
        if len(entry) < 4:
            continue
        code, name = entry[:2], entry[3:]
        if code[0] in "RC":
            skip_next = True  # the original name of a rename follows
        if code.strip() == "D":
            continue
        path = (root / name).resolve()
        if not path.is_relative_to(project.root) or path.suffix != ".py" or path == migration.resolve():
            continue
        if any(path.is_relative_to(v) for v in versions):
            continue
        if path == env_py or await anyio.to_thread.run_sync(defines_tables, path):
            rel = project.relative(path)
            if rel not in files:
                files.append(rel)
    return files
