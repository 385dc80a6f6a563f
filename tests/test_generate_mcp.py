"""generate_migration over MCP (in-process Client, both protocol modes): fresh modules per call, and
bad arguments answered with clear errors while the server keeps serving."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client
from test_generate_migration import HEAD, add_person_column, upgrade_target

from alembic_mcp.server.app import build_server

MODES = ["auto", "legacy"]


@pytest.mark.parametrize("mode", MODES)
def test_two_edits_in_one_server_process(example_project, sqlite_url, mode):
    upgrade_target(example_project, sqlite_url)

    async def main():
        async with Client(build_server(str(example_project), {"database_url": sqlite_url}), mode=mode) as client:
            add_person_column(example_project, "middle_name = Column(String(80), nullable=True)")
            first = await client.call_tool("generate_migration", {"message": "add middle_name"})
            assert not first.is_error, first.content[0].text
            one = first.structured_content
            assert [(o["op"], o["column"]) for o in one["operations"]] == [("add_column", "middle_name")]
            assert one["down_revision"] == [HEAD] and one["verdict"] == "proceed"
            # review_migration reviewed the written file: its AST rules and the target's row counts
            assert one["review_verdict"] == "proceed" and one["review_layers"] == ["ast", "database"]

            add_person_column(example_project, "nickname = Column(String(40), nullable=True)")
            second = await client.call_tool("generate_migration", {"message": "add nickname"})
            assert not second.is_error, second.content[0].text
            two = second.structured_content
            # The second call sees the second edit (fresh interpreter) and builds on the first revision.
            assert [(o["op"], o["column"]) for o in two["operations"]] == [("add_column", "nickname")]
            assert two["down_revision"] == [one["revision"]]

    anyio.run(main)


BAD = [
    ({"message": ""}, "at least 1 character"),
    ({"message": "add/column"}, "path separator"),
    ({"message": "..\\evil"}, "path separator"),
    ({"message": "x", "rev_id": HEAD}, "already exists"),
    ({"message": "x", "rev_id": "__init__"}, "reserved"),
    ({"message": "x", "rev_id": "bad-id!"}, "not a valid revision id"),
    ({"message": "x", "rev_id": "../../etc"}, "not a valid revision id"),
    ({"message": "x", "against": "production"}, "against"),
    ({"message": "x", "dry_run": "perhaps"}, "dry_run"),
    ({}, "message"),
]


@pytest.mark.parametrize("mode", MODES)
def test_bad_arguments_are_clear_errors_and_server_keeps_answering(example_project, sqlite_url, mode):
    before = sorted(p.name for p in (example_project / "migrations" / "versions").iterdir())

    async def main():
        async with Client(build_server(str(example_project), {"database_url": sqlite_url}), mode=mode) as client:
            for arguments, expected in BAD:
                result = await client.call_tool("generate_migration", arguments)
                assert result.is_error, arguments
                assert expected in result.content[0].text, (arguments, result.content[0].text)
                assert "Traceback" not in result.content[0].text
            ok = await client.call_tool(
                "generate_migration", {"message": "empty one", "autogenerate": False, "dry_run": True}
            )
            assert not ok.is_error, ok.content[0].text
            assert ok.structured_content["written"] is False
            assert ok.structured_content["down_revision"] == [HEAD]

    anyio.run(main)
    assert sorted(p.name for p in (example_project / "migrations" / "versions").iterdir()) == before


@pytest.mark.parametrize("mode", MODES)
def test_tool_is_listed_with_annotations(example_project, mode):
    async def main():
        async with Client(build_server(str(example_project)), mode=mode) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            tool = tools["generate_migration"]
            hints = tool.annotations
            assert (
                hints.read_only_hint,
                hints.destructive_hint,
                hints.idempotent_hint,
                hints.open_world_hint,
            ) == (False, False, False, False)
            assert set(tool.input_schema["properties"]) == {
                "message",
                "autogenerate",
                "rev_id",
                "dry_run",
                "against",
                "apply_fixes",
            }
            assert tool.input_schema["required"] == ["message"]
            assert "verdict" in tool.output_schema["properties"]  # tools/list types the verdict fields only
            reference = await client.read_resource("alembic://reference/generate_migration")
            assert '"files_to_commit"' in reference.contents[0].text  # the full result schema

    anyio.run(main)
