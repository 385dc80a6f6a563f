"""Streamable HTTP: `alembic-mcp serve --transport http` as a real subprocess, reached by mcp's Client.

Covers: a tool call over HTTP, the 127.0.0.1 default bind (read from the kernel's socket table),
mcp's DNS-rebinding protection on loopback, and the bearer-token gate of --auth-token-env.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

pytestmark = pytest.mark.subprocess

TOKEN_ENV = "AMCP_TEST_BEARER_TOKEN"  # not ALEMBIC_MCP_*: that prefix is the settings namespace
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}
SERVE = [sys.executable, "-m", "alembic_mcp.server", "serve"]
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the LISTEN sockets on ``port``, from /proc/net/tcp and tcp6."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(addr_hex)
            # the kernel prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            family = socket.AF_INET if width == 8 else socket.AF_INET6
            found.add(socket.inet_ntop(family, words))
    return found


@dataclass
class Served:
    port: int
    proc: subprocess.Popen
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve_http(
    project: Path, database_url: str, *extra: str, env: dict[str, str] | None = None, host: str = "127.0.0.1"
):
    """Start the HTTP server (its output goes to a log file), wait until it accepts connections on
    ``host``, always terminate it."""
    port = _free_port()
    cmd = [
        *SERVE,
        "--project",
        str(project),
        "--database-url",
        database_url,
        "--transport",
        "http",
        "--port",
        str(port),
        *extra,
    ]
    log = project.parent / f"http-server-{port}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    served = Served(port, proc, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {served.stderr()[-2000:]}")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"server did not listen within 30 s: {served.stderr()[-2000:]}")
                time.sleep(0.1)
        yield served
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


async def _check_heads_over(client: Client) -> dict:
    async with client as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "check_heads" in names
        result = await c.call_tool("check_heads", {})
    assert not result.is_error, result.content
    return result.structured_content


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_http_serves_tools_and_binds_loopback_by_default(example_project, sqlite_url, mode):
    with serve_http(example_project, sqlite_url) as served:
        if Path("/proc/net/tcp").exists():
            assert _listening_addresses(served.port) == {"127.0.0.1"}
        sc = anyio.run(_check_heads_over, Client(f"http://127.0.0.1:{served.port}/mcp", mode=mode))
    assert f"streamable HTTP on http://127.0.0.1:{served.port}/mcp" in served.stderr()
    assert "warning" not in served.stderr()
    assert sc["verdict"] == "proceed"
    assert [h["revision"] for h in sc["heads"]] == ["b2e1d1ce0002"]


def test_http_loopback_rejects_foreign_host_header(example_project, sqlite_url):
    """On a loopback bind mcp's DNS-rebinding protection refuses a Host that is not loopback."""
    with serve_http(example_project, sqlite_url) as served:
        url = f"http://127.0.0.1:{served.port}/mcp"
        with httpx2.Client() as http:
            refused = http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "attacker.example"})
            accepted = http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
    assert refused.status_code in (400, 403, 421), refused.text
    assert accepted.status_code == 200, accepted.text


def _can_bind(host: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _can_bind("127.0.0.2"), reason="this system cannot bind 127.0.0.2 (Linux can)")
def test_http_other_bind_address_reaches_mcp(example_project, sqlite_url):
    """--host is handed to mcp's app, not only to uvicorn: bound elsewhere than 127.0.0.1 (as a container
    binds 0.0.0.0), a request naming the server by another host name is served. 127.0.0.2 stands in for
    a non-default address without exposing the server beyond loopback."""
    with serve_http(example_project, sqlite_url, "--host", "127.0.0.2", host="127.0.0.2") as served:
        if Path("/proc/net/tcp").exists():
            assert _listening_addresses(served.port) == {"127.0.0.2"}
        with httpx2.Client() as http:
            response = http.post(
                f"http://127.0.0.2:{served.port}/mcp",
                json=INITIALIZE,
                headers={**MCP_HEADERS, "Host": f"alembic-mcp:{served.port}"},
            )
    assert response.status_code == 200, response.text
    assert "warning" not in served.stderr()  # 127.0.0.0/8 is loopback


def test_http_bearer_token_required(example_project, sqlite_url):
    token = "t0ken-" + os.urandom(8).hex()
    with serve_http(example_project, sqlite_url, "--auth-token-env", TOKEN_ENV, env={TOKEN_ENV: token}) as served:
        url = f"http://127.0.0.1:{served.port}/mcp"
        with httpx2.Client() as http:

            def post(authorization: str | None):
                extra = {"Authorization": authorization} if authorization else {}
                return http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **extra})

            missing, wrong, other_scheme = post(None), post("Bearer nope"), post(f"Basic {token}")
            right = post(f"bearer {token}")  # the scheme name is case-insensitive
        for response in (missing, wrong, other_scheme):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert token not in response.text
        assert right.status_code == 200, right.text

        async def with_token() -> dict:
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http_client:
                transport = streamable_http_client(url, http_client=http_client)
                return await _check_heads_over(Client(transport))

        assert anyio.run(with_token)["verdict"] == "proceed"

        async def without_token() -> None:
            async with Client(url) as c:
                await c.call_tool("check_heads", {})

        with pytest.raises(BaseException) as excinfo:  # the client raises the 401 inside a group
            anyio.run(without_token)
        assert any(isinstance(e, MCPError) for e in _leaves(excinfo.value)), repr(excinfo.value)
        assert served.proc.poll() is None, "the server must keep running after refused requests"
    assert token not in served.stderr()


def test_auth_token_env_must_name_a_set_variable(example_project, sqlite_url):
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    done = subprocess.run(
        [
            *SERVE,
            "--project",
            str(example_project),
            "--database-url",
            sqlite_url,
            "--transport",
            "http",
            "--port",
            str(_free_port()),
            "--auth-token-env",
            TOKEN_ENV,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 3
    assert TOKEN_ENV in done.stderr and "unset or empty" in done.stderr


def test_auth_token_env_refused_on_stdio(example_project, sqlite_url):
    done = subprocess.run(
        [*SERVE, "--project", str(example_project), "--database-url", sqlite_url, "--auth-token-env", TOKEN_ENV],
        capture_output=True,
        text=True,
        env={**os.environ, TOKEN_ENV: "x"},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 3
    assert "--transport http" in done.stderr
