"""The worker runner: runs one operation that imports user code in a fresh interpreter.

The request is JSON on stdin; the result is JSON written to a file named in the request (user code
may print to stdout). stderr is kept for diagnostics. On timeout the whole process group is killed.
Operations live in ``tools/ops/<name>.py`` as ``run(request) -> dict``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from .config import Project
from .errors import WorkerFailed
from .urls import redact

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
) -> dict[str, Any]:
    """Run ``op`` in a fresh interpreter in the project directory and return its JSON result."""
    timeout = timeout_s or project.settings.worker_timeout_s
    python = project.settings.worker_python or sys.executable
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-worker-") as tmp:
        out_path = Path(tmp) / "result.json"
        request = {
            "op": op,
            "project": project.worker_spec(),
            "database_url": database_url,
            "args": args or {},
            "result_path": str(out_path),
        }
        child_env = _child_env(project, database_url, env)
        process = await anyio.open_process(
            [python, "-m", "alembic_mcp.tools.worker_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=str(project.root),
            env=child_env,
            start_new_session=True,
        )
        stderr_chunks: list[bytes] = []
        timed_out = False
        try:
            async with process:
                assert process.stdin is not None and process.stderr is not None
                await process.stdin.send(json.dumps(request).encode())
                await process.stdin.aclose()
                with anyio.move_on_after(timeout) as scope:
                    async for chunk in process.stderr:
                        stderr_chunks.append(chunk)
                    await process.wait()
                if scope.cancelled_caught:
                    timed_out = True
                    _kill_group(process.pid)
                    with anyio.CancelScope(shield=True):
                        await process.wait()
        except BaseException:
            _kill_group(process.pid)
            raise
        stderr = redact(b"".join(stderr_chunks).decode(errors="replace"), database_url, project.database_url)
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
        payload = json.loads(out_path.read_text())
    if not payload.get("ok"):
        info = payload.get("error", {})
        message = redact(str(info.get("message", "unknown error")), database_url, project.database_url)
        info["message"] = message
        raise WorkerError(message, info, stderr=stderr[-STDERR_TAIL:])
    return payload["result"]


def _child_env(project: Project, database_url: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    # The project's own packages first, like `alembic` run from the project folder.
    env["PYTHONPATH"] = os.pathsep.join([str(project.root), *filter(None, [env.get("PYTHONPATH")])])
    if database_url:
        for name in project.settings.url_env_vars:
            env[name] = database_url
    env.update(extra or {})
    return env


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
