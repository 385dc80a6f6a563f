"""The CLI in a terminal: a progress line per step on stderr, the terminal's width, values as plain text.

Progress goes to stderr only when stderr is a terminal, so pipes, CI logs and ``--format`` output on
stdout stay clean. ``as_text`` turns any result value into words a human reads (no dict or list
reprs, no ``None``).
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import Any, TextIO

from alembic_mcp.tools.core.progress import Progress, no_progress, status_note

MIN_WIDTH = 40
EMPTY = "-"


def terminal_width() -> int:
    """Columns of the terminal (COLUMNS wins; 100 when not a terminal), never below MIN_WIDTH."""
    return max(shutil.get_terminal_size((100, 24)).columns, MIN_WIDTH)


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` wrapped to ``width``, its own line breaks kept, continuation lines indented."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(
            textwrap.wrap(
                paragraph,
                width,
                initial_indent=indent,
                subsequent_indent=indent + "  ",
                break_on_hyphens=False,
                break_long_words=True,
            )
            or [indent]
        )
    return lines


def as_text(value: Any) -> str:
    """A result value as words: lists joined with commas, mappings as ``key value`` pairs, no None."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {as_text(item)}" for key, item in value.items() if item not in (None, "", [], {}))
    if isinstance(value, list | tuple):
        return ", ".join(as_text(item) for item in value)
    return str(value)


def terminal_progress(stream: TextIO | None = None) -> Progress:
    """A progress reporter printing ``[step/total] message`` lines on ``stream`` (stderr) when it is a
    terminal; the no-op reporter otherwise. Waits deep inside a call (``status_note``) print too."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        return no_progress
    last: dict[str, Any] = {"message": None, "done": 0.0, "total": None}

    async def report(done: float, total: float | None, message: str) -> None:
        last.update(done=done, total=total)
        if message == last["message"]:
            return
        last["message"] = message
        step = f"[{done:g}/{total:g}] " if total else ""
        for line in wrap(f"{step}{message}", terminal_width(), indent=""):
            print(line, file=out, flush=True)

    async def note(message: str) -> None:
        await report(last["done"], last["total"], message)

    status_note.set(note)
    return report
