"""A worker request sent before the caller has loaded the project, adopted when it is the one it would send.

A cold CLI call spends most of its own start-up importing pydantic and SQLAlchemy to validate the settings
and parse the URL; the worker, meanwhile, only waits. ``send`` hands a request built from the project
files alone (``heads/cold.py``) to a worker at once; ``runner`` later builds its request the usual way
and ``adopt`` gives it that worker only when both requests are the same (the result file aside), so
the worker computes exactly what it would have. Otherwise the early worker is killed and never read.
Only the standard library is imported here.
"""

from __future__ import annotations

import atexit
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from alembic_mcp.tools.worker.prestart import kill_group, spawn, take_prestarted
from alembic_mcp.tools.worker.protocol import WorkerRequest


@dataclass
class EarlyWorker:
    """A worker already running ``request``; its reply goes to ``request.result_path`` inside ``folder``."""

    request: WorkerRequest
    process: subprocess.Popen
    folder: tempfile.TemporaryDirectory

    def close(self) -> None:
        """Stop the worker if it still runs and remove its folder."""
        if self.process.poll() is None:
            kill_group(self.process.pid)
            self.process.wait()
        self.folder.cleanup()


_sent: EarlyWorker | None = None


def send(python: str, request: WorkerRequest) -> bool:
    """Start ``request`` in a worker of ``python`` now (the pre-started one when it is that interpreter).

    Its ``result_path`` is replaced by one in a folder of its own. False when the worker could not take it.
    """
    global _sent
    discard()
    folder = tempfile.TemporaryDirectory(prefix="alembic-mcp-worker-")
    request = replace(request, result_path=str(Path(folder.name) / "result.json"))
    process = take_prestarted(python, request.unset_env) or spawn(python, request.cwd, request.unset_env)
    early = EarlyWorker(request, process, folder)
    try:
        assert process.stdin is not None  # spawn() always opens it
        process.stdin.write(request.to_json().encode())
        process.stdin.close()
    except OSError:  # the worker died before reading it
        early.close()
        return False
    process.stdin = None  # closed: communicate() must not touch it again
    _sent = early
    atexit.register(discard)
    return True


def adopt(request: WorkerRequest) -> EarlyWorker | None:
    """The early worker when it runs ``request`` (compared without the result path), else None.

    An early worker running any other request is stopped: it is never adopted later.
    """
    global _sent
    early, _sent = _sent, None
    if early is None:
        return None
    if replace(request, result_path=early.request.result_path) == early.request:
        return early
    early.close()
    return None


def pending() -> bool:
    """Whether an early worker waits to be adopted."""
    return _sent is not None


def discard() -> None:
    """Stop the early worker nobody adopted (the call failed before reaching its worker)."""
    global _sent
    early, _sent = _sent, None
    if early is not None:
        early.close()
