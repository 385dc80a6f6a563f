"""Starting worker interpreters, and pre-starting one so its start-up overlaps with the caller's.

Only the standard library is imported here: the CLI calls ``prestart()`` before its own heavy imports.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path

from alembic_mcp.tools.core.credentials import carries_credentials, environment_secrets

BOOTSTRAP = str(Path(__file__).resolve().with_name("bootstrap.py"))  # loads the worker code by path
_prestarted: subprocess.Popen | None = None
_keep_warm: str | None = None  # interpreter to keep one idle worker of (a long-running server)
_spawned: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()  # every worker this process started
_started_with: weakref.WeakKeyDictionary[subprocess.Popen, frozenset[str]] = weakref.WeakKeyDictionary()
_spare_removes: frozenset[str] = frozenset()  # what the last request removed: the next spare starts without it
_DATABASE_URL = re.compile(r"^\s*(postgres|postgresql|mysql|mariadb|sqlite|oracle|mssql|cockroachdb)(\+\w+)?://", re.I)


def starting_environment(environ: dict[str, str]) -> dict[str, str]:
    """The server's environment without what could lead user code to the target database: the
    ``ALEMBIC_MCP_*`` settings, ``DATABASE_URL``, any value that is a database URL, and every
    credential (``credentials.carries_credentials``: PGPASSWORD, MYSQL_PWD, keyword DSNs with a password,
    values holding a password found in another variable). The request later sets the project's URL
    variables to the worker's own URL; ``/proc/<pid>/environ`` keeps what the process started with,
    so the scrubbing happens here, before it starts."""
    secrets = environment_secrets(environ)
    return {
        name: value
        for name, value in environ.items()
        if not name.startswith("ALEMBIC_MCP_")
        and name != "DATABASE_URL"
        and not _DATABASE_URL.match(value)
        and not carries_credentials(name, value, secrets)
    }


def spawn(python: str, cwd: str | None, remove: Iterable[str] = ()) -> subprocess.Popen:
    """A worker waiting for its JSON request on stdin (it imports Alembic meanwhile); ``remove`` names
    variables it must not start with (a request's ``unset_env``: what carries the target)."""
    env = _environment_without(remove)
    # The worker dies with this process; PR_SET_PDEATHSIG follows the spawning thread, so only the main one.
    in_main_thread = threading.current_thread() is threading.main_thread()
    process = subprocess.Popen(
        [python, BOOTSTRAP, "--parent", str(os.getpid()), *(["--pdeathsig"] if in_main_thread else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    _spawned.add(process)
    _started_with[process] = frozenset(env)
    return process


def _environment_without(remove: Iterable[str]) -> dict[str, str]:
    """The environment a worker starts with when the request removes ``remove``."""
    env = starting_environment(dict(os.environ))
    for name in remove:
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def prestart(python: str | None = None) -> None:
    """Start a worker now; the next ``run_worker`` call with the same interpreter uses it.

    A live idle worker of the same interpreter is kept (it is already warm); one of another
    interpreter is stopped first.
    """
    global _prestarted
    python = python or sys.executable
    if _prestarted is not None:
        if _prestarted.poll() is None and _interpreter_of(_prestarted) == python:
            return
        kill_group(_prestarted.pid)
        _prestarted.wait()
    _prestarted = spawn(python, None, _spare_removes)


def keep_warm(python: str | None = None) -> None:
    """Keep one idle worker ready from now on: each call takes it and a new one starts behind it.

    The idle worker has imported Alembic and SQLAlchemy only, never user code, so every call still
    runs the project's env.py, models and migrations in a fresh interpreter.
    """
    global _keep_warm
    if _keep_warm is None:
        atexit.register(stop_workers)
    _keep_warm = python or sys.executable
    if _prestarted is None or _prestarted.poll() is not None:
        prestart(_keep_warm)


def take_prestarted(python: str, remove: Iterable[str] = ()) -> subprocess.Popen | None:
    """The idle worker of ``python``, when it started with exactly the environment a worker removing
    ``remove`` (the request's ``unset_env``) starts with: one holding a variable of ``remove`` would show
    it in ``/proc/self/environ``. Any other is stopped; the next spare starts without ``remove``."""
    global _prestarted, _spare_removes
    proc, _prestarted = _prestarted, None
    _spare_removes = frozenset(remove)
    if proc is not None and (
        proc.poll() is not None
        or _interpreter_of(proc) != python
        or _started_with[proc] != frozenset(_environment_without(remove))
    ):
        kill_group(proc.pid)
        proc.wait()
        proc = None
    if _keep_warm is not None:
        prestart(_keep_warm)
    return proc


def _interpreter_of(process: subprocess.Popen) -> str:
    """The interpreter a worker was started with (its argv[0])."""
    return str(process.args[0])  # type: ignore[index]  # spawn() always passes a list


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_workers() -> None:
    """Kill every worker this process started that still runs (the server is exiting: no orphans)."""
    global _keep_warm
    _keep_warm = None
    for process in list(_spawned):
        if process.poll() is None:
            kill_group(process.pid)
            process.wait()
