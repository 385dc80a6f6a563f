"""Smoke test with the official MCP Inspector in CLI mode against `alembic-mcp serve` (stdio).

`tools/list --strict` must pass (no error-severity schema portability problem) in both protocol eras,
and every tool the server lists gets one `tools/call` with minimal valid arguments from TOOL_CALLS:
exit code 0, not an error, a structuredContent verdict. A listed tool missing from TOOL_CALLS fails the
test, so a new tool cannot ship without a smoke call. Skipped with the reason when npx is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"  # pinned; --cli, --strict, --format json, --protocol-era
NPX = shutil.which("npx")
FIRST = "a1f0c0de0001"

# Minimal valid arguments per tool. Each call runs on a copy of the example project whose SQLite
# target is one revision behind head, so there is a pending revision to review and rehearse.
TOOL_CALLS: dict[str, dict] = {
    "check_heads": {},
    "merge_heads": {"dry_run": True},
    "review_migration": {},
    "test_roundtrip": {"seed_rows": 3},
    "generate_migration": {"message": "inspector smoke", "dry_run": True},
    "backup_db": {"label": "inspector-smoke"},
    "list_backups": {},
}

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(NPX is None, reason="npx (Node.js) is not installed; the Inspector runs through npx"),
]
HINTS = {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "residency"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A project copy with a SQLite target at the first revision, and the server command line."""
    root = tmp_path_factory.mktemp("inspector")
    project = root / "residency"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    url = f"sqlite:///{root / 'target.db'}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "alembic.ini", "upgrade", FIRST],
        cwd=project,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return [sys.executable, "-m", "alembic_mcp.server", "serve", "--project", str(project), "--database-url", url]


def inspector(server: list[str], *args: str) -> tuple[int, dict | None, str]:
    env = {**os.environ, "npm_config_update_notifier": "false", "NO_COLOR": "1"}
    done = subprocess.run(
        [NPX, "-y", INSPECTOR, "--cli", "--format", "json", *args, *server],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        payload = json.loads(done.stdout)
    except json.JSONDecodeError:
        payload = None
    return done.returncode, payload, done.stderr


@pytest.fixture(scope="module")
def tools_list(served):
    """`tools/list --strict` per protocol era, run once per era for the whole module."""
    runs: dict[str, tuple[int, dict | None, str]] = {}

    def run(era: str) -> tuple[int, dict | None, str]:
        if era not in runs:
            runs[era] = inspector(served, "--protocol-era", era, "--method", "tools/list", "--strict")
        return runs[era]

    return run


@pytest.fixture(scope="module")
def listed(tools_list) -> list[dict]:
    code, payload, stderr = tools_list("modern")
    assert code == 0, stderr
    return payload["result"]["tools"]


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_tools_list_strict(tools_list, era):
    code, payload, stderr = tools_list(era)
    assert code == 0, f"exit {code}: {stderr[-3000:]}"
    tools = payload["result"]["tools"]
    assert "check_heads" in {t["name"] for t in tools}
    for tool in tools:
        assert tool.get("description") and tool.get("title"), tool["name"]
        assert "verdict" in tool["outputSchema"]["properties"], tool["name"]
        assert set(tool["annotations"]) >= HINTS, tool["name"]


def test_every_listed_tool_has_a_smoke_call(listed):
    missing = sorted({t["name"] for t in listed} - set(TOOL_CALLS))
    assert not missing, f"add minimal valid arguments for {missing} to TOOL_CALLS in tests/test_inspector.py"


@pytest.mark.parametrize("name", sorted(TOOL_CALLS))
def test_tools_call(served, listed, name):
    if name not in {t["name"] for t in listed}:
        pytest.skip(f"{name} is not registered in this build")
    code, payload, stderr = inspector(
        served,
        "--protocol-era",
        "auto",
        "--method",
        "tools/call",
        "--tool-name",
        name,
        "--tool-args-json",
        json.dumps(TOOL_CALLS[name]),
    )
    # the Inspector drops arguments that fail the input schema and only says so on stderr
    assert "rejected arguments" not in stderr, stderr
    assert code == 0, f"exit {code}: {stderr[-3000:]}"
    result = payload["result"]
    assert result.get("isError") is not True, result["content"]
    structured = result["structuredContent"]
    assert structured["verdict"] in ("proceed", "fix", "escalate")
    assert structured["escalate_to_human"] == (structured["verdict"] == "escalate")
    assert structured["summary"]
    assert json.loads(result["content"][0]["text"]) == structured


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_prompts_and_resources_listed(served, era):
    code, payload, stderr = inspector(served, "--protocol-era", era, "--method", "prompts/list")
    assert code == 0, f"exit {code}: {stderr[-3000:]}"
    assert {p["name"] for p in payload["result"]["prompts"]} == {
        "db-migrate",
        "review-pending",
        "recover-failed-migration",
    }
    code, payload, stderr = inspector(served, "--protocol-era", era, "--method", "resources/list")
    assert code == 0, f"exit {code}: {stderr[-3000:]}"
    assert {r["uri"] for r in payload["result"]["resources"]} == {
        "alembic://history",
        "alembic://backups",
        "alembic://skill",
        "alembic://approvals",
    }


def test_resource_read_and_prompt_get(served):
    code, payload, stderr = inspector(
        served, "--protocol-era", "auto", "--method", "resources/read", "--uri", "alembic://history"
    )
    assert code == 0, f"exit {code}: {stderr[-3000:]}"
    history = json.loads(payload["result"]["contents"][0]["text"])
    assert [r["revision"] for r in history["revisions"]][-1] == FIRST
    assert history["database"]["status"] == "behind"
    # --prompt-args takes every following word, so `--` separates the server command
    code, payload, stderr = inspector(
        ["--", *served],
        "--protocol-era",
        "auto",
        "--method",
        "prompts/get",
        "--prompt-name",
        "db-migrate",
        "--prompt-args",
        "change=add middle_name to persons",
    )
    assert code == 0, f"exit {code}: {stderr[-3000:]}"
    text = payload["result"]["messages"][0]["content"]["text"]
    assert "add middle_name to persons" in text and "test_roundtrip()" in text
