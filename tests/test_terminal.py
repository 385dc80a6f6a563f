"""The CLI in a terminal: results fitted to fixed widths, values as words (no Python reprs, no None), a
progress line per step on stderr only when it is a terminal, and help text for every option."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys

import anyio
import pytest

from alembic_mcp.server.cli import build_parser
from alembic_mcp.server.render import render_result
from alembic_mcp.server.terminal import as_text, terminal_progress
from alembic_mcp.tools.core.progress import no_progress
from alembic_mcp.tools.core.verdict import Escalation, Finding, VerdictResult

LONG = "NOT NULL column persons.badge is added to existing table persons without a server_default; " * 3


class SampleResult(VerdictResult):
    seed: dict = {}
    revisions: list[dict] = []
    sql: str | None = None
    verified: bool = True
    duration_s: float = 1.25
    tables: list[str] = []


def sample() -> SampleResult:
    return SampleResult(
        summary="Reviewed 2 revisions: " + LONG,
        findings=[
            Finding(
                rule="add-column-required",
                severity="error",
                message=LONG,
                file="migrations/versions/c2000000_badge.py",
                line=16,
                fix="# the three-phase migration\nop.add_column('persons', sa.Column('badge', sa.String(20), "
                "nullable=True))",
            ),
            Finding(rule="drop-column", severity="warning", message="short"),
        ],
        escalations=[Escalation(rule="drop-table-with-data", reason=LONG, evidence={"table": "rotations", "rows": 3})],
        seed={"rows_per_table": 20, "tables": {"persons": 20, "rotations": 20}, "skipped": None},
        revisions=[{"revision": "c2000000", "message": LONG, "sql": None, "verdict": "fix", "ops": ["x"]}],
        tables=["persons", "rotations"],
        next_steps=["Apply the fix: " + LONG],
    )


@pytest.mark.parametrize("width", [40, 60, 80, 132])
def test_rendering_fits_the_width(width):
    text = render_result("review-migration", sample(), width=width)
    fix_code = "    op.add_column('persons', sa.Column('badge', sa.String(20), nullable=True))"
    too_long = [line for line in text.splitlines() if len(line) > width and line != fix_code]
    assert not too_long, too_long
    assert fix_code in text.splitlines(), "code in a fix is printed as written, never wrapped"
    assert "review-migration: ESCALATE" in text


def test_values_are_words_not_python_reprs():
    text = render_result("review-migration", sample(), width=100)
    fixes = text.index("Fixes:")  # the fix block holds code, printed as written
    prose = text[:fixes] + text[text.index("seed:") :]
    for repr_text in ("None", "{", "}", "[", "]", "True", "False", "'persons'"):
        assert repr_text not in prose, repr_text
    assert "rows_per_table: 20" in text and "tables: persons 20, rotations 20" in text
    assert "verified: yes" in text and "duration_s: 1.25" in text and "tables: persons, rotations" in text
    assert "Evidence for drop-table-with-data:\n  table: rotations\n  rows: 3" in text
    assert as_text(None) == as_text("") == as_text({}) == "-"
    assert as_text({"a": 1, "b": None, "c": [1, 2]}) == "a 1, c 1, 2"


def test_autofix_shows_each_fix_with_its_diff_as_lines():
    """Agent run 4: the autofix block was one folded line per fix, its diff inline."""

    class Fixed(VerdictResult):
        autofix: dict = {}

    diff = (
        "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,3 @@\n def upgrade():\n+    op.execute(\"SET LOCAL lock_timeout = '5s'\")"
    )
    report = {
        "written": True,
        "rehearsal": "the changed revisions rehearsed cleanly",
        "applied": [
            {
                "rule": "missing-lock-timeout",
                "file": "m.py",
                "line": 2,
                "message": "no lock_timeout",
                "diff": diff,
                "checked": "reviewed and rehearsed cleanly",
            }
        ],
        "undone": [],
        "not_applied": [
            {"rule": "add-column-required", "file": "m.py", "line": 3, "reason": "a human picks the value"}
        ],
        "files_to_commit": ["m.py"],
    }
    text = render_result("review-migration", Fixed(summary="s", autofix=report), width=100)
    assert "applied [missing-lock-timeout] m.py:2 (reviewed and rehearsed cleanly)" in text
    assert "    +    op.execute(\"SET LOCAL lock_timeout = '5s'\")" in text.splitlines()
    assert "    not applied [add-column-required] m.py:3: a human picks the value" in text.splitlines()
    assert "  files to commit: m.py" in text.splitlines()
    report["written"] = False
    assert "would apply [missing-lock-timeout]" in render_result("r", Fixed(summary="s", autofix=report), width=100)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_prints_a_line_per_step_on_a_terminal_only(monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")
    stream = FakeTerminal()
    report = terminal_progress(stream)

    async def steps():
        await report(0, 3, "Loading the migration history")
        await report(1, 3, "Loading the migration history")  # same message: printed once
        await report(2, 3, "Reviewing revision c2000000 against the target database with its row counts")
        await report(3, 3, "Done")

    anyio.run(steps)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[0/3] Loading the migration history"
    assert lines[1].startswith("[2/3] Reviewing revision c2000000")
    assert lines[-1] == "[3/3] Done" and all(len(line) <= 50 for line in lines)
    assert len(lines) == 4  # the long step wrapped onto two lines
    assert terminal_progress(io.StringIO()) is no_progress


def _options(parser: argparse.ArgumentParser, prefix: str = "alembic-mcp"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{prefix} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield prefix, action


def test_every_option_has_help_text():
    missing = [
        f"{where} {action.option_strings or action.dest}"
        for where, action in _options(build_parser())
        if not action.help
    ]
    assert not missing, missing


@pytest.mark.subprocess
def test_cli_progress_reaches_a_terminal_stderr(example_project):
    """The real CLI with stderr on a pseudo-terminal prints its steps there; stdout keeps only the result."""
    controller, terminal = os.openpty()
    done = subprocess.Popen(
        [sys.executable, "-m", "alembic_mcp.server", "check-heads", "--project", str(example_project)],
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    os.close(terminal)
    stdout, _ = done.communicate(timeout=120)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    progress = b"".join(chunks).decode()
    assert done.returncode == 0
    assert "[" in progress and "/" in progress and progress.strip(), progress
    assert "check-heads: PROCEED" in stdout and "[1/" not in stdout
