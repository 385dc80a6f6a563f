"""Hostile project files: FIFOs, links out of the project and a client that goes away.

A FIFO named x.py is skipped with a finding (it used to hang the server forever); a migration linked in
from outside the project is a finding and is never imported (no code run, no __pycache__ written out
there); a stdio server whose client closes stdin mid-call exits and leaves no worker behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from conftest import write_revision
from mcp import Client

from alembic_mcp.server.app import build_server
from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.generate.model_scan import scan_models_and_skips

MODES = ["auto", "legacy"]
NO_ORPHAN_AFTER_S = 10  # the bound the issue sets; the server normally exits within a second


def call(project: Path, tool: str, args: dict, mode: str, overrides: dict | None = None):
    async def go():
        async with Client(build_server(str(project), overrides), mode=mode) as client:
            result = await client.call_tool(tool, args)
            follow_up = await client.call_tool("list_backups", {})
            assert not follow_up.is_error  # the server still answers
            return result

    return anyio.run(go)


def rules(result) -> dict[str, dict]:
    return {f["rule"]: f for f in result.structured_content["findings"]}


def outside_module(tmp_path: Path) -> tuple[Path, Path]:
    """A migration file outside the project that leaves a marker if anything imports it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "imported-marker"
    (outside / "evil_rev.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nrevision = 'e1'\ndown_revision = 'b2e1d1ce0002'\n"
        "def upgrade():\n    pass\ndef downgrade():\n    pass\n"
    )
    return outside, marker


@pytest.mark.parametrize("mode", MODES)
def test_fifo_in_versions_is_a_finding_not_a_hang(example_project, mode):
    os.mkfifo(example_project / "migrations" / "versions" / "x.py")
    result = call(example_project, "check_heads", {}, mode)
    assert not result.is_error, result.content[0].text
    finding = rules(result)["special-file"]
    assert finding["file"] == "migrations/versions/x.py" and finding["severity"] == "error"
    assert result.structured_content["verdict"] == "fix"


def test_fifo_and_oversized_model_files_are_skipped_by_the_model_scan(example_project):
    os.mkfifo(example_project / "x.py")
    (example_project / "big.py").write_text("#" * 2_000_000)
    tables, skipped = scan_models_and_skips(example_project, [example_project / "migrations"])
    assert {t.table for t in tables} >= {"persons"}
    assert {(p.path.name, p.kind) for p in skipped} == {("x.py", "special-file"), ("big.py", "oversized-file")}


@pytest.mark.parametrize("mode", MODES)
def test_generate_with_a_fifo_named_x_py_answers_with_a_warning(example_project, sqlite_url, mode):
    os.mkfifo(example_project / "x.py")
    args = {"message": "nothing new", "dry_run": True}
    result = call(example_project, "generate_migration", args, mode, {"database_url": sqlite_url})
    assert not result.is_error, result.content[0].text
    assert rules(result)["special-file"]["file"] == "x.py"


@pytest.mark.parametrize("mode", MODES)
def test_migration_linked_from_outside_is_a_finding_and_never_imported(example_project, tmp_path, mode):
    outside, marker = outside_module(tmp_path)
    (example_project / "migrations" / "versions" / "e1_evil.py").symlink_to(outside / "evil_rev.py")
    result = call(example_project, "check_heads", {}, mode)
    assert rules(result)["outside-project"]["file"] == "migrations/versions/e1_evil.py"
    assert result.structured_content["verdict"] == "fix"
    refused = call(example_project, "review_migration", {"revision": "heads"}, mode)
    assert refused.is_error and "outside the project" in refused.content[0].text
    assert not marker.exists()
    assert not (outside / "__pycache__").exists()


def test_linked_folder_under_recursive_versions_is_refused_before_any_import(example_project, tmp_path):
    outside, marker = outside_module(tmp_path)
    ini = example_project / "alembic.ini"
    ini.write_text(ini.read_text().replace("[alembic]\n", "[alembic]\nrecursive_version_locations = true\n", 1))
    (example_project / "migrations" / "versions" / "more").symlink_to(outside, target_is_directory=True)
    assert load_project(example_project, {}).recursive_version_locations
    result = call(example_project, "check_heads", {}, "auto")
    assert rules(result)["outside-project"]["file"] == "migrations/versions/more"
    assert not marker.exists() and not (outside / "__pycache__").exists()


def test_model_file_linked_from_outside_is_not_read(example_project, tmp_path):
    outside = tmp_path / "elsewhere_models.py"
    outside.write_text("class Secret:\n    __tablename__ = 'secret_table'\n")
    (example_project / "linked_models.py").symlink_to(outside)
    tables, skipped = scan_models_and_skips(example_project, [example_project / "migrations"])
    assert "secret_table" not in {t.table for t in tables}
    assert [(p.path.name, p.kind) for p in skipped] == [("linked_models.py", "outside-project")]


# ------------------------------------------------------------------ the client goes away


def workers_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_client_going_away_mid_call_stops_server_and_workers(empty_project, tmp_path):
    marker = tmp_path / "upgrade-started"
    write_revision(
        empty_project, "r1", None, f"open({str(marker)!r}, 'w').close()\nimport time\ntime.sleep(600)", "pass"
    )
    target = f"sqlite:///{tmp_path / 'target.db'}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alembic_mcp.server",
            "serve",
            "--project",
            str(empty_project),
            "--database-url",
            target,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        for message in (
            {"id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}}},
            {"method": "notifications/initialized"},
            {"id": 2, "method": "tools/call", "params": {"name": "test_roundtrip", "arguments": {}}},
        ):
            if message.get("method") == "initialize":
                message["params"]["clientInfo"] = {"name": "eof-test", "version": "0"}
            server.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())
            server.stdin.flush()
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert time.monotonic() < deadline and server.poll() is None, "the rehearsal never started"
            time.sleep(0.1)
        workers = workers_of(server.pid)
        assert workers, "a worker runs the slow migration"
        server.stdin.close()  # the client goes away
        server.wait(timeout=NO_ORPHAN_AFTER_S)
        deadline = time.monotonic() + NO_ORPHAN_AFTER_S
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "orphaned workers"
    finally:
        for pid in [server.pid, *workers]:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        server.wait()
