"""Autogenerate against a scratch database upgraded to the heads: generate_migration's comparison, shared.

``autogenerate_on_scratch`` is the one place that creates the scratch database and runs the generate
worker in it; ``model_drift`` is its dry run for callers that only need to know whether the models and
the migrations agree (review_migration's commit rules): nothing is written to the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import ProjectError
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.db.scratch import ScratchDatabase, scratch_database, scratch_notes
from alembic_mcp.tools.generate.model_scan import defines_tables
from alembic_mcp.tools.worker.protocol import GenerateArgs
from alembic_mcp.tools.worker.runner import WorkerError, run_worker

__all__ = ["Drift", "autogenerate_on_scratch", "defines_tables", "model_drift"]


@dataclass
class Drift:
    """What autogenerate found between the models and a scratch database built from the heads."""

    operations: list[dict[str, Any]] = field(default_factory=list)  # the worker's described operations
    compared_with: str = ""
    problem: str | None = None  # why nothing could be compared (upgrade or autogenerate failed)


async def autogenerate_on_scratch(
    project: Project, args: GenerateArgs, progress: Progress = no_progress
) -> tuple[dict[str, Any], str]:
    """One worker does it all: the history checks (heads, rev_id), upgrading a scratch database to the
    heads, autogenerate and the blind-spot facts. Returns the worker's report and what was compared."""
    server = project.database_url or project.settings.scratch_url
    if server is None:
        raise ProjectError(
            "No database configured to compare the models with: autogenerate "
            "creates a scratch database on the target's server. Set database_url "
            "(or scratch_url) in [tool.alembic-mcp], $DATABASE_URL or --database-url."
        )
    settings = project.settings
    async with scratch_database(server, settings.scratch_url, settings.scratch_credentials) as scratch:
        await progress(1, 4, "autogenerating against a scratch database upgraded to the heads")
        scratch_args = replace(args, upgrade_first=True, bootstrap=settings.bootstrap)
        try:
            raw = await run_worker(project, "generate", scratch_args, database_url=scratch.url_string)
        except WorkerError as exc:
            _raise_privilege_limit(scratch, exc)
            raise
    raw["scratch_notes"] = scratch_notes(scratch)
    heads = ", ".join(raw.get("heads") or []) or "base"
    return raw, f"scratch database {scratch.masked_url} upgraded to {heads} (dropped afterwards)"


def _raise_privilege_limit(scratch: ScratchDatabase, exc: WorkerError) -> None:
    """Upgrading the scratch failed on a privilege its role lacks: say it is the rehearsal's limit."""
    notes = scratch_notes(scratch, str(exc.info.get("message") or ""))
    limit = next((n for n in notes if n.rule == "scratch-role-lacks-privilege"), None)
    if limit is not None:
        raise ProjectError(f"{limit.message} {limit.why} Fix: {limit.fix}") from None


async def model_drift(project: Project) -> Drift:
    """A dry-run autogenerate on a scratch database at the heads: the operations a new migration would
    need for the models to match the migrations (none: they agree)."""
    args = GenerateArgs(
        message="drift check", autogenerate=True, dry_run=True, version_table=project.settings.version_table
    )
    raw, compared_with = await autogenerate_on_scratch(project, args)
    stage = raw.get("stage")
    if raw.get("target_metadata_none"):
        return Drift(compared_with=compared_with, problem="env.py passes target_metadata=None")
    if raw.get("error"):
        error = raw["error"]
        return Drift(compared_with=compared_with, problem=f"{stage}: {error.get('type')}: {error.get('message')}")
    if stage != "done":
        heads = ", ".join(raw.get("heads") or [])
        return Drift(compared_with=compared_with, problem=f"the history cannot be compared ({stage} {heads})".strip())
    operations = [] if raw.get("empty") else list(raw.get("operations") or [])
    return Drift(operations=operations, compared_with=compared_with)
