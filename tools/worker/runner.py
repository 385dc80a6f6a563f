"""The worker runner: runs one operation that imports user code in a fresh interpreter.

The interpreter is the project's own (``interpreter.py``); the worker code is loaded into it by path
(``bootstrap.py``). The ``WorkerRequest`` goes as JSON on stdin; the ``WorkerReply`` comes back in a
file named in the request (user code may print to stdout). stderr is kept for diagnostics. On
timeout the whole process group is killed. Operations are registered in ``protocol.OPS``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.containment import ensure_contained
from alembic_mcp.tools.core.errors import ProjectError, WorkerFailed
from alembic_mcp.tools.core.isolation import child_environment, is_target
from alembic_mcp.tools.core.urls import redact
from alembic_mcp.tools.worker.early import EarlyWorker, adopt
from alembic_mcp.tools.worker.interpreter import WorkerPython, WorkerPythonNotFound, find_worker_python
from alembic_mcp.tools.worker.pool import worker_slot
from alembic_mcp.tools.worker.prestart import kill_group, spawn, starting_environment, take_prestarted
from alembic_mcp.tools.worker.protocol import (
    UNSUPPORTED_ENVIRONMENT,
    OpArgs,
    ProjectSpec,
    RuntimeInfo,
    WorkerReply,
    WorkerRequest,
)

STDERR_TAIL = 4000


class WorkerError(WorkerFailed):
    """The operation itself raised inside the worker; ``info`` holds its type, message, file and line."""

    def __init__(self, message: str, info: dict[str, Any], stderr: str = "", runtime: RuntimeInfo | None = None):
        super().__init__(message, stderr=stderr)
        self.info = info
        self.runtime = runtime


class UnsupportedWorkerEnvironment(WorkerFailed):
    """The worker's interpreter lacks Alembic/SQLAlchemy or has versions outside the supported range."""


def worker_python(project: Project) -> WorkerPython:
    """The interpreter this project's worker runs in; a bad ``worker_python`` setting is a ProjectError."""
    try:
        return find_worker_python(project.root, project.settings.worker_python)
    except WorkerPythonNotFound as exc:
        raise ProjectError(str(exc)) from None


async def run_worker(
    project: Project,
    op: str,
    args: OpArgs | dict[str, Any] | None = None,
    *,
    database_url: str | None = None,
    timeout_s: float | None = None,
    env: dict[str, str] | None = None,
    target_read_only: bool = False,
) -> dict[str, Any]:
    """Run ``op`` in a fresh interpreter in the project directory and return its JSON result."""
    reply = await run_worker_reply(
        project,
        op,
        args,
        database_url=database_url,
        timeout_s=timeout_s,
        env=env,
        target_read_only=target_read_only,
    )
    return reply.result or {}


async def run_worker_reply(
    project: Project,
    op: str,
    args: OpArgs | dict[str, Any] | None = None,
    *,
    database_url: str | None = None,
    timeout_s: float | None = None,
    env: dict[str, str] | None = None,
    target_read_only: bool = False,
    track_inputs: bool = False,
) -> WorkerReply:
    """Like ``run_worker``, but the whole reply: the result and the interpreter it ran in.

    At most ``max_workers`` run at once; a call beyond that waits for a slot. ``database_url`` is what
    user code may connect to: a scratch database or a dialect-only URL. The target's own URL is refused
    unless ``target_read_only`` says the caller made it read-only. ``track_inputs``: the reply lists the
    files the op read (``inputs.py``), for ``reply_cache``.
    """
    await check_request(project, op, database_url, target_read_only)
    async with worker_slot(project.settings.max_workers):
        return await _run_now(project, op, args, database_url, timeout_s, env, track_inputs)


async def check_request(project: Project, op: str, database_url: str | None, target_read_only: bool = False) -> None:
    """Refuse the target's URL for user code, and files no worker may import (raises UnsafeProjectFiles)."""
    if is_target(database_url, project.database_url_parts) and not target_read_only:
        raise WorkerFailed(f"Refusing to hand the target database's URL to user code in the worker for {op!r}.")
    # Nothing outside the project, and no FIFO or device, is ever imported as a migration.
    await anyio.to_thread.run_sync(ensure_contained, project)


async def _run_now(
    project: Project,
    op: str,
    args: OpArgs | dict[str, Any] | None,
    database_url: str | None,
    timeout_s: float | None,
    env: dict[str, str] | None,
    track_inputs: bool = False,
) -> WorkerReply:
    timeout = timeout_s or project.settings.worker_timeout_s
    python = worker_python(project).path
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-worker-") as tmp:
        request = build_request(project, op, args, database_url, env, track_inputs, str(Path(tmp) / "result.json"))
        early = adopt(request)  # a cold CLI call may have sent this very request already
        try:
            process, out_path, payload = _worker_for(request, python, early)
            stderr, timed_out = await _exchange(process, payload, timeout)
            stderr = redact(stderr, database_url, project.database_url_parts)
            reply = _read_reply(op, python, process, out_path, stderr, timeout, timed_out)
        finally:
            if early is not None:
                early.close()
    if not reply.ok:
        _raise_error(project, reply, database_url, stderr)
    return reply


def build_request(
    project: Project,
    op: str,
    args: OpArgs | dict[str, Any] | None,
    database_url: str | None,
    env: dict[str, str] | None,
    track_inputs: bool,
    result_path: str,
    environ: dict[str, str] | None = None,
) -> WorkerRequest:
    """The request a worker gets for ``op``: the project, the URL it may use, what its environment sets
    and loses (of ``environ``, this process's by default)."""
    set_env, unset_env = _child_env(project, database_url, env, environ)
    return WorkerRequest(
        op=op,
        project=project_spec(project),
        result_path=result_path,
        args=args or {},
        database_url=database_url,
        cwd=str(project.root),
        sys_path=[str(project.root)],
        env=set_env,
        unset_env=unset_env,
        track_inputs=track_inputs,
    )


def _worker_for(
    request: WorkerRequest, python: str, early: EarlyWorker | None
) -> tuple[subprocess.Popen, Path, bytes | None]:
    """The process to run ``request``, where its reply will be, and the payload still to send (None: the
    early worker already has it)."""
    if early is not None:
        return early.process, Path(early.request.result_path), None
    process = take_prestarted(python, request.unset_env) or spawn(python, request.cwd, request.unset_env)
    return process, Path(request.result_path), request.to_json().encode()


def _read_reply(
    op: str, python: str, process: subprocess.Popen, out_path: Path, stderr: str, timeout: float, timed_out: bool
) -> WorkerReply:
    """The reply the worker wrote, or WorkerFailed when it timed out or wrote none."""
    if timed_out:
        raise WorkerFailed(
            f"The worker for {op!r} did not finish within {timeout:g} s and was killed. "
            "Raise worker_timeout_s (or the tool's timeout) if the project is slow to import.",
            stderr=stderr[-STDERR_TAIL:],
            timed_out=True,
        )
    if not out_path.exists():
        raise WorkerFailed(
            f"The worker for {op!r} ({python}) exited with code {process.returncode} without a result. "
            f"Its stderr ends with: {stderr[-1500:] or '(empty)'}",
            stderr=stderr[-STDERR_TAIL:],
        )
    return WorkerReply.from_json(out_path.read_text())


async def _exchange(process: subprocess.Popen, payload: bytes | None, timeout: float) -> tuple[str, bool]:
    """Send the request (None: it already has it), wait for the worker to exit; (its stderr, whether it
    timed out and was killed)."""
    try:
        _, stderr_bytes = await anyio.to_thread.run_sync(
            lambda: process.communicate(payload, timeout=timeout), abandon_on_cancel=True
        )
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        _, stderr_bytes = process.communicate()
        return (stderr_bytes or b"").decode(errors="replace"), True
    except BaseException:
        kill_group(process.pid)
        process.wait()  # reaped before the slot is given back: the bound counts live interpreters
        raise
    return (stderr_bytes or b"").decode(errors="replace"), False


def _raise_error(project: Project, reply: WorkerReply, database_url: str | None, stderr: str) -> None:
    error = reply.error
    info = asdict(error) if error is not None else {"type": "Exception", "message": "unknown error"}
    message = redact(str(info.get("message") or "unknown error"), database_url, project.database_url_parts)
    info["message"] = message
    if info["type"] == UNSUPPORTED_ENVIRONMENT:
        raise UnsupportedWorkerEnvironment(message, stderr=stderr[-STDERR_TAIL:])
    raise WorkerError(message, info, stderr=stderr[-STDERR_TAIL:], runtime=reply.runtime)


def project_spec(project: Project) -> ProjectSpec:
    """What a worker needs to rebuild the project's Alembic config."""
    return ProjectSpec(
        project_dir=str(project.root),
        alembic_ini=str(project.alembic_ini) if project.alembic_ini else None,
        toml_file=str(project.toml_file) if project.toml_file else None,
        ini_section=project.settings.alembic_section,
        url_env_vars=list(project.settings.url_env_vars),
    )


def worker_environment_key(project: Project, database_url: str | None) -> tuple:
    """Everything of the environment a worker for ``database_url`` starts with (for reply_cache's keys)."""
    set_env, unset_env = _child_env(project, database_url, None)
    started = starting_environment(dict(os.environ))
    return tuple(sorted(started.items())), tuple(sorted(set_env.items())), tuple(sorted(unset_env))


def _child_env(
    project: Project, database_url: str | None, extra: dict[str, str] | None, environ: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Variables the worker sets (the URL variables env.py reads, pointed at ``database_url``) and the
    ones of ``environ`` it removes (anything that leads to the target)."""
    url_env_vars = list(project.settings.url_env_vars)
    return child_environment(project.database_url_parts, database_url, url_env_vars, extra, environ)
