"""Entry point of the worker subprocess (started through ``bootstrap.py`` in the project's interpreter).

Reads one ``WorkerRequest`` as JSON on stdin, checks the interpreter can run ops (Alembic and
SQLAlchemy present, in the supported range), runs the registered op's ``run(request)`` and writes a
``WorkerReply`` to ``request.result_path``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from alembic_mcp.tools.worker import inputs
from alembic_mcp.tools.worker.protocol import (
    MIN_PYTHON,
    OPS,
    SUPPORTED_ALEMBIC,
    SUPPORTED_SQLALCHEMY,
    UNSUPPORTED_ENVIRONMENT,
    ErrorInfo,
    RuntimeInfo,
    WorkerReply,
    WorkerRequest,
    supported_range_text,
    version_tuple,
)

_STARTUP_DIR = os.getcwd()


class UnsupportedEnvironment(Exception):
    """The interpreter lacks Alembic or SQLAlchemy, or has versions outside the supported range."""


def _write(path: str, reply: WorkerReply) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(reply.to_json())
    os.replace(tmp, path)


def _prepare(request: WorkerRequest) -> None:
    """Stand where ``alembic`` would stand: in the project folder, its packages importable."""
    if request.cwd:
        os.chdir(request.cwd)
        # The directory we were started in may lead sys.path; only the project belongs there.
        if os.path.realpath(_STARTUP_DIR) != os.path.realpath(request.cwd):
            sys.path[:] = [p for p in sys.path if p not in ("", _STARTUP_DIR)]
    for entry in reversed(request.sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    for name in request.unset_env:
        os.environ.pop(name, None)
    os.environ.update(request.env)


def _warm_up() -> None:
    """Import Alembic while the parent is still preparing the request (a pre-started worker)."""
    try:
        import alembic.command
        import alembic.script  # noqa: F401
    except Exception:
        pass


def _installed_version(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    return str(getattr(module, "__version__", "0"))


def runtime_info() -> RuntimeInfo:
    return RuntimeInfo(
        python=sys.executable,
        python_version=".".join(str(part) for part in sys.version_info[:3]),
        alembic_version=_installed_version("alembic"),
        sqlalchemy_version=_installed_version("sqlalchemy"),
    )


def check_runtime(runtime: RuntimeInfo) -> None:
    """Raise ``UnsupportedEnvironment`` naming what was found and what is needed."""
    problems = []
    if sys.version_info[:2] < MIN_PYTHON:
        problems.append(f"Python {runtime.python_version}")
    for name, found, (low, high) in (
        ("SQLAlchemy", runtime.sqlalchemy_version, SUPPORTED_SQLALCHEMY),
        ("Alembic", runtime.alembic_version, SUPPORTED_ALEMBIC),
    ):
        if found is None:
            problems.append(f"no {name} installed")
        elif version_tuple(found) < low or (high is not None and version_tuple(found) >= high):
            problems.append(f"{name} {found}")
    if problems:
        raise UnsupportedEnvironment(
            f"The worker interpreter {runtime.python} cannot run Alembic operations: {', '.join(problems)}. "
            f"Supported: {supported_range_text()}. Install them in the project's environment "
            "(e.g. `pip install 'alembic>=1.9' 'sqlalchemy>=1.4'`), or point the worker_python setting "
            "(ALEMBIC_MCP_WORKER_PYTHON) at an interpreter that has them."
        )


def run_op(request: WorkerRequest) -> dict[str, Any]:
    """Run the registered op named by the request (``protocol.OPS``; the module has its name)."""
    if request.op not in OPS:
        raise ValueError(f"unknown worker op {request.op!r}; known: {', '.join(sorted(OPS))}")
    module = importlib.import_module(f"alembic_mcp.tools.worker.ops.{request.op}")
    return module.run(request)


def main() -> int:
    _warm_up()
    raw = sys.stdin.read()
    if not raw.strip():  # the parent went away before sending a request
        return 0
    data = json.loads(raw)
    try:
        request = WorkerRequest.from_dict(data)
    except (TypeError, ValueError) as exc:  # an unknown op or argument: a bug on the server side
        _write(data["result_path"], WorkerReply(ok=False, runtime=runtime_info(), error=ErrorInfo.from_exception(exc)))
        return 0
    if request.track_inputs:
        inputs.start()
    _prepare(request)
    runtime = runtime_info()
    try:
        check_runtime(runtime)
        reply = WorkerReply(ok=True, runtime=runtime, result=run_op(request))
        if request.track_inputs:
            reply.inputs = inputs.stop()
    except UnsupportedEnvironment as exc:
        error = ErrorInfo(type=UNSUPPORTED_ENVIRONMENT, message=str(exc))
        reply = WorkerReply(ok=False, runtime=runtime, error=error)
    except BaseException as exc:  # report everything, including SystemExit from user code
        reply = WorkerReply(ok=False, runtime=runtime, error=ErrorInfo.from_exception(exc))
    _write(request.result_path, reply)
    return 0


def run_and_exit() -> None:
    """Run ``main`` and leave without running atexit handlers of user code that may hang."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_and_exit()
