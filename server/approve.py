"""``alembic-mcp approve REVISION --rule RULE --reason ...``: a human clears one escalation.

Runs only in an interactive terminal (stdin a TTY): an agent's piped shell is refused. The revision is
reviewed again, the escalation shown with its evidence, and the human types the revision id to
confirm. The approval goes to the approvals log in the repository, bound to the file's sha256 and the
escalation's evidence.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

EXIT_APPROVED = 0
EXIT_REFUSED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("revision", help="The revision whose escalation you approve (id or unique prefix).")
    parser.add_argument("--rule", required=True, help="The escalation rule, e.g. drop-column-with-data.")
    parser.add_argument("--reason", required=True, help="Why it is acceptable, in one line.")


def _refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_REFUSED


def _confirm(revision: str, stdin: TextIO) -> bool:
    print(f"Type the revision id ({revision}) to approve, anything else to cancel: ", end="", flush=True)
    return stdin.readline().strip() == revision


def approve(args: argparse.Namespace, overrides: dict, stdin: TextIO | None = None) -> int:
    """The subcommand. Exit 0 when recorded, 3 when refused or cancelled."""
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return _refuse(
            "alembic-mcp approve must be run by a human in an interactive terminal (stdin is not a TTY). "
            "Agents: show the escalation to a human and ask them to run this command themselves."
        )
    import anyio

    from alembic_mcp.tools.core.approvals import LOG_NAME, record_approval, validate_reason, who_approves
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.core.errors import AlembicMcpError
    from alembic_mcp.tools.review.tool import review_migration

    try:
        reason = validate_reason(args.reason)
        project = load_project(args.project, overrides)
        result = anyio.run(lambda: review_migration(project, revision=args.revision))
    except AlembicMcpError as exc:
        return _refuse(str(exc))
    if len(result.revisions) != 1:
        return _refuse(f"{args.revision!r} selects {len(result.revisions)} revisions; name exactly one.")
    reviewed = result.revisions[0]
    matching = [e for e in reviewed.escalations if e.rule == args.rule]
    if not matching:
        already = [a for a in reviewed.approvals if a.rule == args.rule]
        if already:
            return _refuse(f"{args.rule} on {reviewed.revision} is already approved by {already[0].approved_by}.")
        open_rules = ", ".join(sorted({e.rule for e in reviewed.escalations})) or "none"
        return _refuse(f"{reviewed.revision} has no open escalation {args.rule!r} (open: {open_rules}).")
    print(f"Revision {reviewed.revision} ({reviewed.file}): {reviewed.message}")
    for escalation in matching:
        print(f"  escalation {escalation.rule}: {escalation.reason}")
        print(f"  evidence: {json.dumps(escalation.evidence, default=str)}")
    if not _confirm(reviewed.revision, stdin):
        return _refuse("not confirmed; nothing recorded.")
    who = who_approves(project.root)
    for escalation in matching:
        record_approval(
            project.root, reviewed.revision, Path(project.root / reviewed.file), escalation, reason, who, "cli"
        )
    print(
        f"Approved {args.rule} on {reviewed.revision} as {who}; recorded in {LOG_NAME}. Commit it with the migration."
    )
    return EXIT_APPROVED
