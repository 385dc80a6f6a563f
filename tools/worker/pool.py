"""The bound on worker interpreters running at once (``max_workers``); calls beyond it wait their turn.

One limiter per event loop (a server has one; tests run several loops in turn). A waiting call tells
its client "waiting for a worker" through ``core.progress.status_note``. The bound covers running
workers; the one warm spare (``prestart``) comes on top of it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from alembic_mcp.tools.core.progress import status_note

_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def limiter(max_workers: int) -> anyio.CapacityLimiter:
    """This loop's limiter, its bound set to ``max_workers`` (the latest project settings win)."""
    loop = asyncio.get_running_loop()
    current = _limiters.get(loop)
    if current is None:
        current = _limiters[loop] = anyio.CapacityLimiter(max_workers)
    elif current.total_tokens != max_workers:
        current.total_tokens = max_workers
    return current


@asynccontextmanager
async def worker_slot(max_workers: int) -> AsyncIterator[None]:
    """Hold one of ``max_workers`` slots while a worker runs; wait (and say so) when all are taken."""
    slots = limiter(max_workers)
    borrower = object()  # one token per call, whichever task makes it
    if slots.available_tokens < 1:
        await status_note.get()(f"waiting for a worker ({slots.borrowed_tokens} of max_workers={max_workers} busy)")
    await slots.acquire_on_behalf_of(borrower)
    try:
        yield
    finally:
        slots.release_on_behalf_of(borrower)
