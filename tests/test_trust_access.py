"""Issue 11, items 5 and 6: ``read_only`` and the ``tools`` allowlist really limit what the server does,
and HTTP beyond loopback needs a token (or an explicit ``--allow-unauthenticated``) with Host checks
kept on by ``--allowed-hosts``.
"""

from __future__ import annotations

import json
import os
import subprocess

import anyio
import httpx2
import pytest
from conftest import write_revision
from mcp import Client
from test_generate_migration import upgrade_target
from test_http import INITIALIZE, MCP_HEADERS, SERVE, TOKEN_ENV, _can_bind, serve_http

from alembic_mcp.server.app import build_server
from alembic_mcp.server.cli import main
from alembic_mcp.server.transports import host_checks
from alembic_mcp.tools.core.errors import ProjectError

HEAD = "b2e1d1ce0002"


def versions(project) -> list[str]:
    return sorted(p.name for p in (project / "migrations" / "versions").glob("*.py"))


# --- read_only -------------------------------------------------------------------------------------


def test_read_only_server_hides_backup_and_refuses_writes(example_project, sqlite_url):
    upgrade_target(example_project, sqlite_url)
    write_revision(example_project, "c0000001", HEAD, message="left")
    write_revision(example_project, "c0000002", HEAD, message="right")
    before = versions(example_project)

    async def main_():
        server = build_server(str(example_project), {"database_url": sqlite_url, "read_only": True})
        async with Client(server) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "backup_db" not in names and {"check_heads", "review_migration", "generate_migration"} <= names
            refused = {}
            for tool, args in [
                ("generate_migration", {"message": "add nothing"}),
                ("merge_heads", {}),
                ("backup_db", {}),
            ]:
                answer = await client.call_tool(tool, args)
                assert answer.is_error, (tool, answer)
                refused[tool] = answer.content[0].text
            dry = await client.call_tool("merge_heads", {"dry_run": True})
            assert not dry.is_error and dry.structured_content["written"] is False, dry
            heads = await client.call_tool("check_heads", {})
            assert not heads.is_error
        return refused

    refused = anyio.run(main_)
    assert "read-only" in refused["generate_migration"] and "dry_run=true" in refused["generate_migration"]
    assert "read-only" in refused["merge_heads"]
    assert "Unknown tool" in refused["backup_db"] or "not found" in refused["backup_db"].lower()
    assert versions(example_project) == before


def test_read_only_from_the_environment_and_the_cli_flag(example_project, sqlite_url, monkeypatch, capsys):
    upgrade_target(example_project, sqlite_url)
    project = str(example_project)
    code = main(["generate-migration", "--project", project, "--database-url", sqlite_url, "-m", "x", "--read-only"])
    assert code == 3 and "read-only" in capsys.readouterr().err
    monkeypatch.setenv("ALEMBIC_MCP_READ_ONLY", "true")
    code = main(["backup-db", "--project", project, "--database-url", sqlite_url, "--json"])
    assert code == 3 and "read-only" in json.loads(capsys.readouterr().out)["error"]
    assert not (example_project / ".alembic-mcp" / "backups").exists()
    code = main(["check-heads", "--project", project, "--database-url", sqlite_url])
    assert code == 0


def test_read_only_bad_value_is_a_clear_error(example_project, monkeypatch, capsys):
    monkeypatch.setenv("ALEMBIC_MCP_READ_ONLY", "perhaps")
    assert main(["check-heads", "--project", str(example_project)]) == 3
    assert "read_only" in capsys.readouterr().err


def set_access(project, lines: str) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.alembic-mcp]\n", f"[tool.alembic-mcp]\n{lines}\n"))


def test_read_only_from_pyproject_stays_on_when_the_file_is_edited(example_project, sqlite_url):
    """Hostile review M1: the agent rewrote read_only = false and the same server wrote a migration."""
    set_access(example_project, "read_only = true")
    before = versions(example_project)

    async def main_():
        async with Client(build_server(str(example_project), {"database_url": sqlite_url})) as client:
            first = await client.call_tool("generate_migration", {"message": "ro test", "autogenerate": False})
            pyproject = example_project / "pyproject.toml"
            pyproject.write_text(pyproject.read_text().replace("read_only = true", "read_only = false"))
            second = await client.call_tool("generate_migration", {"message": "ro test", "autogenerate": False})
            names = {tool.name for tool in (await client.list_tools()).tools}
        return first, second, names

    first, second, names = anyio.run(main_)
    assert first.is_error and second.is_error and "read-only" in second.content[0].text
    assert "backup_db" not in names
    assert versions(example_project) == before


def test_allowlist_from_pyproject_holds_when_another_setting_is_broken_at_start(example_project, sqlite_url):
    set_access(example_project, 'tools = ["check_heads"]\nprotected_tabels = ["x"]')

    async def main_():
        async with Client(build_server(str(example_project), {"database_url": sqlite_url})) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            answer = await client.call_tool("check_heads", {})
        return names, answer

    names, answer = anyio.run(main_)
    assert names == ["check_heads"]
    assert answer.is_error and "protected_tabels" in answer.content[0].text


def test_a_pyproject_that_does_not_parse_at_start_stops_the_server(example_project, sqlite_url):
    set_access(example_project, 'tools = ["check_heads"]\nread_only = = true')
    with pytest.raises(ProjectError, match="not valid TOML"):
        build_server(str(example_project), {"database_url": sqlite_url})


# --- tools allowlist -------------------------------------------------------------------------------


def test_tools_allowlist_exposes_only_those_tools(example_project, sqlite_url):
    async def main_():
        server = build_server(str(example_project), {"database_url": sqlite_url, "tools": ["check_heads"]})
        async with Client(server) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            hidden = await client.call_tool("generate_migration", {"message": "x"})
            return names, hidden

    names, hidden = anyio.run(main_)
    assert names == ["check_heads"]
    assert hidden.is_error


def test_tools_allowlist_with_an_unknown_name_is_refused(example_project, sqlite_url):
    with pytest.raises(ProjectError, match=r"unknown tool.*check_head"):
        build_server(str(example_project), {"database_url": sqlite_url, "tools": ["check_head"]})
    done = subprocess.run(
        [*SERVE, "--project", str(example_project), "--tools", "check_heads", "drop_everything"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 3 and "drop_everything" in done.stderr and "Known tools" in done.stderr


# --- HTTP access -----------------------------------------------------------------------------------


def _serve_and_exit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SERVE, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=dict(os.environ)
    )


def test_http_beyond_loopback_without_token_refuses_to_start(example_project):
    done = _serve_and_exit("--project", str(example_project), "--transport", "http", "--host", "0.0.0.0")
    assert done.returncode == 3
    assert "refusing to serve on 0.0.0.0 without a bearer token" in done.stderr
    assert "--auth-token-env" in done.stderr and "--allow-unauthenticated" in done.stderr


def test_stdio_refuses_http_only_flags(example_project):
    done = _serve_and_exit("--project", str(example_project), "--allow-unauthenticated")
    assert done.returncode == 3 and "--allow-unauthenticated applies to --transport http only" in done.stderr


def test_http_beyond_loopback_with_token_starts(example_project, sqlite_url):
    token = "t0ken-" + os.urandom(8).hex()
    with (
        serve_http(
            example_project, sqlite_url, "--host", "0.0.0.0", "--auth-token-env", TOKEN_ENV, env={TOKEN_ENV: token}
        ) as served,
        httpx2.Client() as http,
    ):
        url = f"http://127.0.0.1:{served.port}/mcp"
        anonymous = http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
        authorized = http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
    assert anonymous.status_code == 401 and authorized.status_code == 200, authorized.text
    assert "refusing" not in served.stderr() and "warning" not in served.stderr()


@pytest.mark.skipif(not _can_bind("127.0.0.2"), reason="this system cannot bind 127.0.0.2 (Linux can)")
def test_allowed_hosts_keeps_host_checks_on(example_project, sqlite_url):
    """127.0.0.2 stands in for a bind mcp does not protect by itself (as 0.0.0.0): with --allowed-hosts a
    foreign Host or Origin is refused and the named one served."""
    args = ("--host", "127.0.0.2", "--allowed-hosts", "mcp.internal")
    with serve_http(example_project, sqlite_url, *args, host="127.0.0.2") as served:
        url = f"http://127.0.0.2:{served.port}/mcp"
        with httpx2.Client() as http:

            def post(**headers):
                return http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers})

            foreign = post(Host="attacker.example")
            foreign_origin = post(Host=f"mcp.internal:{served.port}", Origin="http://attacker.example")
            named = post(Host=f"mcp.internal:{served.port}", Origin=f"https://mcp.internal:{served.port}")
    assert foreign.status_code in (400, 403, 421), foreign.text
    assert foreign_origin.status_code in (400, 403), foreign_origin.text
    assert named.status_code == 200, named.text


def test_host_checks_patterns():
    settings = host_checks(["mcp.internal", "db.example:8443", "[::1]"])
    assert settings.enable_dns_rebinding_protection
    assert settings.allowed_hosts == ["mcp.internal", "mcp.internal:*", "db.example:8443", "[::1]", "[::1]:*"]
    assert "https://db.example:8443" in settings.allowed_origins and "http://mcp.internal:*" in settings.allowed_origins
