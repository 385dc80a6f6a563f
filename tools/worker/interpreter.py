"""Which Python runs the worker: the project's own, found the way the ecosystem's tools find it.

1. the ``worker_python`` setting (``ALEMBIC_MCP_WORKER_PYTHON``), relative paths against the project;
2. ``$UV_PROJECT_ENVIRONMENT`` (uv's override of the project environment's folder);
3. ``.venv/`` or ``venv/`` in the project folder or one of its parents (uv, poetry in-project, venv);
4. ``$VIRTUAL_ENV`` (an activated environment);
5. poetry's environment in its cache folder, named from the project's name and path (no poetry call);
6. the server's own interpreter.

Only the standard library is used (the CLI picks the interpreter before its heavy imports) and no
command is run: nothing here touches the network.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import NamedTuple

VENV_DIRS = (".venv", "venv")
SERVER_INTERPRETER = "the server's own interpreter"


class WorkerPython(NamedTuple):
    """The interpreter the worker runs in and how it was chosen (a named tuple: dataclasses would cost the CLI
    their import before it can start the worker)."""

    path: str
    source: str


class WorkerPythonNotFound(ValueError):
    """``worker_python`` names no usable interpreter."""


def venv_python(venv_dir: Path) -> Path | None:
    """The interpreter of the virtual environment at ``venv_dir``, if it is one that works here."""
    if not _base_interpreter_present(venv_dir):
        return None
    for candidate in (venv_dir / "bin" / "python", venv_dir / "Scripts" / "python.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _base_interpreter_present(venv_dir: Path) -> bool:
    """False for a venv made on another machine (a project mounted into a container): its ``home`` is missing."""
    try:
        lines = (venv_dir / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return True  # not a venv made by `venv`/uv/virtualenv: let the interpreter check decide
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return Path(value.strip()).is_dir()
    return True


def find_worker_python(
    project_root: str | Path, configured: str | None = None, environ: dict[str, str] | None = None
) -> WorkerPython:
    """The worker's interpreter for the project at ``project_root`` (see the module docstring)."""
    environ = dict(os.environ if environ is None else environ)
    root = Path(project_root).expanduser().resolve()
    if configured:
        return WorkerPython(_configured_python(configured, root), "worker_python setting")
    for finder in (_uv_project_environment, _venv_in_parents, _active_virtualenv, _poetry_environment):
        found = finder(root, environ)
        if found is not None:
            return found
    return WorkerPython(sys.executable, SERVER_INTERPRETER)


def _configured_python(configured: str, root: Path) -> str:
    path = Path(configured).expanduser()
    if not path.is_absolute() and os.sep not in configured:
        import shutil

        found = shutil.which(configured)
        if found:
            return found
    path = path if path.is_absolute() else root / path
    if path.is_dir():
        inner = venv_python(path)
        if inner is not None:
            return str(inner)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise WorkerPythonNotFound(
            f"worker_python is {configured!r}, which is not an executable Python interpreter (looked at {path}). "
            "Point it at the project's interpreter, e.g. `.venv/bin/python`, or unset it to use the project's "
            "virtualenv automatically."
        )
    return str(path)


def _uv_project_environment(root: Path, environ: dict[str, str]) -> WorkerPython | None:
    value = environ.get("UV_PROJECT_ENVIRONMENT")
    if not value:
        return None
    venv = Path(value).expanduser()
    python = venv_python(venv if venv.is_absolute() else root / venv)
    return WorkerPython(str(python), "$UV_PROJECT_ENVIRONMENT") if python else None


def _venv_in_parents(root: Path, environ: dict[str, str]) -> WorkerPython | None:
    for folder in (root, *root.parents):
        for name in VENV_DIRS:
            python = venv_python(folder / name)
            if python is not None:
                return WorkerPython(str(python), f"virtualenv {folder / name}")
    return None


def _active_virtualenv(root: Path, environ: dict[str, str]) -> WorkerPython | None:
    value = environ.get("VIRTUAL_ENV")
    python = venv_python(Path(value)) if value else None
    return WorkerPython(str(python), "$VIRTUAL_ENV") if python else None


def _poetry_environment(root: Path, environ: dict[str, str]) -> WorkerPython | None:
    """Poetry's cached environment: ``<cache>/virtualenvs/<name>-<hash of the path>-py<X.Y>``."""
    name = _poetry_project_name(root)
    if name is None:
        return None
    cache = Path(environ.get("POETRY_CACHE_DIR") or Path.home() / ".cache" / "pypoetry")
    folder = Path(environ.get("POETRY_VIRTUALENVS_PATH") or cache / "virtualenvs")
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", name.lower())[:42]
    import base64  # here, not above: the CLI finds the interpreter before anything else, on every call
    import hashlib

    digest = base64.urlsafe_b64encode(hashlib.sha256(os.path.normcase(str(root)).encode()).digest()).decode()[:8]
    for venv in sorted(folder.glob(f"{sanitized}-{digest}-py*"), reverse=True):
        python = venv_python(venv)
        if python is not None:
            return WorkerPython(str(python), f"poetry environment {venv}")
    return None


def _poetry_project_name(root: Path) -> str | None:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    poetry = data.get("tool", {}).get("poetry", {})
    name = poetry.get("name") or data.get("project", {}).get("name") if poetry else None
    return name if isinstance(name, str) else None
