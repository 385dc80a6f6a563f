"""Parsed migration files kept in the serving process, keyed by path and checked by content.

A file is parsed once; the next call reuses the parse when the file's stat signature (mtime, ctime,
size, inode) is unchanged, or, when it changed (or was recently written, so an edit could share its
timestamp), when its SHA-256 is unchanged. Anything else parses it again: a changed file invalidates
exactly its own entry. Parses are shared, never copied: callers must not modify them (nothing does).
In-process only, bounded by count and by source size (least recently used first out).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from alembic_mcp.tools.history.migration_ast import MigrationSource, parse_source
from alembic_mcp.tools.worker.inputs import RACY_NS, signature, stat_signature
from alembic_mcp.tools.worker.revision_ids import revision_record

MAX_FILES = 5_000
MAX_SOURCE_BYTES = 4_000_000  # of source kept parsed; a parse takes about 50 times its source in memory

stats: Counter[str] = Counter()  # "parses" (files parsed), "reused"


@dataclass
class _Parsed:
    signature: list[int] | None
    digest: bytes
    trusted: bool  # the signature alone vouches for the content (not written within RACY_NS of reading)
    migration: MigrationSource
    record: dict[str, Any] | None  # revision_record(...) of the file; None: its ids are not literals


_files: OrderedDict[str, _Parsed] = OrderedDict()
_kept_bytes = 0  # source bytes of the kept parses
_lock = Lock()  # files are read in worker threads


def clear() -> None:
    """Forget every parse."""
    global _kept_bytes
    with _lock:
        _files.clear()
        _kept_bytes = 0


def parsed(path: str | Path) -> MigrationSource:
    """The parsed file at ``path``; raises like ``parse_file`` (OSError, UnicodeDecodeError, SyntaxError)."""
    return _entry(os.fspath(path)).migration


def parsed_with_record(
    path: str | Path, stat_result: os.stat_result | None = None
) -> tuple[MigrationSource, dict[str, Any] | None]:
    """The parsed file and its graph record (``revision_record``: None when its ids are not literals).
    ``stat_result``: the file's stat taken by the caller a moment ago (before any read), saving one."""
    entry = _entry(os.fspath(path), stat_result)
    return entry.migration, entry.record


def _entry(key: str, stat_result: os.stat_result | None = None) -> _Parsed:
    # before reading: an edit after this point shows as a changed signature next time
    sig = signature(key) if stat_result is None else stat_signature(stat_result)
    known = _files.get(key)
    if known is not None and known.trusted and sig is not None and known.signature == sig:
        return _reuse(key, known)
    path = Path(key)
    data = path.read_bytes()
    trusted = sig is not None and time.time_ns() - max(sig[0], sig[1]) >= RACY_NS
    digest = hashlib.sha256(data).digest()
    if known is not None and known.digest == digest:
        known.signature, known.trusted = sig, trusted
        return _reuse(key, known)
    text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text() reads it
    migration = parse_source(text, path)
    stats["parses"] += 1
    entry = _Parsed(sig, digest, trusted, migration, revision_record(migration.tree, path))
    _keep(key, entry)
    return entry


def _keep(key: str, entry: _Parsed) -> None:
    """Store ``entry``; the least recently used go while over the count or source-size bound."""
    global _kept_bytes
    with _lock:
        old = _files.pop(key, None)
        _kept_bytes -= len(old.migration.source) if old is not None else 0
        _files[key] = entry
        _kept_bytes += len(entry.migration.source)
        while len(_files) > 1 and (len(_files) > MAX_FILES or _kept_bytes > MAX_SOURCE_BYTES):
            _, dropped = _files.popitem(last=False)
            _kept_bytes -= len(dropped.migration.source)


def _reuse(key: str, entry: _Parsed) -> _Parsed:
    stats["reused"] += 1
    with _lock:
        if key in _files:
            _files.move_to_end(key)
    return entry
