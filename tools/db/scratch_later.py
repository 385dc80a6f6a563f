"""Scratch databases dropped after the call has its result, in a thread of their own.

PostgreSQL's DROP DATABASE waits for an immediate checkpoint, which writes every dirty buffer of the
whole server (0.1 s on a quiet server, seconds on a busy one); nothing in a rehearsal's result depends
on it. ``drop_later`` hands the drop to a thread running its own event loop and marks the scratch
``pending``. The thread is not a daemon: the interpreter waits for it before exiting, and the CLI waits
for it explicitly after printing (``wait_for_drops``).

The owner lock (``scratch_owner``) is never free while this process lives. MariaDB/MySQL: the owner's
connection is synchronous, so the thread drops through it, holding the named lock, then releases it.
PostgreSQL: the owner's connection belongs to the call's event loop, so the thread opens its own and
asks for the same advisory lock; the call waits until PostgreSQL shows that request queued behind the
owner, then closes the owner's connection: the lock passes straight to the waiting thread (a waiter is
granted the lock as it is released, so a sweeper's ``pg_try_advisory_lock`` never finds it free). If
the request does not show within ``HANDOVER_S``, the owner's connection is closed anyway and the
database is an orphan for a moment, as after a crash: any sweep may drop it, and the thread's
``DROP ... IF EXISTS`` then finds nothing. If this process dies before the thread is done, the lock
dies with it and the next sweep on that server drops the database. SQLite: dropped at once (removing a
folder does not wait for anything).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio

from alembic_mcp.tools.db import scratch_owner as owners
from alembic_mcp.tools.db.dbinfo import pg_connect
from alembic_mcp.tools.db.scratch import ScratchDatabase, drop_now, drop_scratch

HANDOVER_S = 5.0  # how long the call waits to see the thread queued for the lock
_threads: set[threading.Thread] = set()
_guard = threading.Lock()


class _Handover:
    """What the thread tells the call: its backend's pid once connected (None: it could not connect)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.connected = threading.Event()


async def drop_later(scratch: ScratchDatabase) -> None:
    """Drop ``scratch`` now (SQLite, or nothing left to hold) or in a background thread (``scratch.pending``)."""
    if scratch.dropped:
        return
    if scratch.backend not in ("postgresql", "mysql") or scratch.owner is None:
        await drop_scratch(scratch)
        return
    with anyio.CancelScope(shield=True):
        handover = _Handover()
        owner = scratch.owner
        if scratch.backend == "postgresql":  # its connection cannot leave this event loop
            scratch.owner = None
        scratch.pending = True
        thread = threading.Thread(target=_drop_in_thread, args=(scratch, handover), name=f"drop {scratch.name}")
        with _guard:
            _threads.add(thread)
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: drop here, as before
            with _guard:
                _threads.discard(thread)
            scratch.owner, scratch.pending = owner, False
            await drop_now(scratch)
            return
        if scratch.backend == "postgresql":
            await _hand_over(owner, handover)


async def _hand_over(owner: owners.PgOwner, handover: _Handover) -> None:
    """Close the owner's connection once the thread waits for its lock (or after ``HANDOVER_S``)."""
    deadline = time.monotonic() + HANDOVER_S
    try:
        await anyio.to_thread.run_sync(handover.connected.wait, HANDOVER_S)
        while handover.pid is not None and time.monotonic() < deadline:
            if await owner.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted)",
                handover.pid,
            ):
                break
            await anyio.sleep(0.002)
    except Exception:  # the owner's connection broke: its lock is gone already
        pass
    try:
        await owner.release()
    except Exception:  # the connection is gone, and the lock with it
        pass


def _drop_in_thread(scratch: ScratchDatabase, handover: _Handover) -> None:
    try:
        anyio.run(_drop_owned, scratch, handover)
    except Exception:  # the owner lock is free (or soon): the next sweep on that server drops the database
        pass
    finally:
        handover.connected.set()
        scratch.pending = False
        with _guard:
            _threads.discard(threading.current_thread())


async def _drop_owned(scratch: ScratchDatabase, handover: _Handover) -> None:
    if scratch.owner is None:  # PostgreSQL: take the lock over from the call's connection, then drop
        scratch.owner = await _take_lock(scratch, handover)
    await drop_now(scratch)


async def _take_lock(scratch: ScratchDatabase, handover: _Handover) -> Any:
    conn = await pg_connect(scratch.url.set(database="postgres"))
    try:
        handover.pid = conn.get_server_pid()
        handover.connected.set()
        await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", owners.ADVISORY_CLASS, scratch.name)
    except BaseException:
        await conn.close()
        raise
    return owners.PgOwner(conn, scratch.name)


def pending_drops() -> int:
    """How many background drops are still running."""
    with _guard:
        return len(_threads)


def wait_for_drops(timeout_s: float | None = None) -> bool:
    """Wait for every background drop started so far; False when ``timeout_s`` passed first."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with _guard:
        threads = list(_threads)
    for thread in threads:
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)
