"""A worker dies with its server: SIGKILL the server mid-rehearsal and no worker keeps running user code.

The worker asks the kernel for SIGKILL when its parent goes (PR_SET_PDEATHSIG) and watches its parent,
so it does not outlive the server until the next call sweeps its scratch database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
from conftest import write_revision
from test_scratch_owner import children_of, sleeping_scratch, start_rehearsal, wait_for

from alembic_mcp.tools.db import scratch

BOOTSTRAP = Path(__file__).resolve().parents[1] / "tools" / "worker" / "bootstrap.py"


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an unreaped corpse runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_die_with_a_sigkilled_server(empty_project, pg_url):
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
        assert workers, "the server runs its rehearsal in a worker process"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: not any(running(pid) for pid in workers), "the workers to die with their server")
        wait_for(lambda: name in anyio.run(scratch.orphaned, pg_url), "PostgreSQL to end the dead owner's session")
        anyio.run(scratch.sweep_stale, pg_url)
        assert name not in anyio.run(scratch.list_scratch, pg_url)
    finally:
        for pid in workers:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_worker_whose_parent_is_already_gone_exits_at_once(tmp_path):
    """Started with --parent naming a process that is not its parent, the worker kills itself first thing."""
    not_my_parent = os.getpid() + 1_000_000
    worker = subprocess.run(
        [sys.executable, str(BOOTSTRAP), "--parent", str(not_my_parent), "--pdeathsig"],
        input=b"{}",
        capture_output=True,
        timeout=60,
    )
    assert worker.returncode == -signal.SIGKILL


def test_a_worker_with_a_live_parent_runs(tmp_path):
    """The same start with the true parent gets past the check and reads its request (here: a bad one)."""
    worker = subprocess.run(
        [sys.executable, str(BOOTSTRAP), "--parent", str(os.getpid()), "--pdeathsig"],
        input=b"not json",
        capture_output=True,
        timeout=60,
    )
    assert worker.returncode != -signal.SIGKILL
