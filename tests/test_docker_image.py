"""Builds the Docker image and runs it: the backup clients are there, the default user is not root, a
CLI subcommand and the stdio server work on a mounted project.

Opt-in (a build takes minutes and needs the network): set AMCP_TEST_DOCKER=1 on a machine with a
running Docker daemon. Otherwise skipped with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parent.parent
DOCKER = shutil.which("docker")


def _daemon_up() -> bool:
    if DOCKER is None:
        return False
    return subprocess.run([DOCKER, "info"], capture_output=True, timeout=30).returncode == 0


if os.environ.get("AMCP_TEST_DOCKER") != "1":
    SKIP_REASON = "the image build test is opt-in: set AMCP_TEST_DOCKER=1 (needs a Docker daemon)"
elif not _daemon_up():
    SKIP_REASON = "AMCP_TEST_DOCKER=1 but no Docker daemon answers `docker info`"
else:
    SKIP_REASON = ""
pytestmark = [pytest.mark.subprocess, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON)]


@pytest.fixture(scope="module")
def image():
    tag = f"alembic-mcp-test:{secrets.token_hex(4)}"
    done = subprocess.run([DOCKER, "build", "-t", tag, str(REPO)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    yield tag
    subprocess.run([DOCKER, "image", "rm", "-f", tag], capture_output=True, timeout=120)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, "run", "--rm", *args], capture_output=True, text=True, timeout=300)


def test_image_has_backup_clients_and_a_non_root_user(image):
    pg_dump = _run("--entrypoint", "pg_dump", image, "--version")
    assert pg_dump.returncode == 0 and "pg_dump (PostgreSQL) 1" in pg_dump.stdout, pg_dump.stderr
    mariadb_dump = _run("--entrypoint", "mariadb-dump", image, "--version")
    assert mariadb_dump.returncode == 0, mariadb_dump.stderr
    uid = _run("--entrypoint", "id", image, "-u")
    assert uid.stdout.strip() not in ("", "0")


def test_cli_subcommand_on_mounted_project(image, example_project):
    as_me = f"{os.getuid()}:{os.getgid()}"
    done = _run("-v", f"{example_project}:/project", "--user", as_me, image, "check-heads", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["verdict"] == "proceed" and [h["revision"] for h in result["heads"]] == ["b2e1d1ce0002"]


def test_stdio_server_in_the_container(image, example_project):
    as_me = f"{os.getuid()}:{os.getgid()}"
    args = ["run", "-i", "--rm", "-v", f"{example_project}:/project", "--user", as_me, image]
    params = StdioServerParameters(command=DOCKER, args=args)

    async def call() -> dict:
        async with Client(params) as client:
            assert "check_heads" in {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("check_heads", {})
            assert not result.is_error, result.content
            return result.structured_content

    assert anyio.run(call)["verdict"] == "proceed"
