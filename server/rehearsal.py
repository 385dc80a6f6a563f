"""Where the server composes the review and the rehearsal: the rehearsal autofix runs after rewriting
migrations (test_roundtrip over just the changed revisions, on a copy of the target's rows when a target
is configured, seeded rows otherwise); and the review's escalations a rehearsal carries forward."""

from __future__ import annotations

from typing import Literal

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.history.migration_ast import parse_file
from alembic_mcp.tools.review.autofix.apply import Rehearsal
from alembic_mcp.tools.review.rules.downgrade import downgrade_carries
from alembic_mcp.tools.review.tool import review_migration
from alembic_mcp.tools.roundtrip.tool import ReviewFacts, test_roundtrip

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
    refusal = next((e for e in result.escalations if e.rule == "production-database"), None)
    if refusal is not None and result.steps_run == 0:
        return Rehearsal(not_run=refusal.reason)  # nothing ran: no failure to blame on the migration
    failed = [f"{f.rule}: {f.message}" for f in result.findings if f.severity == "error" and f.rule in FAILED]
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


async def review_escalations(project: Project, revisions: list[str]) -> ReviewFacts:
    """What review_migration says of ``revisions``: the escalations no human approved, the approvals, and
    the columns a downgrade carries into a kept column before dropping them. One review call per chain
    from the lowest of them to each top one, or one per revision when they do not form such chains."""
    wanted = set(revisions)
    facts = ReviewFacts()
    for selection in await _selections(project, revisions):
        try:
            reviewed = await review_migration(project, revision=selection)
        except AlembicMcpError:
            continue  # the review's own call reports it; the rehearsal stands on its facts
        for revision in reviewed.revisions:
            if revision.revision not in wanted:
                continue
            facts.escalations.extend(e for e in revision.escalations if e not in facts.escalations)
            facts.approvals.extend(a for a in revision.approvals if a not in facts.approvals)
            facts.carried |= _carried(project, revision.revision, revision.file, reviewed.database.backend)
    return facts


def _carried(project: Project, revision: str, file: str, backend: str | None) -> set[tuple[str, str, str]]:
    try:
        migration = parse_file(project.root / file)
    except (OSError, SyntaxError, ValueError):
        return set()
    return {(revision, table, column) for table, column in downgrade_carries(migration, backend)}


async def _selections(project: Project, revisions: list[str]) -> list[str]:
    try:
        fast = await anyio.to_thread.run_sync(history_from_files, project)
    except AlembicMcpError:
        fast = None
    history = fast[0] if fast is not None else None
    if history is None or any(r not in history.nodes for r in revisions):
        return list(revisions)
    wanted = set(revisions)
    lowest = [r for r in revisions if not wanted & set(history.nodes[r].down_revisions)]
    tops = [r for r in revisions if not any(r in history.nodes[o].down_revisions for o in wanted)]
    if len(lowest) != 1 or not all(lowest[0] in history.ancestors(t) for t in tops):
        return list(revisions)
    return [f"{lowest[0]}:{top}" if top != lowest[0] else top for top in tops]
