"""Scratch databases dropped after the result (tools/db/scratch_later.py), on real servers: nothing is left
behind, the owner lock rules still hold in the window where the background drop takes the lock again,
a process that dies before its drop leaves an orphan the next sweep removes, and the CLI waits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import anyio
import pytest
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.db import scratch, scratch_later
from alembic_mcp.tools.db import scratch_owner as owners

WAIT_S = 120  # an upper bound, never a measured time


def roles_named(server_url: str, role: str | None) -> list[str]:
    if role is None:
        return []
    engine = create_engine(server_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if server_url.startswith("postgresql"):
                rows = conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = :r"), {"r": role}).all()
            else:
                rows = conn.execute(text("SELECT user FROM mysql.user WHERE user = :r"), {"r": role}).all()
    finally:
        engine.dispose()
    return [r[0] for r in rows]


@pytest.mark.parametrize("fixture", ["pg_url", "mariadb_url"])
def test_a_background_drop_leaves_nothing(fixture, request):
    url = request.getfixturevalue(fixture)

    async def create_and_drop_later() -> scratch.ScratchDatabase:
        made = await scratch.create_scratch(url)
        await scratch_later.drop_later(made)
        return made

    made = anyio.run(create_and_drop_later)
    assert made.pending and not made.dropped  # reported as pending, not as dropped
    assert scratch_later.wait_for_drops(timeout_s=WAIT_S)
    assert made.dropped and not made.pending
    assert made.name not in anyio.run(scratch.list_scratch, url)
    assert made.name not in scratch.live_in_this_process()
    assert roles_named(url, made.role) == []
    assert made.name not in anyio.run(scratch.orphaned, url)


def test_sqlite_is_dropped_at_once(sqlite_url):
    async def create_and_drop_later() -> scratch.ScratchDatabase:
        made = await scratch.create_scratch(sqlite_url)
        await scratch_later.drop_later(made)
        return made

    made = anyio.run(create_and_drop_later)
    assert made.dropped and not made.pending
    assert made.name not in anyio.run(scratch.list_scratch, sqlite_url)


def test_a_sweep_in_the_window_drops_it_and_the_background_drop_still_ends_clean(pg_url, monkeypatch):
    """Between the call closing its owner connection and the thread taking the lock again, the database
    is an orphan: a sweep (here forced into that window) drops it; the thread then finds nothing."""
    swept: list[list[str]] = []
    real_hold = owners.hold_pg

    async def sweep_first(maintenance_url, name):
        swept.append(await scratch.sweep_stale(pg_url))
        return await real_hold(maintenance_url, name)

    async def create_and_drop_later() -> scratch.ScratchDatabase:
        made = await scratch.create_scratch(pg_url)
        monkeypatch.setattr(scratch_later.owners, "hold_pg", sweep_first)  # the thread's, not the creation's
        await scratch_later.drop_later(made)
        return made

    made = anyio.run(create_and_drop_later)
    assert scratch_later.wait_for_drops(timeout_s=WAIT_S)
    assert swept and made.name in swept[0]
    assert made.dropped
    assert made.name not in anyio.run(scratch.list_scratch, pg_url)
    assert roles_named(pg_url, made.role) == []


def test_a_scratch_whose_process_dies_before_its_background_drop_is_swept(pg_url):
    """The process ends (os._exit: no thread joined) while its drop waits for the lock a sweeper holds:
    the lock is free afterwards, and the next sweep drops the database and its role."""
    code = textwrap.dedent(f"""
        import os, threading, anyio
        from alembic_mcp.tools.db import scratch, scratch_later, scratch_owner

        blocked = threading.Event()
        real_hold = scratch_owner.hold_pg

        async def hold_after_the_blocker(url, name):  # the thread asks for the lock once the blocker has it
            await anyio.to_thread.run_sync(blocked.wait)
            return await real_hold(url, name)

        async def main():
            made = await scratch.create_scratch({pg_url!r})
            scratch_later.owners.hold_pg = hold_after_the_blocker  # the thread's, not the creation's
            blocker = await scratch_owner.pg_connect(made.url.set(database="postgres"))  # where the lock lives
            await scratch_later.drop_later(made)  # closes the owner; the thread waits for the lock below
            await blocker.execute(
                "SELECT pg_advisory_lock($1, hashtext($2))", scratch_owner.ADVISORY_CLASS, made.name
            )
            blocked.set()
            await anyio.sleep(0.5)  # the thread is waiting on the lock (or about to): the process dies now
            print(made.name, made.role, flush=True)
            os._exit(0)

        anyio.run(main)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT_S)
    name, role = out.stdout.split()
    try:
        assert name in anyio.run(scratch.list_scratch, pg_url), out.stderr
        assert name in anyio.run(scratch.sweep_stale, pg_url)
        assert name not in anyio.run(scratch.list_scratch, pg_url)
        assert roles_named(pg_url, role) == []
    finally:
        anyio.run(scratch.sweep_stale, pg_url)


def test_the_cli_reports_pending_and_exits_only_once_dropped(empty_project, pg_url):
    write_revision(
        empty_project,
        "r1",
        None,
        "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))",
        "op.drop_table('t')",
    )
    known = set(anyio.run(scratch.list_scratch, pg_url))
    command = [sys.executable, "-m", "alembic_mcp.server.cli", "test-roundtrip", "--project", str(empty_project)]
    command += ["--database-url", pg_url, "--seed-rows", "2", "--json"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_S)
    data = json.loads(out.stdout)  # the example's models hold more than r1: a drift verdict, beside the point
    assert data["steps_run"] == 1, out.stderr + out.stdout
    assert data["scratch_database"]["dropped"] == "pending"
    name = data["scratch_database"]["url"].rsplit("/", 1)[-1]
    assert name.startswith(scratch.PREFIX) and name not in known
    assert name not in anyio.run(scratch.list_scratch, pg_url)  # the server is shared: only ours is checked
