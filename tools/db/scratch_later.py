"""Scratch databases dropped after the call has its result, in a thread of their own.

PostgreSQL's DROP DATABASE waits for an immediate checkpoint, which writes every dirty buffer of the
whole server (0.1 s on a quiet server, seconds on a busy one); nothing in a rehearsal's result depends
on it. ``drop_later`` hands the drop to a thread running its own event loop and marks the scratch
``pending``. The thread is not a daemon: the interpreter waits for it before exiting, and the CLI waits
for it explicitly after printing (``wait_for_drops``).

Ownership stays as ``scratch_owner`` describes. MariaDB/MySQL: the owner's connection is synchronous, so
the thread drops through it, holding the named lock, then releases it. PostgreSQL: the owner's
connection belongs to the call's event loop, so the call closes it and the thread takes the same
advisory lock on a connection of its own before dropping (waiting while a sweeper holds it). In
between, the lock is free: the database is an orphan that any sweep may drop, exactly as if this
process had died, and the thread's ``DROP ... IF EXISTS`` then finds nothing. A thread that fails
leaves the lock free as well, so the next sweep on that server drops the database. SQLite: dropped at
once (removing a folder does not wait for anything).
"""

from __future__ import annotations

import threading
import time

import anyio

from alembic_mcp.tools.db import scratch_owner as owners
from alembic_mcp.tools.db.scratch import ScratchDatabase, drop_now, drop_scratch

_threads: set[threading.Thread] = set()
_guard = threading.Lock()


async def drop_later(scratch: ScratchDatabase) -> None:
    """Drop ``scratch`` now (SQLite, or nothing left to hold) or in a background thread (``scratch.pending``)."""
    if scratch.dropped:
        return
    if scratch.backend not in ("postgresql", "mysql") or scratch.owner is None:
        await drop_scratch(scratch)
        return
    with anyio.CancelScope(shield=True):
        if scratch.backend == "postgresql":  # its connection cannot leave this event loop
            owner, scratch.owner = scratch.owner, None
            try:
                await owner.release()
            except Exception:  # the connection is gone, and the lock with it
                pass
        scratch.pending = True
        thread = threading.Thread(target=_drop_in_thread, args=(scratch,), name=f"drop {scratch.name}")
        with _guard:
            _threads.add(thread)
        thread.start()


def _drop_in_thread(scratch: ScratchDatabase) -> None:
    try:
        anyio.run(_drop_owned, scratch)
    except Exception:  # the owner lock is free: the next sweep on that server drops the database
        pass
    finally:
        scratch.pending = False
        with _guard:
            _threads.discard(threading.current_thread())


async def _drop_owned(scratch: ScratchDatabase) -> None:
    if scratch.owner is None:  # PostgreSQL: own the database again before dropping it
        scratch.owner = await owners.hold_pg(scratch.url.set(database="postgres"), scratch.name)
    await drop_now(scratch)


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
