"""Approving a review's escalations through MCP elicitation: the question shown to the human and the
recording of their answer, bound to the files exactly as they were reviewed."""

from __future__ import annotations

import json

from alembic_mcp.tools.core.approvals import LOG_NAME, file_sha256, record_approval
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.review.tool import ReviewMigrationResult

MAX_EVIDENCE = 300


def approval_question(result: ReviewMigrationResult) -> str:
    """What the human is asked: every open escalation with its reason and evidence."""
    lines = ["These migrations need a human decision before anything runs them:"]
    for reviewed in result.revisions:
        for escalation in reviewed.escalations:
            evidence = json.dumps(escalation.evidence, default=str)[:MAX_EVIDENCE]
            lines.append(f"- {reviewed.revision} ({reviewed.file}) {escalation.rule}: {escalation.reason} {evidence}")
    lines.append(
        f"Approve them for the files exactly as they are now? Your name, reason and the files' sha256 go to "
        f"{LOG_NAME} (commit it with the migration); any edit voids the approval. Decline to stop."
    )
    return "\n".join(lines)


def file_digests(project: Project, result: ReviewMigrationResult) -> dict[str, str]:
    """sha256 of each reviewed file that has escalations, as the human is about to see it."""
    digests = {}
    for reviewed in result.revisions:
        path = project.root / reviewed.file
        if reviewed.escalations and path.is_file():
            digests[reviewed.file] = file_sha256(path)
    return digests


def record_elicited(
    project: Project, result: ReviewMigrationResult, digests: dict[str, str], reason: str, who: str
) -> None:
    """Record the human's approval of every escalation they were shown, for files still unchanged."""
    for reviewed in result.revisions:
        path = project.root / reviewed.file
        if reviewed.file not in digests or not path.is_file() or file_sha256(path) != digests[reviewed.file]:
            continue  # edited while the human was reading: the approval would not be about this file
        for escalation in reviewed.escalations:
            record_approval(project.root, reviewed.revision, path, escalation, reason, who, "elicitation")
