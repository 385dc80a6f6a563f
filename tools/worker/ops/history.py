"""Worker op ``history``: load every revision file one by one, recording the ones that fail.

Alembic's own loader stops at the first broken file; here each file is loaded on its own so a
syntax error in one migration is a finding, not a crash. With ``check_env`` the files are loaded
inside env.py's offline run (from its migration function), after whatever env.py sets up, and only
when env.py never gets there, on their own. A file that fails to import keeps its place
in the graph when its ids can be read from its source text (``import_failed`` marks it). Optionally
runs env.py offline with a no-op migration function to prove it imports (it connects to nothing).
"""

from __future__ import annotations

import io
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory

from alembic_mcp.tools.worker.ops.alembic_env import config_from_spec
from alembic_mcp.tools.worker.protocol import WorkerRequest, describe_exception
from alembic_mcp.tools.worker.revision_ids import as_revision_list, read_revision_record


def run(request: WorkerRequest) -> dict[str, Any]:
    # env.py runs offline here and connects to nothing; it still needs some URL to configure with.
    cfg = config_from_spec(request.project, request.database_url or "sqlite://")
    script_dir = ScriptDirectory.from_config(cfg)
    loaded: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    env_error = None
    if request.args.check_env:
        # the files are loaded inside env.py's run, as `alembic upgrade` loads them: revision files that
        # import the application need what env.py sets up first (superset's app context)
        def load_once() -> None:
            if not loaded:
                loaded.append(_load_revisions(script_dir))

        env_error = _check_env(cfg, script_dir, load_once)
    revisions, load_errors = loaded[0] if loaded else _load_revisions(script_dir)
    return {"revisions": revisions, "load_errors": load_errors, "env_error": env_error}


def _load_revisions(script_dir: ScriptDirectory) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every revision file loaded on its own: the revisions read, and the files that failed."""
    revisions: list[dict[str, Any]] = []
    load_errors: list[dict[str, Any]] = []
    seen_paths = set()
    for location in script_dir._version_locations:  # str on Alembic < 1.16, Path after
        if not Path(location).exists():
            continue
        for path in Script._list_py_dir(script_dir, location):
            real = (Path(location) / path).resolve()  # a bare file name on Alembic < 1.10
            if real in seen_paths:
                continue
            seen_paths.add(real)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    script = Script._from_path(script_dir, str(real))
            except BaseException as exc:
                load_errors.append(_load_error(exc, real))
                # Its place in the graph still counts: read from the source text, it is no phantom gap.
                record = read_revision_record(real)
                if record is not None:
                    revisions.append({**record, "import_failed": True})
                continue
            if script is None:
                continue
            revisions.append(_revision_record(script, real))
    return revisions, load_errors


def _revision_record(script: Script, real: Path) -> dict[str, Any]:
    module = script.module
    return {
        "revision": str(script.revision),
        "down_revisions": as_revision_list(getattr(module, "down_revision", None)),
        "branch_labels": as_revision_list(getattr(module, "branch_labels", None)),
        "depends_on": as_revision_list(getattr(module, "depends_on", None)),
        "doc": script.doc or "",
        "path": str(real),
        "has_upgrade": callable(getattr(module, "upgrade", None)),
        "has_downgrade": callable(getattr(module, "downgrade", None)),
    }


def _load_error(exc: BaseException, path: Path) -> dict[str, Any]:
    info = describe_exception(exc)
    info.setdefault("file", str(path))
    info["path"] = str(path)
    info.pop("traceback", None)
    return info


def _check_env(cfg, script_dir: ScriptDirectory, inside: Callable[[], None]) -> dict[str, Any] | None:
    """Run env.py in offline mode with a migration function that only calls ``inside`` (once)."""

    def nothing(rev, context):
        inside()
        return []

    try:
        with EnvironmentContext(
            cfg,
            script_dir,
            fn=nothing,
            as_sql=True,
            output_buffer=io.StringIO(),
            starting_rev=None,
            destination_rev=None,
        ):
            script_dir.run_env()
    except BaseException as exc:
        info = describe_exception(exc)
        info.pop("traceback", None)
        # raised on env.py's offline path (run_migrations_offline): online commands are not concerned
        info["offline_path"] = any("offline" in frame.name for frame in traceback.extract_tb(exc.__traceback__))
        return info
    return None
