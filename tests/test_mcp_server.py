"""The MCP surface in-process with mcp.Client in "auto" and "legacy" modes: tool metadata, results,
error results for bad input (the server keeps answering), progress, and elicitation on conflicts."""

from __future__ import annotations

import anyio
import pytest
from conftest import write_revision
from mcp import Client, types

from alembic_mcp.server.app import build_server

MODES = ["auto", "legacy"]


def call(server, tool, args, mode, **client_kwargs):
    async def go():
        async with Client(server, mode=mode, **client_kwargs) as client:
            return await client.call_tool(tool, args)

    return anyio.run(go)


def two_heads(project, same_table=False):
    for rev, table, col in (("c0000001", "persons", "a"), ("c0000002", "persons" if same_table else "rotations", "b")):
        write_revision(
            project,
            rev,
            "b2e1d1ce0002",
            f"op.add_column({table!r}, sa.Column({col!r}, sa.Integer))",
            f"op.drop_column({table!r}, {col!r})",
            message=col,
        )


@pytest.mark.parametrize("mode", MODES)
def test_tool_metadata(example_project, mode):
    async def go():
        async with Client(build_server(str(example_project)), mode=mode) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in anyio.run(go)}
    assert {"check_heads", "merge_heads"} <= set(tools)
    for tool in tools.values():
        assert tool.title and tool.description and len(tool.description) > 200
        ann = tool.annotations
        assert None not in (ann.read_only_hint, ann.destructive_hint, ann.idempotent_hint, ann.open_world_hint)
        assert tool.output_schema and "verdict" in tool.output_schema["properties"]
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
    assert tools["check_heads"].annotations.read_only_hint is True
    assert tools["merge_heads"].annotations.read_only_hint is False


@pytest.mark.parametrize("mode", MODES)
def test_check_heads_structured_and_progress(example_project, mode):
    seen = []

    async def go():
        async with Client(build_server(str(example_project)), mode=mode) as client:

            async def on_progress(progress, total, message):
                seen.append((progress, total, message))

            return await client.call_tool("check_heads", {}, progress_callback=on_progress)

    result = anyio.run(go)
    assert not result.is_error
    assert result.structured_content["verdict"] == "proceed"
    assert result.structured_content["heads"][0]["revision"] == "b2e1d1ce0002"
    assert len(seen) >= 3 and seen[-1][0] == seen[-1][1]


BAD_MERGE_ARGS = [
    ({"heads": 5}, "heads"),
    ({"heads": ["nope1", "nope2"]}, "Unknown revision"),
    ({"heads": ["c0000001"]}, "at least two"),
    ({"message": 123}, "message"),
    ({"message": ""}, "at least 1 character"),
    ({"message": "../../etc/passwd"}, "path separator"),
    ({"dry_run": "maybe"}, "dry_run"),
    ({"acknowledge_conflicts": [1]}, "acknowledge_conflicts"),
]


@pytest.mark.parametrize("mode", MODES)
def test_bad_merge_arguments_are_error_results_and_server_survives(example_project, mode):
    two_heads(example_project)
    server = build_server(str(example_project))
    before = sorted((example_project / "migrations" / "versions").glob("*.py"))

    async def go():
        out = []
        async with Client(server, mode=mode) as client:
            for args, expected in BAD_MERGE_ARGS:
                result = await client.call_tool("merge_heads", args)
                out.append((args, expected, result))
                follow_up = await client.call_tool("check_heads", {})
                assert not follow_up.is_error
        return out

    for args, expected, result in anyio.run(go):
        assert result.is_error, args
        assert expected in result.content[0].text, (args, result.content[0].text)
        assert "Traceback" not in result.content[0].text
    assert sorted((example_project / "migrations" / "versions").glob("*.py")) == before


@pytest.mark.parametrize("mode", MODES)
def test_missing_project_and_missing_config(tmp_path, mode):
    result = call(build_server(str(tmp_path / "nope")), "check_heads", {}, mode)
    assert result.is_error and "does not exist" in result.content[0].text
    (tmp_path / "empty").mkdir()
    result = call(build_server(str(tmp_path / "empty")), "check_heads", {}, mode)
    assert result.is_error and "No Alembic configuration" in result.content[0].text


@pytest.mark.parametrize("mode", MODES)
def test_unknown_config_key_is_named(example_project, mode):
    pyproject = example_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "protected_tabels = ['x']\n")
    result = call(build_server(str(example_project)), "check_heads", {}, mode)
    assert result.is_error and "protected_tabels" in result.content[0].text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", [True, False])
def test_conflicting_merge_asks_the_human(example_project, mode, answer):
    two_heads(example_project, same_table=True)
    asked = []

    async def elicitation(context, params):
        asked.append(params.message)
        if answer:
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    result = call(build_server(str(example_project)), "merge_heads", {}, mode, elicitation_callback=elicitation)
    assert asked and "persons" in asked[0]
    assert not result.is_error
    if answer:
        assert result.structured_content["verdict"] == "proceed"
        assert result.structured_content["conflicts_acknowledged"] == ["persons"]
    else:
        assert result.structured_content["verdict"] == "escalate"
        assert not result.structured_content["written"]


@pytest.mark.parametrize("mode", MODES)
def test_conflicting_merge_without_elicitation_escalates(example_project, mode):
    two_heads(example_project, same_table=True)
    result = call(build_server(str(example_project)), "merge_heads", {}, mode)
    assert result.structured_content["verdict"] == "escalate"
    assert result.structured_content["escalations"][0]["rule"] == "conflicting-heads"


def test_server_works_when_user_project_has_server_and_tools_packages(example_project):
    """The user's own top-level `server` and `tools` packages do not collide with ours."""
    for pkg in ("server", "tools"):
        (example_project / pkg).mkdir()
        (example_project / pkg / "__init__.py").write_text(f"NAME = 'user {pkg}'\n")
    env = example_project / "migrations" / "env.py"
    env.write_text(
        "import server\nimport tools\nassert server.NAME == 'user server'\n"
        "assert tools.NAME == 'user tools'\n" + env.read_text()
    )
    result = call(build_server(str(example_project)), "check_heads", {}, "auto")
    assert not result.is_error
    assert not [f for f in result.structured_content["findings"] if f["rule"] == "env-py-error"]
    assert result.structured_content["verdict"] == "proceed"
