"""Start the worker in any interpreter, by path: ``python /path/to/tools/worker/bootstrap.py``.

The project's interpreter has nothing of alembic-mcp installed. This file (standard library only)
registers the packages ``alembic_mcp``, ``alembic_mcp.tools`` and ``alembic_mcp.tools.worker`` with
the worker package pointing at the folder this file sits in, then runs the worker's entry point.
The two outer packages get no search path: worker code can import only what lives in tools/worker/,
so a stray import of server-side code fails here, loudly, instead of half-working.
"""

import os
import sys
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


if __name__ == "__main__":
    install_worker_packages()
    from alembic_mcp.tools.worker.main import run_and_exit

    run_and_exit()
