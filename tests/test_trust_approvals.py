"""Issue 11, item 3 (approvals): only a human in a terminal clears an escalation, bound to the file.

On PostgreSQL with data: dropping ``persons.email`` (values in every row) escalates; ``alembic-mcp
approve`` refuses without a TTY, records the approval when run in a pseudo-terminal and confirmed; the
review then proceeds with the approval in its result; editing the file voids it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from conftest import write_revision
from mcp import Client
from test_generate_migration import upgrade_target

from alembic_mcp.server.app import build_server
from alembic_mcp.tools.core.approvals import LOG_NAME, read_approvals
from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.review.tool import review_migration

HEAD = "b2e1d1ce0002"
RULE = "drop-column-with-data"
APPROVE = [sys.executable, "-m", "alembic_mcp.server", "approve"]


@pytest.fixture
def dropping_project(example_project, pg_url):
    upgrade_target(example_project, pg_url, people=5)
    path = write_revision(
        example_project,
        "c0000001",
        HEAD,
        'op.drop_column("persons", "email")',
        'op.add_column("persons", sa.Column("email", sa.String(255), nullable=True))',
        message="drop email",
    )
    return example_project, pg_url, path


def review(project: Path, url: str):
    return anyio.run(lambda: review_migration(load_project(project, {"database_url": url}), revision="c0000001"))


def approve_args(project: Path, url: str, rule: str = RULE) -> list[str]:
    return [*APPROVE, "c0000001", "--rule", rule, "--reason", "email moved to contacts in v2", "--project",
            str(project), "--database-url", url]  # fmt: skip


def run_in_terminal(argv: list[str], typed: str, timeout: float = 120) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as stdin/stdout/stderr, typing ``typed`` once it prompts."""
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    output, sent = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not sent and b"to approve" in output:
                os.write(master, typed.encode() + b"\n")
                sent = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=30), output.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_escalation_is_approved_by_a_human_in_a_terminal_and_voided_by_an_edit(dropping_project):
    project, url, path = dropping_project
    first = review(project, url)
    assert first.verdict == "escalate" and RULE in {e.rule for e in first.escalations}, first.summary

    code, out = run_in_terminal(approve_args(project, url), "c0000001")
    assert code == 0, out
    assert f"Approved {RULE} on c0000001" in out and "evidence" in out
    log = project / LOG_NAME
    [entry] = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["rule"] == RULE and entry["via"] == "cli" and len(entry["file_sha256"]) == 64

    approved = review(project, url)
    assert approved.verdict == "proceed", approved.summary
    assert approved.escalations == [] and approved.escalate_to_human is False
    [approval] = approved.approvals
    assert approval.rule == RULE and approval.reason == "email moved to contacts in v2"
    assert approval.approved_by and approval.approved_at and approval.revision == "c0000001"
    assert "approved by a human" in approved.summary

    path.write_text(path.read_text() + "\n# edited after the approval\n")
    voided = review(project, url)
    assert voided.verdict == "escalate" and voided.approvals == []
    assert "approval-void" in {f.rule for f in voided.findings}


def test_approve_without_a_terminal_is_refused(dropping_project):
    project, url, _ = dropping_project
    done = subprocess.run(approve_args(project, url), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 3 and "interactive terminal" in done.stderr
    assert not (project / LOG_NAME).exists()


def test_approve_unconfirmed_or_wrong_rule_records_nothing(dropping_project):
    project, url, _ = dropping_project
    code, out = run_in_terminal(approve_args(project, url), "yes")
    assert code == 3 and "not confirmed" in out
    code, out = run_in_terminal(approve_args(project, url, rule="audit-trail"), "c0000001")
    assert code == 3 and "no open escalation 'audit-trail'" in out
    assert read_approvals(project) == []


def test_agent_written_log_line_for_another_file_approves_nothing(dropping_project):
    """A line forged with a made-up hash (or for an older file) does not clear the escalation."""
    project, url, _ = dropping_project
    forged = {
        "revision": "c0000001",
        "rule": RULE,
        "reason": "trust me",
        "approved_by": "agent",
        "approved_at": "2026-01-01T00:00:00+00:00",
        "via": "cli",
        "file": "migrations/versions/c0000001_drop_email.py",
        "file_sha256": "0" * 64,
        "evidence_sha256": "0" * 64,
    }
    (project / LOG_NAME).write_text(json.dumps(forged) + "\n")
    result = review(project, url)
    assert result.verdict == "escalate" and result.approvals == []


def test_approval_is_in_the_mcp_result(dropping_project):
    project, url, _ = dropping_project
    code, out = run_in_terminal(approve_args(project, url), "c0000001")
    assert code == 0, out

    async def main():
        async with Client(build_server(str(project), {"database_url": url})) as client:
            answer = await client.call_tool("review_migration", {"revision": "c0000001"})
            return answer.structured_content

    result = anyio.run(main)
    assert result["verdict"] == "proceed" and result["approvals"][0]["rule"] == RULE


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("answer", ["approve", "decline", "approve-without-reason"])
def test_elicitation_asks_the_human_and_records_their_approval(dropping_project, mode, answer):
    from mcp import types

    project, url, _ = dropping_project
    asked = []

    async def elicitation(context, params):
        asked.append(params.message)
        if answer == "decline":
            return types.ElicitResult(action="decline")
        reason = "legacy column, checked with the team" if answer == "approve" else ""
        return types.ElicitResult(action="accept", content={"approve": True, "reason": reason})

    async def main():
        server = build_server(str(project), {"database_url": url})
        async with Client(server, mode=mode, elicitation_callback=elicitation) as client:
            answer_ = await client.call_tool("review_migration", {"revision": "c0000001"})
            assert not answer_.is_error, answer_.content[0].text
            return answer_.structured_content

    result = anyio.run(main)
    assert asked and RULE in asked[0] and "c0000001" in asked[0]
    if answer == "approve":
        assert result["verdict"] == "proceed" and result["approvals"][0]["via"] == "elicitation"
        assert result["approvals"][0]["reason"] == "legacy column, checked with the team"
        assert [a.via for a in read_approvals(project)] == ["elicitation"]
    else:
        assert result["verdict"] == "escalate" and result["approvals"] == []
        assert read_approvals(project) == []
