"""backup_db and list_backups over MCP (both Client modes) and through the CLI; pure helpers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from backup_helpers import EXPECTED, REVISION, seed
from mcp import Client

from alembic_mcp.server.app import build_server
from alembic_mcp.server.cli import main
from alembic_mcp.tools.backup.dump_commands import (
    find_pg_tool,
    pg_client_can_dump,
    pg_connection,
    pg_major_from_server_num,
    pg_major_from_version_text,
)
from alembic_mcp.tools.backup.mysql_dump_parse import count_tuples, parse_mysql_dump
from alembic_mcp.tools.core.errors import ProjectError


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_backup_over_mcp(mode, pg_url, example_project):
    seed(pg_url)
    progress: list[str] = []

    async def on_progress(done, total, message):
        progress.append(message or "")

    async with Client(build_server(str(example_project), {"database_url": pg_url}), mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        hints = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
        backup = tools["backup_db"].annotations.model_dump(by_alias=True)
        listing = tools["list_backups"].annotations.model_dump(by_alias=True)
        assert [backup[h] for h in hints] == [False, False, False, False]
        assert [listing[h] for h in hints] == [True, False, True, False]
        assert set(tools["backup_db"].input_schema["properties"]) == {"label", "verify", "tables"}

        result = await client.call_tool(
            "backup_db", {"label": "pre-drop", "verify": "restore"}, progress_callback=on_progress
        )
        assert not result.is_error, result.content
        data = result.structured_content
        assert data["verdict"] == "proceed" and data["verified"] and data["tables"] == EXPECTED
        assert data["revisions"] == [REVISION] and data["restore_command"].startswith("pg_restore ")
        assert any(m.startswith("connecting") for m in progress)

        bad_calls = [
            ({"label": "../../etc/passwd"}, "path separator"),
            ({"label": "x; rm -rf /"}, "not allowed"),
            ({"label": "$(whoami)"}, "not allowed"),
            ({"tables": ["residents", "no_such_table"]}, "no_such_table"),
            ({"tables": []}, "empty list"),
            ({"verify": "everything"}, "verify"),
            ({"tables": "residents"}, "tables"),
        ]
        for arguments, expected in bad_calls:
            bad = await client.call_tool("backup_db", arguments)
            assert bad.is_error, arguments
            assert expected in bad.content[0].text, (arguments, bad.content[0].text)

        listed = await client.call_tool("list_backups", {})
        assert not listed.is_error
        backups = listed.structured_content["backups"]
        assert [b["backup_id"] for b in backups] == [data["backup_id"]]
        assert listed.structured_content["latest_for_target"] == data["backup_id"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_unreachable_database_over_mcp(mode, example_project):
    url = "postgresql+psycopg://app:s3cretpass@127.0.0.1:1/prod"
    async with Client(build_server(str(example_project), {"database_url": url}), mode=mode) as client:
        bad = await client.call_tool("backup_db", {})
        assert bad.is_error
        text = bad.content[0].text
        assert "Could not connect" in text and "s3cretpass" not in text and "app:***@" in text
        listed = await client.call_tool("list_backups", {})
        assert not listed.is_error and listed.structured_content["backups"] == []


def test_cli_backup_and_list(mariadb_url, example_project, capsys):
    seed(mariadb_url)
    common = ["--project", str(example_project), "--database-url", mariadb_url, "--json"]
    assert main(["backup-db", *common, "--label", "cli", "--verify", "restore", "--tables", "residents"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["verified"] and made["tables"] == {"residents": EXPECTED["residents"]}
    assert made["restore_command"].endswith(f"< {example_project / made['file']}")
    assert main(["list-backups", *common]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [b["backup_id"] for b in listed["backups"]] == [made["backup_id"]]
    assert main(["backup-db", *common, "--label", "a/b"]) == 3
    assert "path separator" in json.loads(capsys.readouterr().out)["error"]
    assert main(["list-backups", "--project", str(example_project), "--database-url", mariadb_url]) == 0
    assert made["backup_id"] in capsys.readouterr().out


def test_pg_version_rules():
    assert pg_major_from_version_text("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == (15,)
    assert pg_major_from_version_text("pg_dump (PostgreSQL) 9.6.24") == (9, 6)
    assert pg_major_from_server_num(150020) == (15,) and pg_major_from_server_num(90624) == (9, 6)
    assert pg_client_can_dump((15,), (15,)) and pg_client_can_dump((16,), (9, 6))
    assert not pg_client_can_dump((14,), (15,))


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump not installed")
def test_too_old_pg_dump_is_a_clear_error():
    """The installed pg_dump (a real binary) is older than a hypothetical PostgreSQL 99 server."""
    with pytest.raises(
        ProjectError,
        match=r"older than the database server \(PostgreSQL 99\.1\).*version 99 "
        r"or newer.*postgresql-client-99",
    ):
        find_pg_tool("pg_dump", (99,), "99.1")
    assert find_pg_tool("pg_dump", (9, 6), "9.6.24").major >= (9, 6)


def test_password_goes_to_the_environment_not_argv():
    argv, env = pg_connection("postgresql+asyncpg://app:p%40ss@db.example:6543/main")
    assert "p@ss" not in " ".join(argv) and env["PGPASSWORD"] == "p@ss"
    assert argv == ["--host", "db.example", "--port", "6543", "--username", "app", "--dbname", "main"]


def test_mysql_dump_parser(tmp_path):
    assert count_tuples("(1,'a(b'),(2,'it\\'s'),(3,NULL);") == 3
    assert count_tuples("(1,'unterminated);") is None
    assert count_tuples("(1,'a'),") is None
    old_style = tmp_path / "old.sql"
    old_style.write_text(
        "-- MySQL dump 10.13  Distrib 8.0.36\n--\n"
        "CREATE TABLE `t` (\n  `id` int\n);\n"
        "INSERT INTO `t` VALUES (1,'x),(y'),(2,'\\\\'),(3,'a\\nb');\n"
        "INSERT INTO `t` VALUES (4,'');\n"
        "CREATE TABLE `empty` (\n  `id` int\n);\n"
        "-- Dump completed on 2026-01-01\n"
    )
    parsed = parse_mysql_dump(old_style)
    assert parsed.ok and parsed.counts == {"t": 4, "empty": 0}
    cut = tmp_path / "cut.sql"
    head = old_style.read_text().split("INSERT INTO `t` VALUES (4")[0]
    cut.write_text(head + "INSERT INTO `t` VALUES\n(4,'x'),\n")
    parsed = parse_mysql_dump(cut)
    assert not parsed.ok and any("cut off" in p for p in parsed.problems)
    assert any("truncated" in p for p in parsed.problems)
    assert not parse_mysql_dump(Path(tmp_path / "missing.sql")).ok
