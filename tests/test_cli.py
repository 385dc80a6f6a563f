"""The command line: readable tables, --json, exit codes 0 proceed / 1 fix / 2 escalate / 3 could not run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import write_revision

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
