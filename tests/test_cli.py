"""The command line: readable tables, --json, exit codes 0 proceed / 1 fix / 2 escalate / 3 could not run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import write_revision

from alembic_mcp import __version__

pytestmark = pytest.mark.subprocess


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "alembic_mcp.server", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_check_heads_table_and_json(example_project):
    out = cli("check-heads", "--project", str(example_project))
    assert out.returncode == 0, out.stderr
    assert "check-heads: PROCEED" in out.stdout and "b2e1d1ce0002" in out.stdout
    out = cli("check-heads", "--project", str(example_project), "--json")
    data = json.loads(out.stdout)
    assert data["verdict"] == "proceed" and out.returncode == 0


def test_exit_codes_fix_and_escalate(example_project):
    write_revision(
        example_project, "c1", "b2e1d1ce0002", "op.add_column('persons', sa.Column('a', sa.Integer))", message="a"
    )
    write_revision(
        example_project, "c2", "b2e1d1ce0002", "op.add_column('rotations', sa.Column('b', sa.Integer))", message="b"
    )
    assert cli("check-heads", "--project", str(example_project)).returncode == 1
    write_revision(
        example_project, "c3", "b2e1d1ce0002", "op.add_column('persons', sa.Column('c', sa.Integer))", message="c"
    )
    out = cli("check-heads", "--project", str(example_project))
    assert out.returncode == 2 and "conflicting-heads" in out.stdout
    out = cli("merge-heads", "--project", str(example_project), "--dry-run", "--json")
    assert out.returncode == 2 and json.loads(out.stdout)["escalations"][0]["rule"] == "conflicting-heads"
    out = cli("merge-heads", "--project", str(example_project), "--acknowledge-conflicts", "-m", "join all")
    assert out.returncode == 0, out.stdout + out.stderr
    assert cli("check-heads", "--project", str(example_project)).returncode == 0


def test_could_not_run_is_exit_3_with_masked_password(tmp_path, example_project):
    out = cli("check-heads", "--project", str(tmp_path / "missing"))
    assert out.returncode == 3 and "does not exist" in out.stderr
    out = cli("check-heads", "--project", str(example_project), "--database-url", "notaurl")
    assert out.returncode == 3 and "Could not parse database URL" in out.stderr
    out = cli(
        "merge-heads",
        "--project",
        str(example_project),
        "-m",
        "a/b",
        "--json",
        "--database-url",
        "postgresql://u:pw123456@127.0.0.1:1/x",
    )
    assert out.returncode == 3 and "path separator" in json.loads(out.stdout)["error"]
    assert "pw123456" not in out.stdout + out.stderr


def test_usage_errors_exit_3_with_one_line(example_project):
    for args in (["check-heads", "--bogus"], [], ["no-such-command"], ["test-roundtrip", "--seed-rows", "many"]):
        out = cli(*args, "--project", str(example_project)) if args[:1] == ["check-heads"] else cli(*args)
        assert out.returncode == 3, (args, out.returncode, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "error:" in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


# A fault inside a tool, injected: an ExceptionGroup as a task group raises it, around the real cause.
CRASHING_CLI = """
import sys
import alembic_mcp.tools.heads.check as check

async def broken(project, progress=None):
    raise ExceptionGroup("unhandled errors in a TaskGroup", [RuntimeError("boom: the worker went away")])

check.check_heads = broken
from alembic_mcp.server.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_crash_exits_3_with_one_line_and_no_traceback(example_project):
    out = subprocess.run(
        [sys.executable, "-c", CRASHING_CLI, "check-heads", "--project", str(example_project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 3, (out.returncode, out.stdout, out.stderr)
    assert out.stderr.startswith("alembic-mcp: could not run: RuntimeError: boom: the worker went away"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_missing_worker_interpreter_is_one_clear_line(example_project):
    env = {**os.environ, "ALEMBIC_MCP_WORKER_PYTHON": str(example_project / "no-such-python")}
    out = subprocess.run(
        [sys.executable, "-m", "alembic_mcp.server", "check-heads", "--project", str(example_project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 3, (out.returncode, out.stdout, out.stderr)
    assert "no-such-python" in out.stderr and "worker_python" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_help_lists_exit_codes_and_version_prints():
    for args in (["--help"], ["check-heads", "--help"]):
        out = cli(*args)
        assert out.returncode == 0
        flat = " ".join(out.stdout.split())
        assert "0 proceed" in flat and "2 escalate" in flat and "3 could not run" in flat, args
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"alembic-mcp {__version__}"
