"""Scratch databases dropped after the result (tools/db/scratch_later.py), on real servers: nothing is left
behind, the owner lock rules still hold in the window where the background drop takes the lock again,
a process that dies before its drop leaves an orphan the next sweep removes, and the CLI waits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import anyio
import pytest
from conftest import write_revision
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
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


def test_the_owner_lock_is_never_free_while_the_drop_is_handed_over(pg_url, monkeypatch):
    """A sweeper trying the lock the whole time never gets it: the thread queues for it before the call
    closes its owner connection, and PostgreSQL grants it straight to the waiter. While the thread holds
    it (its drop held back here), sweeps and orphan checks leave the database alone."""
    release = threading.Event()
    real_drop = scratch_later.drop_now

    async def held_back(made):
        await anyio.to_thread.run_sync(release.wait, WAIT_S)
        await real_drop(made)

    got_it, stop, names = [], threading.Event(), []

    def sweeper() -> None:
        engine = create_engine(make_url(pg_url).set(database="postgres"), poolclass=NullPool)
        with engine.connect() as conn:
            args = {"c": owners.ADVISORY_CLASS, "n": names[0]}
            while not stop.is_set():
                if conn.execute(text("SELECT pg_try_advisory_lock(:c, hashtext(:n))"), args).scalar():
                    got_it.append(True)
                    conn.execute(text("SELECT pg_advisory_unlock(:c, hashtext(:n))"), args)
        engine.dispose()

    trying = threading.Thread(target=sweeper)

    async def create_and_drop_later() -> scratch.ScratchDatabase:
        made = await scratch.create_scratch(pg_url)
        names.append(made.name)
        monkeypatch.setattr(scratch_later, "drop_now", held_back)
        trying.start()
        await anyio.sleep(0.2)  # the sweeper is trying before the hand-over begins
        await scratch_later.drop_later(made)
        return made

    try:
        made = anyio.run(create_and_drop_later)
        assert made.pending
        assert made.name not in anyio.run(scratch.orphaned, pg_url)
        assert made.name not in anyio.run(scratch.sweep_stale, pg_url)
    finally:
        stop.set()
        if trying.is_alive():
            trying.join()
        release.set()
    assert not got_it
    assert scratch_later.wait_for_drops(timeout_s=WAIT_S)
    assert made.dropped and made.name not in anyio.run(scratch.list_scratch, pg_url)
    assert roles_named(pg_url, made.role) == []


def test_a_scratch_whose_process_dies_before_its_background_drop_is_swept(pg_url):
    """The process ends (os._exit: no thread joined) while its background drop holds the lock (the drop
    itself held back): the lock dies with it, and the next sweep drops the database and its role."""
    code = textwrap.dedent(f"""
        import os, threading, anyio
        from alembic_mcp.tools.db import scratch, scratch_later

        holding = threading.Event()

        async def never(made):  # the thread holds the lock and does not drop
            holding.set()
            await anyio.sleep(3600)

        async def main():
            made = await scratch.create_scratch({pg_url!r})
            scratch_later.drop_now = never
            await scratch_later.drop_later(made)
            await anyio.to_thread.run_sync(holding.wait)
            print(made.name, made.role, flush=True)
            os._exit(0)

        anyio.run(main)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT_S)
    name, role = out.stdout.split()
    try:
        assert name in anyio.run(scratch.list_scratch, pg_url), out.stderr
        deadline = time.monotonic() + WAIT_S  # PostgreSQL ends the dead process's sessions on its own time
        while name not in anyio.run(scratch.orphaned, pg_url) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert name in anyio.run(scratch.sweep_stale, pg_url)
        assert name not in anyio.run(scratch.list_scratch, pg_url)
        assert roles_named(pg_url, role) == []
    finally:
        anyio.run(scratch.sweep_stale, pg_url)


def test_the_cli_exits_only_once_its_scratch_database_is_dropped(empty_project, pg_url):
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
    # "pending" unless the drop finished while the result was built (a quiet server): both are true reports
    assert data["scratch_database"]["dropped"] in ("pending", True)
    name = data["scratch_database"]["url"].rsplit("/", 1)[-1]
    assert name.startswith(scratch.PREFIX) and name not in known
    assert name not in anyio.run(scratch.list_scratch, pg_url)  # the server is shared: only ours is checked


def test_without_a_thread_the_drop_happens_in_the_call(pg_url, monkeypatch):
    """A process that cannot start one more thread drops before the result, as before (nothing pending)."""

    def refuse(self):
        raise RuntimeError("can't start new thread")

    async def create_and_drop_later() -> scratch.ScratchDatabase:
        made = await scratch.create_scratch(pg_url)
        monkeypatch.setattr(scratch_later.threading.Thread, "start", refuse)
        await scratch_later.drop_later(made)
        return made

    made = anyio.run(create_and_drop_later)
    assert made.dropped and not made.pending and scratch_later.pending_drops() == 0
    assert made.name not in anyio.run(scratch.list_scratch, pg_url)
    assert roles_named(pg_url, made.role) == []
