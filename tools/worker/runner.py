"""The worker runner: runs one operation that imports user code in a fresh interpreter.

The request is JSON on stdin; the result is JSON written to a file named in the request (user code
may print to stdout). stderr is kept for diagnostics. On timeout the whole process group is killed.
Operations live in ``tools/ops/<name>.py`` as ``run(request) -> dict``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.containment import ensure_contained
from alembic_mcp.tools.core.errors import WorkerFailed
from alembic_mcp.tools.core.isolation import is_target, worker_environment
from alembic_mcp.tools.core.urls import redact
from alembic_mcp.tools.worker.pool import worker_slot
from alembic_mcp.tools.worker.prestart import kill_group, spawn, take_prestarted

STDERR_TAIL = 4000


class WorkerError(WorkerFailed):
    """The operation itself raised inside the worker; ``info`` holds its type, message, file and line."""

    def __init__(self, message: str, info: dict[str, Any], stderr: str = ""):
        super().__init__(message, stderr=stderr)
        self.info = info


async def run_worker(
    project: Project,
    op: str,
    args: dict[str, Any] | None = None,
    *,
    database_url: str | None = None,
    timeout_s: float | None = None,
    env: dict[str, str] | None = None,
    target_read_only: bool = False,
) -> dict[str, Any]:
    """Run ``op`` in a fresh interpreter in the project directory and return its JSON result.

    At most ``max_workers`` run at once; a call beyond that waits for a slot. ``database_url`` is what
    user code may connect to: a scratch database or a dialect-only URL. The target's own URL is refused
    unless ``target_read_only`` says the caller made it read-only.
    """
    if is_target(database_url, project.database_url) and not target_read_only:
        raise WorkerFailed(f"Refusing to hand the target database's URL to user code in the worker for {op!r}.")
    # Nothing outside the project, and no FIFO or device, is ever imported as a migration.
    await anyio.to_thread.run_sync(ensure_contained, project)
    async with worker_slot(project.settings.max_workers):
        return await _run_worker_now(project, op, args, database_url, timeout_s, env)


async def _run_worker_now(
    project: Project,
    op: str,
    args: dict[str, Any] | None,
    database_url: str | None,
    timeout_s: float | None,
    env: dict[str, str] | None,
) -> dict[str, Any]:
    timeout = timeout_s or project.settings.worker_timeout_s
    set_env, unset_env = _child_env(project, database_url, env)
    python = project.settings.worker_python or sys.executable
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-worker-") as tmp:
        out_path = Path(tmp) / "result.json"
        request = {
            "op": op,
            "project": project.worker_spec(),
            "database_url": database_url,
            "args": args or {},
            "result_path": str(out_path),
            "cwd": str(project.root),
            "sys_path": [str(project.root)],
            "env": set_env,
            "unset_env": unset_env,
        }
        process = take_prestarted(python) or spawn(python, str(project.root))
        payload = json.dumps(request).encode()
        timed_out = False
        try:
            _, stderr_bytes = await anyio.to_thread.run_sync(
                lambda: process.communicate(payload, timeout=timeout), abandon_on_cancel=True
            )
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(process.pid)
            _, stderr_bytes = process.communicate()
        except BaseException:
            kill_group(process.pid)
            process.wait()  # reaped before the slot is given back: the bound counts live interpreters
            raise
        stderr = redact((stderr_bytes or b"").decode(errors="replace"), database_url, project.database_url)
        if timed_out:
            raise WorkerFailed(
                f"The worker for {op!r} did not finish within {timeout:g} s and was killed. "
                "Raise worker_timeout_s (or the tool's timeout) if the project is slow to import.",
                stderr=stderr[-STDERR_TAIL:],
                timed_out=True,
            )
        if not out_path.exists():
            raise WorkerFailed(
                f"The worker for {op!r} exited with code {process.returncode} without a result. "
                f"Its stderr ends with: {stderr[-1500:] or '(empty)'}",
                stderr=stderr[-STDERR_TAIL:],
            )
        result = json.loads(out_path.read_text())
    if not result.get("ok"):
        info = result.get("error", {})
        message = redact(str(info.get("message", "unknown error")), database_url, project.database_url)
        info["message"] = message
        raise WorkerError(message, info, stderr=stderr[-STDERR_TAIL:])
    return result["result"]


def _child_env(
    project: Project, database_url: str | None, extra: dict[str, str] | None
) -> tuple[dict[str, str], list[str]]:
    """Variables the worker sets (the URL variables env.py reads, pointed at ``database_url``) and the
    ones it removes (anything that leads to the target)."""
    to_set, to_remove = worker_environment(project.database_url, database_url, list(project.settings.url_env_vars))
    to_set.update(extra or {})
    return to_set, [name for name in to_remove if name not in to_set]
