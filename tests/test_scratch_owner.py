"""A server killed with SIGKILL mid-rehearsal leaves no scratch database behind: its owner lock dies with
it, and the next call of any server drops the orphan at once (not after hours)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.db import scratch, scratch_later
from alembic_mcp.tools.roundtrip.tool import test_roundtrip as run_roundtrip

WAIT_S = 90  # an upper bound for conditions that normally hold within a second, never a measured time


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def send(proc: subprocess.Popen, message: dict) -> None:
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()


def start_rehearsal(project: Path, url: str) -> subprocess.Popen:
    """`alembic-mcp serve` over stdio, with a test_roundtrip call sent and left running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "alembic_mcp.server", "serve", "--project", str(project), "--database-url", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    client = {"name": "kill-test", "version": "0"}
    init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}
    send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
    assert json.loads(proc.stdout.readline())["id"] == 1
    send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    arguments = {"from_revision": "r1", "timeout_s": 600}
    send(
        proc,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "test_roundtrip", "arguments": arguments},
        },
    )
    return proc


def sleeping_scratch(server_url: str, known: set[str]) -> str | None:
    """The new scratch database in which the slow migration is running right now, if any."""
    engine = create_engine(server_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT datname FROM pg_stat_activity "
                    "WHERE query LIKE 'SELECT pg_sleep(600)%' AND datname LIKE 'amcp_scratch_%'"
                )
            ).all()
    finally:
        engine.dispose()
    names = {r[0] for r in rows} - known
    return next(iter(names), None)


def test_sigkill_mid_rehearsal_leaves_no_scratch_database(empty_project, pg_url):
    write_revision(
        empty_project,
        "r1",
        None,
        "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))",
        "op.drop_table('t')",
    )
    write_revision(empty_project, "r2", "r1", 'op.execute("SELECT pg_sleep(600)")', "pass", message="slow")
    known = set(anyio.run(scratch.list_scratch, pg_url))
    proc = start_rehearsal(empty_project, pg_url)
    workers: list[int] = []
    try:
        name = wait_for(lambda: sleeping_scratch(pg_url, known), "the rehearsal to reach the slow migration")
        workers = children_of(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=WAIT_S)
        wait_for(lambda: name in anyio.run(scratch.orphaned, pg_url), "PostgreSQL to end the dead owner's session")

        project = load_project(empty_project, {"database_url": pg_url})
        later = anyio.run(lambda: run_roundtrip(project, revision="r1", from_revision="base", timeout_s=120))
        assert later.verdict == "proceed", later
        left = set(anyio.run(scratch.list_scratch, pg_url))
        assert name not in left
        assert not anyio.run(scratch.orphaned, pg_url)
        assert scratch_later.wait_for_drops(timeout_s=WAIT_S)  # this call's own scratch, dropped after its result
        assert not scratch.live_in_this_process()
    finally:
        for pid in [proc.pid, *workers]:
            try:
                os.killpg(pid, signal.SIGKILL) if pid != proc.pid else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait()
