"""Strict tool arguments over mcp.Client ("auto" and "legacy"): unknown names are refused by name with the
valid ones listed, nothing is coerced, empty and over-long strings are refused, and the published schema
says all of it."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from alembic_mcp.server.app import build_server
from alembic_mcp.server.arguments import MAX_REVISION_CHARS

MODES = ["auto", "legacy"]
MEGABYTE = "a" * 1_000_000

REFUSED = [
    (
        "review_migration",
        {"revison": "head"},
        ["'revison'", "apply_fixes, changed_since, detail, diff_only, include_sql, path, revision, split"],
    ),
    ("review_migration", {"apply_fixes": "yes"}, ["apply_fixes", "valid boolean"]),
    ("review_migration", {"diff_only": 1}, ["diff_only", "valid boolean"]),
    ("review_migration", {"diff_only": True}, ["diff_only", "apply_fixes=true"]),
    ("review_migration", {"split": "true"}, ["split", "valid boolean"]),
    ("review_migration", {"split": True}, ["split", "apply_fixes=true"]),
    ("generate_migration", {"message": "x", "apply_fixes": "true"}, ["apply_fixes", "valid boolean"]),
    ("generate_migration", {"message": "x", "apply_fixes": True, "dry_run": True}, ["apply_fixes", "dry_run"]),
    ("check_heads", {"verbose": True}, ["'verbose'", "none"]),
    ("merge_heads", {"dry_run": "yes"}, ["dry_run", "valid boolean"]),
    ("merge_heads", {"heads": '["c0000001", "c0000002"]'}, ["heads", "valid list"]),
    ("merge_heads", {"heads": ["c0000001", ""]}, ["heads.1", "at least 1 character"]),
    ("backup_db", {"label": ""}, ["label", "at least 1 character"]),
    ("test_roundtrip", {"seed_rows": "5"}, ["seed_rows", "valid integer"]),
    ("test_roundtrip", {"seed_rows": 5.0}, ["seed_rows", "valid integer"]),
    ("test_roundtrip", {"trace_locks": 1}, ["trace_locks", "valid boolean"]),
    ("generate_migration", {"message": "x", "autogenerate": "false"}, ["autogenerate", "valid boolean"]),
    ("review_migration", {"revision": MEGABYTE}, ["revision", f"at most {MAX_REVISION_CHARS} characters"]),
    ("review_migration", {"path": MEGABYTE}, ["path", "at most"]),
    ("backup_db", {"tables": ["t"] * 5000}, ["tables", "at most"]),
]


async def refusals(project, mode):
    out = []
    async with Client(build_server(str(project)), mode=mode) as client:
        for tool, args, needles in REFUSED:
            result = await client.call_tool(tool, args)
            out.append((tool, args, needles, result))
            assert not (await client.call_tool("check_heads", {})).is_error
    return out


@pytest.mark.parametrize("mode", MODES)
def test_bad_arguments_are_refused_before_any_work(example_project, mode):
    versions = sorted((example_project / "migrations" / "versions").iterdir())
    for tool, args, needles, result in anyio.run(refusals, example_project, mode):
        text = result.content[0].text
        assert result.is_error, (tool, list(args))
        for needle in needles:
            assert needle in text, (tool, list(args), text[:300])
        assert len(text) < 2000, "the refused value is not echoed back"
        assert "Traceback" not in text
    assert sorted((example_project / "migrations" / "versions").iterdir()) == versions


@pytest.mark.parametrize("mode", MODES)
def test_published_schemas_are_closed_and_bounded(example_project, mode):
    async def go():
        async with Client(build_server(str(example_project)), mode=mode) as client:
            return (await client.list_tools()).tools

    for tool in anyio.run(go):
        schema = tool.input_schema
        assert schema.get("additionalProperties") is False, tool.name
        for name, prop in schema.get("properties", {}).items():
            for branch in prop.get("anyOf", [prop]):
                if branch.get("type") == "string" and "enum" not in branch:
                    assert branch.get("maxLength"), f"{tool.name}.{name} has no length limit"
                    assert branch.get("minLength") == 1, f"{tool.name}.{name} accepts an empty string"
                if branch.get("type") == "array":
                    assert branch.get("maxItems") and branch["items"].get("maxLength"), f"{tool.name}.{name}"
