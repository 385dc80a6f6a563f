"""One lock per project for writing tools: in-process (anyio) and across processes (flock)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

_process_locks: dict[Path, anyio.Lock] = {}


@asynccontextmanager
async def project_lock(state_dir: Path) -> AsyncIterator[None]:
    """Serialise writers of one project; ``state_dir`` is the project's ``.alembic-mcp`` folder."""
    state_dir.mkdir(parents=True, exist_ok=True)
    key = state_dir.resolve()
    lock = _process_locks.setdefault(key, anyio.Lock())
    async with lock:
        fd = os.open(key / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            await anyio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
