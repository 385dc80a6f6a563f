"""Human approvals of escalations, kept in the repository next to the migrations they approve.

Only a human clears an escalation: with ``alembic-mcp approve`` in an interactive terminal, or by
answering an MCP elicitation the agent cannot answer. Each approval is one JSON line appended to
``<project>/.alembic-mcp-approvals.jsonl`` (committed with the pull request, so reviewers see it),
bound to the sha256 of the migration file and of the escalation's rule and evidence: editing the file,
or data that changes the evidence, voids it and the escalation stands again.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.core.verdict import Approval, Escalation, Finding

LOG_NAME = ".alembic-mcp-approvals.jsonl"
MAX_REASON = 500


def log_path(root: Path) -> Path:
    return root / LOG_NAME


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evidence_sha256(escalation: Escalation) -> str:
    canonical = json.dumps({"rule": escalation.rule, "evidence": escalation.evidence}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument(
            "--reason is empty: say why this escalation is acceptable, e.g. 'column unused since v2'."
        )
    if "\n" in reason or "\r" in reason or len(reason) > MAX_REASON:
        raise InvalidArgument(f"--reason must be one line of at most {MAX_REASON} characters.")
    return reason.strip()


def read_approvals(root: Path) -> list[Approval]:
    """Every well-formed approval in the log (a hand-mangled line approves nothing)."""
    path = log_path(root)
    if not path.is_file():
        return []
    approvals = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            approvals.append(Approval.model_validate_json(line))
        except (ValidationError, ValueError):
            continue
    return approvals


def _git_config(root: Path, key: str) -> str:
    done = subprocess.run(["git", "config", key], capture_output=True, text=True, timeout=5, cwd=root)
    return done.stdout.strip()


def who_approves(root: Path) -> str:
    """The git identity of the person at the terminal, else their OS user name."""
    try:
        name, email = _git_config(root, "user.name"), _git_config(root, "user.email")
    except (OSError, subprocess.SubprocessError):
        name = email = ""
    user = getpass.getuser()
    if name:
        return f"{name} <{email}> (os user {user})" if email else f"{name} (os user {user})"
    return user


def record_approval(
    root: Path,
    revision: str,
    file: Path,
    escalation: Escalation,
    reason: str,
    approved_by: str,
    via: Literal["cli", "elicitation"],
) -> Approval:
    """Append one approval to the log (one line, flushed to disk)."""
    approval = Approval(
        revision=revision,
        rule=escalation.rule,
        reason=validate_reason(reason),
        approved_by=approved_by,
        approved_at=datetime.now(UTC).isoformat(timespec="seconds"),
        via=via,
        file=str(file.resolve().relative_to(root)) if file.resolve().is_relative_to(root) else str(file),
        file_sha256=file_sha256(file),
        evidence_sha256=evidence_sha256(escalation),
    )
    with log_path(root).open("a", encoding="utf-8") as fh:
        fh.write(approval.model_dump_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return approval


def apply_approvals(
    root: Path, revision: str, file: Path, escalations: list[Escalation], approvals: list[Approval] | None = None
) -> tuple[list[Escalation], list[Approval], list[Finding]]:
    """Split ``escalations`` into the ones still open and the approvals that clear the others.

    An approval counts only for the same revision, rule, file bytes and evidence. One made for an
    earlier version of the file is reported as a finding, so nobody wonders why it stopped counting.
    """
    approvals = read_approvals(root) if approvals is None else approvals
    mine = [a for a in approvals if a.revision == revision]
    if not mine or not escalations or not file.is_file():
        return escalations, [], []
    current = file_sha256(file)
    still_open, used, notes = [], [], []
    for escalation in escalations:
        evidence = evidence_sha256(escalation)
        match = next(
            (
                a
                for a in mine
                if a.rule == escalation.rule and a.file_sha256 == current and a.evidence_sha256 == evidence
            ),
            None,
        )
        if match is not None:
            used.append(match)
            continue
        still_open.append(escalation)
        if any(a.rule == escalation.rule for a in mine):
            notes.append(_void_finding(escalation, [a for a in mine if a.rule == escalation.rule], current))
    return still_open, used, notes


def _void_finding(escalation: Escalation, stale: list[Approval], current_sha: str) -> Finding:
    edited = all(a.file_sha256 != current_sha for a in stale)
    cause = "the file changed since" if edited else "the evidence changed since (e.g. row counts)"
    return Finding(
        rule="approval-void",
        severity="info",
        message=f"An approval of {escalation.rule} exists, but {cause}: the escalation stands again.",
        why="Approvals are bound to the exact migration file and evidence a human saw.",
        fix="Show the escalation to a human; they run `alembic-mcp approve` again if it is still acceptable.",
    )
