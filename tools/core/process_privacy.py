"""Keeping the server's own environment away from the user code it starts (standard library only, so
the CLI can call it before its heavy imports)."""

from __future__ import annotations

import sys

PR_SET_DUMPABLE = 4


def hide_own_environment() -> bool:
    """Make this process non-dumpable (Linux): user code in a worker, running as the same OS user, can
    then no longer read ``/proc/<server pid>/environ`` (where ``DATABASE_URL`` was exported) or ptrace
    the server. Returns whether it took effect. Workers are unaffected: exec makes them dumpable again."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
