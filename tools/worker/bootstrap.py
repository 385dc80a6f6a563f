"""Start the worker in any interpreter, by path: ``python /path/to/tools/worker/bootstrap.py``.

The project's interpreter has nothing of alembic-mcp installed. This file (standard library only)
registers the packages ``alembic_mcp``, ``alembic_mcp.tools`` and ``alembic_mcp.tools.worker`` with
the worker package pointing at the folder this file sits in, then runs the worker's entry point.
The two outer packages get no search path: worker code can import only what lives in tools/worker/,
so a stray import of server-side code fails here, loudly, instead of half-working.

The worker dies with its server (``die_with_parent``): started with ``--parent PID``, it asks the kernel
for SIGKILL when the parent goes (``PR_SET_PDEATHSIG``, Linux, only when the server spawned it from its
main thread: the signal follows the spawning thread), then checks that parent still lives, and a
watchdog thread polls the parent on every platform. A SIGKILLed server leaves no worker running user code.
"""

import os
import signal
import sys
import threading
import time
import types

WORKER_DIR = os.path.dirname(os.path.abspath(__file__))


def _register(name: str, search_path: list) -> None:
    module = types.ModuleType(name)
    module.__path__ = search_path
    module.__package__ = name
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def install_worker_packages() -> None:
    # Running a file puts its folder first on sys.path: the worker's modules must not shadow user code.
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == WORKER_DIR:
        del sys.path[0]
    _register("alembic_mcp", [])
    _register("alembic_mcp.tools", [])
    _register("alembic_mcp.tools.worker", [WORKER_DIR])


PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5


def _parent_from(argv: list) -> "int | None":
    if "--parent" in argv[:-1]:
        value = argv[argv.index("--parent") + 1]
        return int(value) if value.isdigit() else None
    return None


def _ask_kernel_for_sigkill() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc prctl: the watchdog below still covers it
        pass


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL_S)
    os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(argv: list) -> None:
    """SIGKILL this worker when the server that started it (``--parent PID``) is gone."""
    parent = _parent_from(argv)
    if parent is None:
        return
    if "--pdeathsig" in argv:
        _ask_kernel_for_sigkill()
    if os.getppid() != parent:  # the parent died before the kernel was asked to tell us
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch, args=(parent,), name="alembic-mcp-parent-watch", daemon=True).start()


if __name__ == "__main__":
    die_with_parent(sys.argv[1:])
    install_worker_packages()
    from alembic_mcp.tools.worker.main import run_and_exit

    run_and_exit()
