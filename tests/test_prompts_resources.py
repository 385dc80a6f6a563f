"""The lean tool list, the prompts and the read-only resources, in-process with mcp.Client in "auto" and
"legacy" modes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from alembic_mcp.server.app import build_server
from alembic_mcp.server.schemas import VERDICT_FIELDS, tools_list_size
from alembic_mcp.tools.core.policy import ESCALATION_RULES

MODES = ["auto", "legacy"]
MAX_TOOLS_LIST_BYTES = 16_000
WORKFLOW_TOOLS = ["check_heads", "generate_migration", "review_migration", "test_roundtrip", "backup_db"]
FIRST, SECOND = "a1f0c0de0001", "b2e1d1ce0002"


def session(project, mode, fn, **overrides):
    async def go():
        async with Client(build_server(str(project), overrides), mode=mode) as client:
            return await fn(client)

    return anyio.run(go)


async def refused(request) -> str:
    """The error message of a request the server must refuse (an MCP error response, not a crash)."""
    try:
        await request
    except MCPError as exc:
        return exc.message
    raise AssertionError("the server answered a request it should refuse")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("mode", MODES)
def test_tools_list_fits_the_budget_and_keeps_the_verdict_typed(example_project, mode):
    async def listed(client):
        return (await client.list_tools()).tools

    tools = session(example_project, mode, listed)
    size = tools_list_size(tools)
    print(f"tools/list: {len(tools)} tools, {size} bytes of compact JSON")
    assert size <= MAX_TOOLS_LIST_BYTES, f"tools/list is {size} bytes; the budget is {MAX_TOOLS_LIST_BYTES}"
    for tool in tools:
        props = tool.output_schema["properties"]
        assert set(props) == set(VERDICT_FIELDS), tool.name
        assert props["verdict"]["enum"] == ["proceed", "fix", "escalate"]
        finding = props["findings"]["items"]
        assert finding["properties"]["severity"]["enum"] == ["info", "warning", "error"]
        assert {"rule", "severity", "message"} <= set(finding["required"])
        assert props["escalations"]["items"]["required"] == ["rule", "reason"]
        assert "via" in props["approvals"]["items"]["properties"]
        assert "title" not in json.dumps(tool.input_schema)


@pytest.mark.parametrize("mode", MODES)
def test_prompts_walk_the_skill(example_project, mode):
    async def prompts(client):
        listed = (await client.list_prompts()).prompts
        migrate = await client.get_prompt("db-migrate", {"change": "add middle_name to persons"})
        review = await client.get_prompt("review-pending", {})
        recover = await client.get_prompt("recover-failed-migration", {"error": "column x contains null values"})
        return listed, migrate, review, recover

    listed, migrate, review, recover = session(example_project, mode, prompts)
    by_name = {prompt.name: prompt for prompt in listed}
    assert set(by_name) == {"db-migrate", "review-pending", "recover-failed-migration"}
    assert [(a.name, a.required) for a in by_name["db-migrate"].arguments] == [("change", True)]
    text = migrate.messages[0].content.text
    assert "add middle_name to persons" in text
    positions = [text.index(f"{tool}(") for tool in WORKFLOW_TOOLS]
    assert positions == sorted(positions), "db-migrate names the tools out of the skill's order"
    for words in ("scratch database, never against the real one", "never import the application's models"):
        assert words in text
    assert "review_migration()" in review.messages[0].content.text
    recover_text = recover.messages[0].content.text
    assert "column x contains null values" in recover_text and "alembic stamp" in recover_text


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [({"change": "   "}, "change is empty"), ({"change": "x" * 2001}, "keep it under 2000")],
)
def test_db_migrate_refuses_a_bad_change(example_project, arguments, expected):
    async def get(client):
        return await refused(client.get_prompt("db-migrate", arguments))

    assert expected in session(example_project, "auto", get)


@pytest.mark.parametrize("mode", MODES)
def test_resources_read_only(example_project, sqlite_url, mode):
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "alembic.ini", "upgrade", FIRST],
        cwd=example_project,
        env={"DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    before_files, before_db = tree_digest(example_project), db_file.read_bytes()

    async def read_all(client):
        resources = sorted(str(r.uri) for r in (await client.list_resources()).resources)
        templates = sorted(t.uri_template for t in (await client.list_resource_templates()).resource_templates)
        texts = {}
        for uri in [*resources, f"alembic://revision/{SECOND[:6]}", "alembic://reference/review_migration"]:
            texts[uri] = (await client.read_resource(uri)).contents[0].text
        return resources, templates, texts

    resources, templates, texts = session(example_project, mode, read_all, database_url=sqlite_url)
    assert resources == ["alembic://approvals", "alembic://backups", "alembic://history", "alembic://skill"]
    assert templates == ["alembic://reference/{tool}", "alembic://revision/{revision}"]
    history = json.loads(texts["alembic://history"])
    assert [r["revision"] for r in history["revisions"]] == [SECOND, FIRST]
    assert history["database"]["status"] == "behind"
    revision = json.loads(texts[f"alembic://revision/{SECOND[:6]}"])
    assert revision["revision"] == SECOND and f'revision = "{SECOND}"' in revision["source"]
    assert revision["review"]["verdict"] in ("proceed", "fix", "escalate")
    assert texts["alembic://skill"].startswith("---\nname: database-migration")
    assert json.loads(texts["alembic://approvals"]) == {
        "log": ".alembic-mcp-approvals.jsonl",
        "count": 0,
        "approvals": [],
    }
    assert json.loads(texts["alembic://backups"])["backups"] == []
    reference = texts["alembic://reference/review_migration"]
    assert all(rule in reference for rule in ESCALATION_RULES if rule not in ("conflicting-heads",))
    assert '"reviewed"' in reference or '"revisions"' in reference
    # reading changed nothing: no file in the project, not the database
    assert tree_digest(example_project) == before_files
    assert db_file.read_bytes() == before_db
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("select version_num from alembic_version").fetchall() == [(FIRST,)]


def test_resources_stay_on_a_read_only_server_and_respect_the_allowlist(example_project, sqlite_url):
    async def read(client):
        listed = sorted(str(r.uri) for r in (await client.list_resources()).resources)
        revision = json.loads((await client.read_resource(f"alembic://revision/{FIRST}")).contents[0].text)
        hidden = await refused(client.read_resource("alembic://reference/backup_db"))
        return listed, revision, hidden

    listed, revision, hidden = session(
        example_project, "auto", read, database_url=sqlite_url, read_only=True, tools=["check_heads"]
    )
    assert "alembic://history" in listed
    assert revision["review"] is None and "allowlist" in revision["note"]
    assert "this server has: check_heads" in hidden


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("alembic://revision/zzzz", "matches 0 revisions"), ("alembic://reference/drop_database", "unknown tool")],
)
def test_bad_resource_uris_say_what_was_wrong(example_project, sqlite_url, uri, expected):
    async def read(client):
        return await refused(client.read_resource(uri))

    assert expected in session(example_project, "auto", read, database_url=sqlite_url)
