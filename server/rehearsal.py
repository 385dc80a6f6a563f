"""The rehearsal autofix runs after rewriting migrations: test_roundtrip over just the changed revisions,
on a copy of the target's rows when a target is configured (seeded rows otherwise)."""

from __future__ import annotations

from typing import Literal

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.review.autofix.apply import Rehearsal
from alembic_mcp.tools.roundtrip.tool import test_roundtrip

# Rehearsal findings that mean a changed revision does not run; others (drift from the models, locks)
# were the review's business and do not undo the fixes.
FAILED = frozenset(
    {
        "migration-failed-midway",
        "migration-failure-unclear",
        "reupgrade-differs",
        "steps-not-run",
        "env-py-error",
        "bootstrap-failed",
        "needs-bootstrap",
        "database-unreachable",
        "production-database",
    }
)


async def rehearse_changed(project: Project, revision: str, from_revision: str | None) -> Rehearsal:
    """Clean when upgrade, downgrade and upgrade again ran; else what failed, with the failed steps."""
    data_from: Literal["seed", "target"] = "target" if project.database_url is not None else "seed"
    result = await test_roundtrip(
        project, revision=revision, from_revision=from_revision or "base", data_from=data_from
    )
    if data_from == "target" and any(e.rule == "production-database" for e in result.escalations):
        result = await test_roundtrip(project, revision=revision, from_revision=from_revision or "base")
    failed = [f"{f.rule}: {f.message}" for f in result.findings if f.severity == "error" and f.rule in FAILED]
    failed += [f"{e.rule}: {e.reason}" for e in result.escalations if e.rule == "production-database"]
    if result.failure is not None and not failed:
        failed.append(result.summary)
    if result.steps_run < result.steps_planned and not failed:
        failed.append(f"{result.steps_run} of {result.steps_planned} steps ran")
    deploy = result.deploy.env_py if result.deploy is not None else None
    if not failed:
        return Rehearsal(deploy=deploy)
    # the failed steps, to compare with another rehearsal; with no step to name, the failures themselves
    steps = frozenset(f"{f.revision} {f.direction or f.phase} {f.mode}" for f in result.failures)
    return Rehearsal("; ".join(failed)[:2000], steps or frozenset(failed), deploy)
