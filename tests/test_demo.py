"""`alembic-mcp demo` runs to the end on SQLite over stdio and every step gives its expected verdict."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.subprocess


def test_demo_runs_to_the_end_with_expected_verdicts(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "alembic_mcp.server", "demo"], capture_output=True, text=True, timeout=900, cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    summary = out.stdout[out.stdout.index("Summary:") :]
    rows = re.findall(r"^\s+(ok |BAD) (\w+)\s+(\w+)", summary, re.M)
    verdicts = [(tool, verdict) for _, tool, verdict in rows]
    assert verdicts == [
        ("check_heads", "proceed"),
        ("generate_migration", "proceed"),
        ("review_migration", "proceed"),
        ("test_roundtrip", "proceed"),
        ("backup_db", "proceed"),
        ("check_heads", "fix"),
        ("merge_heads", "proceed"),
        ("generate_migration", "escalate"),
    ]
    assert "drop-column-with-data" in out.stdout
    assert ".." in out.stdout  # progress lines on the long steps
