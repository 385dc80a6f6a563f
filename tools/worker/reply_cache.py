"""Server side: a worker's reply reused while nothing it read has changed (in-process, bounded).

The worker reports every file it opened and folder it listed, each with its stat signature
(``inputs.py``): the revision files, env.py, the models and whatever they import or read, alembic.ini,
Alembic and SQLAlchemy themselves, and the names in each folder the import system searched (a module
added to one shows). A reply is kept only when the caller says its result is worth keeping (e.g. a clean
import check), no input had changed within two seconds of being read (a later edit could share its
timestamp), and the list did not overflow. It is reused when the key matches (the settings the worker
gets, op, arguments, database URL, interpreter, the worker's whole environment) and every recorded
signature is unchanged (mtime, ctime, size and inode: ctime moves on every write and cannot be set
back). Anything else runs the worker again (a folder is compared by the names in it). What it cannot
see: stat-only checks (``os.path.exists``) with no open or listing, the clock, and the network; ops that
depend on those must not use this cache.
"""

from __future__ import annotations

import json
import os
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass, replace
from typing import Any

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.worker.inputs import listing, signature
from alembic_mcp.tools.worker.protocol import OpArgs, WorkerReply
from alembic_mcp.tools.worker.runner import (
    check_request,
    project_spec,
    run_worker_reply,
    worker_environment_key,
    worker_python,
)

MAX_ENTRIES = 16  # replies kept; the least recently used goes first

stats: Counter[str] = Counter()  # "hits", "runs" (worker started), "kept"
_enabled = False  # a serving process turns it on; a one-shot CLI call would only pay for the tracking


def enable(on: bool = True) -> None:
    """Keep and reuse replies in this process (the MCP server does; the one-shot CLI does not)."""
    global _enabled
    _enabled = on
    if not on:
        clear()


@dataclass
class _Entry:
    reply_json: str  # kept as JSON: every reuse hands out a fresh copy, cheaply
    files: dict[str, list[int] | None]  # by path: the signature when read
    dirs: dict[str, str | None]  # by path: the digest of the names listed


_entries: OrderedDict[tuple, _Entry] = OrderedDict()


def clear() -> None:
    """Forget every kept reply."""
    _entries.clear()


def _key(project: Project, op: str, args: OpArgs | dict[str, Any] | None, database_url: str | None) -> tuple:
    plain = asdict(args) if is_dataclass(args) and not isinstance(args, type) else args
    return (
        str(project.root),
        json.dumps(asdict(project_spec(project)), sort_keys=True),  # alembic.ini, section, URL variables
        op,
        json.dumps(plain, sort_keys=True, default=str),
        database_url,
        worker_python(project).path,
        worker_environment_key(project, database_url),
    )


def _unchanged(entry: _Entry) -> bool:
    return all(signature(path) == recorded for path, recorded in entry.files.items()) and all(
        listing(path) == recorded for path, recorded in entry.dirs.items()
    )


def _entry_to_keep(reply: WorkerReply, python: str) -> _Entry | None:
    """The reply with its inputs (plus the interpreter itself), or None when they cannot vouch for it."""
    seen = reply.inputs
    if not seen or seen.get("overflow") or seen.get("racy"):
        return None
    files = dict(seen.get("files", {}))
    files[os.path.realpath(python)] = signature(os.path.realpath(python))
    return _Entry(replace(reply, inputs=None).to_json(), files, dict(seen.get("dirs", {})))


async def cached_worker_reply(
    project: Project,
    op: str,
    args: OpArgs,
    *,
    database_url: str | None,
    keep: Callable[[WorkerReply], bool],
) -> WorkerReply:
    """``run_worker_reply``, or the kept reply of the same call when nothing it read has changed.

    ``keep(reply)`` says whether a fresh reply may be kept (a result with errors usually not: their cause
    may lie where no signature reaches, like a package not yet installed). A reused reply is a fresh copy.
    """
    if not _enabled:
        return await run_worker_reply(project, op, args, database_url=database_url)
    key = _key(project, op, args, database_url)
    entry = _entries.get(key)
    if entry is not None:
        await check_request(project, op, database_url)  # the same refusals as a real run
        if await anyio.to_thread.run_sync(_unchanged, entry):
            if key in _entries:  # a concurrent call may have replaced or dropped it meanwhile
                _entries.move_to_end(key)
            stats["hits"] += 1
            return WorkerReply.from_json(entry.reply_json)
        _entries.pop(key, None)
    stats["runs"] += 1
    reply = await run_worker_reply(project, op, args, database_url=database_url, track_inputs=True)
    kept = _entry_to_keep(reply, worker_python(project).path) if keep(reply) else None
    if kept is not None:
        _entries[key] = kept
        stats["kept"] += 1
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return reply
