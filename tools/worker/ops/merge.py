"""Worker op ``merge``: write a merge revision with ``alembic.command.merge``, then rehearse
``upgrade heads`` through it on a scratch database when one is given (after the ``bootstrap``
setting's starting schema, if any).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory

from alembic_mcp.tools.worker.ops.alembic_env import (
    atomic_templates,
    config_from_spec,
    connected_config,
    copy_to_sandbox,
    unsandbox,
)
from alembic_mcp.tools.worker.ops.starting_schema import apply_starting_schema
from alembic_mcp.tools.worker.protocol import ProjectSpec, WorkerRequest, describe_exception


def run(request: WorkerRequest) -> dict[str, Any]:
    spec, args = request.project, request.args
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-dry-") as sandbox:
        cfg = config_from_spec(spec)
        mapping = copy_to_sandbox(cfg, Path(sandbox)) if args.dry_run else {}
        with atomic_templates():
            script = command.merge(cfg, args.heads, message=args.message, rev_id=args.rev_id)
        if script is None:
            raise RuntimeError("alembic merge wrote no revision")
        text = Path(script.path).read_text(encoding="utf-8")
        heads_after = sorted(ScriptDirectory.from_config(cfg).get_heads())
        rehearsal = None
        if args.scratch_url:
            rehearsal = _rehearse(cfg, spec, args.scratch_url, args.bootstrap)
        return {
            "revision": script.revision,
            "path": unsandbox(script.path, mapping),
            "content": text,
            "heads_after": heads_after,
            "rehearsal": rehearsal,
        }


def _rehearse(cfg, spec: ProjectSpec, scratch_url: str, bootstrap: str | None) -> dict[str, Any]:
    try:
        if bootstrap:  # the starting schema the history expects (the bootstrap setting)
            apply_starting_schema(scratch_url, bootstrap, spec.project_dir)
        with connected_config(spec, scratch_url) as run_cfg:
            for key in ("script_location", "version_locations", "path_separator"):
                value = cfg.get_main_option(key)
                if value:
                    run_cfg.set_main_option(key, value)
            command.upgrade(run_cfg, "heads")
    except BaseException as exc:
        return {"ok": False, "error": describe_exception(exc)}
    return {"ok": True}
