"""Entry point of the worker subprocess: ``python -m alembic_mcp.tools.worker.main``.

Reads one JSON request on stdin, runs ``alembic_mcp.tools.worker.ops.<op>.run(request)`` and writes
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {...}}`` to ``request["result_path"]``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

_OP_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_STARTUP_DIR = os.getcwd()


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """Type, message, and the innermost file/line inside the user's project, if any."""
    info: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
    if isinstance(exc, SyntaxError) and exc.filename:
        info["file"], info["line"] = exc.filename, exc.lineno
    else:
        project_dir = os.getcwd()
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.startswith(project_dir):
                info["file"], info["line"] = frame.filename, frame.lineno
                break
    info["traceback"] = "".join(traceback.format_exception(exc))[-6000:]
    return info


def _write(path: str, payload: dict[str, Any]) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(payload, default=str))
    os.replace(tmp, path)


def _prepare(request: dict[str, Any]) -> None:
    """Stand where ``alembic`` would stand: in the project folder, its packages importable."""
    if request.get("cwd"):
        os.chdir(request["cwd"])
        # `python -m` put the directory we were started in first on sys.path; only the project belongs there.
        if os.path.realpath(_STARTUP_DIR) != os.path.realpath(request["cwd"]):
            sys.path[:] = [p for p in sys.path if p not in ("", _STARTUP_DIR)]
    for entry in reversed(request.get("sys_path") or []):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    for name in request.get("unset_env") or []:
        os.environ.pop(name, None)
    os.environ.update(request.get("env") or {})


def _warm_up() -> None:
    """Import Alembic while the parent is still preparing the request (a pre-started worker)."""
    try:
        import alembic.command
        import alembic.script  # noqa: F401
    except Exception:
        pass


def main() -> int:
    _warm_up()
    raw = sys.stdin.read()
    if not raw.strip():  # the parent went away before sending a request
        return 0
    request = json.loads(raw)
    _prepare(request)
    result_path = request["result_path"]
    op = request.get("op", "")
    try:
        if not _OP_NAME.match(op):
            raise ValueError(f"invalid worker op {op!r}")
        module = importlib.import_module(f"alembic_mcp.tools.worker.ops.{op}")
        result = module.run(request)
        _write(result_path, {"ok": True, "result": result})
    except BaseException as exc:  # report everything, including SystemExit from user code
        _write(result_path, {"ok": False, "error": describe_exception(exc)})
    return 0


if __name__ == "__main__":
    # Flush and leave without running atexit handlers of user code that may hang.
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
