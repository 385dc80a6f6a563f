"""The progress callback type tools accept; the MCP layer passes the client's progress reporter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

Progress = Callable[[float, float | None, str], Awaitable[None]]
StatusNote = Callable[[str], Awaitable[None]]


async def _no_note(message: str) -> None:
    return None


# How code deep inside a call (a wait for a worker slot) tells the caller's client what it is doing,
# without threading a progress argument through every function on the way.
status_note: ContextVar[StatusNote] = ContextVar("status_note", default=_no_note)


async def no_progress(done: float, total: float | None, message: str) -> None:
    return None
