"""Fuzz every argument of every tool through mcp.Client: wrong types, empty, 1 MB, NUL, unicode, path
traversal and shell metacharacters. Every call must answer (a result or a clear error, never a crash
or a traceback) within a bound, and the server must answer check_heads after each tool's batch."""

from __future__ import annotations

import os

import anyio
import pytest
from mcp import Client

from alembic_mcp.server.app import build_server

CALL_BOUND_S = 60  # a hang guard, far above any call here; not a performance assertion
PWNED = "/tmp/alembic-mcp-fuzz-pwned"
HOSTILE_STRINGS = [
    "",
    "a" * 1_000_000,
    "a\x00b",
    "ünïcödé ☃ 🙂 \u202e\ufeff",
    "../../../../../etc/passwd",
    "..\\..\\windows\\system32",
    f"$(touch {PWNED}); `touch {PWNED}` | rm -rf / && echo $HOME > x; 'quote\"",
    "%s%n{0}{__class__}",
    "heads:base",
]
WRONG_TYPES = [123, -1, 1.5, True, [], {}, ["a", 1], {"a": "b"}, None]
# Arguments a tool needs to get past its own first checks; the fuzzed argument overrides one of them.
BASE = {
    "generate_migration": {"message": "fuzz", "dry_run": True, "autogenerate": False},
    "merge_heads": {"dry_run": True},
    "backup_db": {},
    "test_roundtrip": {"timeout_s": 30},
}
FORBIDDEN_IN_TEXT = ["Traceback", 'File "']


def hostile_values(schema: dict) -> list:
    """Every hostile value for one argument, lists of them for array arguments."""
    values = list(HOSTILE_STRINGS) + list(WRONG_TYPES)
    branches = schema.get("anyOf", [schema])
    if any(b.get("type") == "array" for b in branches):
        values += [[s] for s in HOSTILE_STRINGS] + [["x"] * 5000]
    if any(b.get("type") == "null" for b in branches):
        values.remove(None)  # null is this argument's default, not a hostile value
    return values


def check_answer(tool: str, arg: str, value, result) -> None:
    shown = repr(value)[:60]
    text = result.content[0].text if result.content else ""
    for forbidden in FORBIDDEN_IN_TEXT:
        assert forbidden not in text, (tool, arg, shown, text[:400])
    assert text.strip() != f"Error executing tool {tool}", f"{tool}.{arg}={shown} crashed the tool"
    assert len(text) < 200_000, (tool, arg, shown, "the answer echoes the hostile value")
    if not result.is_error:
        assert result.structured_content["verdict"] in ("proceed", "fix", "escalate"), (tool, arg, shown)


async def fuzz_tool(client: Client, tool, stats: dict) -> None:
    for arg, schema in tool.input_schema.get("properties", {}).items():
        for value in hostile_values(schema):
            args = {**BASE.get(tool.name, {}), arg: value}
            with anyio.fail_after(CALL_BOUND_S):
                result = await client.call_tool(tool.name, args)
            check_answer(tool.name, arg, value, result)
            stats["errors" if result.is_error else "answered"] += 1
    # unknown argument, and the whole batch once more as one call
    with anyio.fail_after(CALL_BOUND_S):
        unknown = await client.call_tool(tool.name, {**BASE.get(tool.name, {}), "rm -rf /": "x" * 1000})
    assert unknown.is_error and "rm -rf /" in unknown.content[0].text
    with anyio.fail_after(CALL_BOUND_S):
        alive = await client.call_tool("check_heads", {})
    assert not alive.is_error, f"the server stopped answering after fuzzing {tool.name}"


@pytest.mark.parametrize("mode", ["auto"])
def test_fuzz_every_tool_argument(example_project, sqlite_url, mode, tmp_path):
    stats = {"errors": 0, "answered": 0}

    async def go():
        async with Client(build_server(str(example_project), {"database_url": sqlite_url}), mode=mode) as client:
            for tool in (await client.list_tools()).tools:
                await fuzz_tool(client, tool, stats)

    versions = sorted((example_project / "migrations" / "versions").iterdir())
    anyio.run(go)
    assert stats["errors"] > 100 and stats["answered"] > 0, stats  # hostile yet valid values get verdicts
    assert sorted((example_project / "migrations" / "versions").iterdir()) == versions
    assert not (example_project / "x").exists()
    assert not os.path.exists(PWNED), "a shell metacharacter was executed"
