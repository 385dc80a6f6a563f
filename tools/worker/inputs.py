"""Inside the worker: every file an op read and every folder it listed, with their stat signatures.

The server keeps a worker's result only as long as these inputs are unchanged (``reply_cache.py``). An
audit hook (``sys.addaudithook``) sees each ``open`` (the import system opens every module's source
through it, so env.py, the models and any file they read are seen) and each ``os.listdir`` /
``os.scandir`` (the import system lists each folder on ``sys.path``: a folder is recorded by the names
in it, so a module added there shows, while the ``__pycache__`` the run itself creates does not).
Modules imported before recording began (Alembic and SQLAlchemy, imported while a pre-started worker
waits) count too. A file is stat'ed when it is opened, before it is read, so a later edit always shows.
Standard library only: this module runs in the project's interpreter.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from typing import Any

RACY_NS = 2_000_000_000  # a file changed this recently may change again within one timestamp tick
MAX_INPUTS = 50_000  # beyond this the op's inputs are not tracked (and its result is never reused)
_LISTING_EVENTS = ("os.listdir", "os.scandir")

_recording: dict[str, Any] | None = None
_hook_installed = False
_inside = False  # the hook's own listings raise audit events too


def signature(path: str) -> list[int] | None:
    """(mtime_ns, ctime_ns, size, inode) of ``path``; None when it does not exist. ctime changes on
    every write or rename and cannot be set back, so an edit that keeps the mtime still shows."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return stat_signature(st)


def stat_signature(st: os.stat_result) -> list[int]:
    """``signature`` of a stat already taken."""
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def listing(path: str) -> str | None:
    """A digest of the names in folder ``path`` (``__pycache__`` left out); None when it cannot be listed."""
    try:
        names = sorted(name for name in os.listdir(path) if name != "__pycache__")
    except (OSError, ValueError):
        return None
    return hashlib.sha1("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def _note(kind: str, path: Any) -> None:
    recording = _recording
    if recording is None or isinstance(path, int) or path is None:
        return
    try:
        path = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    table = recording[kind]
    if path in table or "__pycache__" in path:  # byte code is checked against its source, which is recorded
        return
    if len(table) >= MAX_INPUTS:
        recording["overflow"] = True
        return
    if kind == "dirs":
        table[path] = listing(path)  # raises os.listdir's own audit event: _hook ignores it (re-entered)
        return
    sig = signature(path)
    table[path] = sig
    if sig is not None and time.time_ns() - max(sig[0], sig[1]) < RACY_NS:
        recording["racy"].append(path)


def _hook(event: str, args: tuple) -> None:
    global _inside
    if _recording is None or _inside or not args:
        return
    if event != "open" and event not in _LISTING_EVENTS:
        return
    _inside = True
    try:
        if event == "open":
            _note("files", args[0])
        else:
            _note("dirs", args[0] if args[0] is not None else ".")
    finally:
        _inside = False


def start() -> None:
    """Begin recording (the modules already imported count as read now)."""
    global _recording, _hook_installed
    _recording = {"files": {}, "dirs": {}, "racy": [], "overflow": False}
    if not _hook_installed:
        sys.addaudithook(_hook)  # hooks cannot be removed: the hook does nothing while not recording
        _hook_installed = True
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str):
            _note("files", filename)


def stop() -> dict[str, Any]:
    """Stop recording; what was read: ``files`` and ``dirs`` by path (None: did not exist), the
    ``racy`` paths changed within the last two seconds, and whether the list ``overflow``-ed."""
    global _recording
    recorded, _recording = _recording, None
    return recorded or {"files": {}, "dirs": {}, "racy": [], "overflow": True}
