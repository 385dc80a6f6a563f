"""`alembic-mcp serve` over stdio as a real subprocess, driven by mcp's Client (both protocol eras).

The target is a SQLite database brought to the first revision with the alembic CLI, so check_heads
has something real to report: the database is behind by the second revision.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.subprocess

FIRST, SECOND = "a1f0c0de0001", "b2e1d1ce0002"


@pytest.fixture
def behind_target(example_project, tmp_path):
    url = f"sqlite:///{tmp_path / 'target.db'}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "alembic.ini", "upgrade", FIRST],
        cwd=example_project,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return example_project, url


def _params(project, url) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "alembic_mcp.server", "serve", "--project", str(project), "--database-url", url],
    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stdio_lists_tools_and_answers_check_heads(behind_target, mode):
    project, url = behind_target

    async def session():
        async with Client(_params(project, url), mode=mode) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            first = await client.call_tool("check_heads", {})
            bad = await client.call_tool("merge_heads", {"heads": ["no-such-head"]})
            again = await client.call_tool("check_heads", {})
            return tools, first, bad, again

    tools, first, bad, again = anyio.run(session)

    assert {"check_heads", "merge_heads"} <= set(tools)
    for tool in tools.values():
        assert tool.description and tool.title, tool.name
        assert tool.output_schema and "verdict" in tool.output_schema["properties"], tool.name
        hints = tool.annotations
        assert None not in (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ), tool.name
    assert tools["check_heads"].annotations.read_only_hint is True

    assert not first.is_error, first.content
    sc = first.structured_content
    assert sc["verdict"] == "proceed" and sc["escalate_to_human"] is False
    assert [h["revision"] for h in sc["heads"]] == [SECOND]
    assert sc["database"]["status"] == "behind"
    assert sc["database"]["current"] == [FIRST] and sc["database"]["pending"] == [SECOND]
    assert json.loads(first.content[0].text) == sc  # the text block carries the same verdict

    assert bad.is_error
    assert "no-such-head" in bad.content[0].text
    assert not again.is_error and again.structured_content == sc  # the server kept answering
