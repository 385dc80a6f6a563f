"""Running the server over stdio or streamable HTTP (bound to 127.0.0.1 unless told otherwise).

HTTP serves the MCP endpoint at ``/mcp`` with mcp's own Starlette app under uvicorn (a dependency of
mcp). ``--auth-token-env NAME`` puts a bearer-token gate in front of it: every HTTP request without
``Authorization: Bearer <value of $NAME>`` is answered 401 before it reaches the MCP app. Beyond
loopback the server refuses to start without a token unless ``--allow-unauthenticated`` says so;
``--allowed-hosts`` keeps mcp's Host/Origin checks on for such a bind.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings

from alembic_mcp.server.app import build_server

LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"]


def is_loopback(host: str) -> bool:
    """localhost or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class HttpAccess:
    """Who may reach the HTTP endpoint: the bearer token variable, the explicit opt-out, the Host names."""

    auth_token_env: str | None = None
    allow_unauthenticated: bool = False
    allowed_hosts: list[str] = field(default_factory=list)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 3


def _http_only(access: HttpAccess) -> str | None:
    used = [
        flag
        for flag, given in (
            ("--auth-token-env", access.auth_token_env),
            ("--allow-unauthenticated", access.allow_unauthenticated),
            ("--allowed-hosts", access.allowed_hosts),
        )
        if given
    ]
    return f"{', '.join(used)} applies to --transport http only (stdio has no network surface)." if used else None


def _has_port(host: str) -> bool:
    """``name:8000`` or ``[::1]:8000``; a bare IPv6 address's colons are not a port."""
    if host.startswith("["):
        return "]:" in host
    return host.count(":") == 1


def host_checks(allowed_hosts: list[str]) -> TransportSecuritySettings:
    """mcp's Host/Origin validation for the named hosts (any port unless one is given)."""
    hosts, origins = [], []
    for name in allowed_hosts:
        patterns = [name] if _has_port(name) else [name, f"{name}:*"]
        hosts += patterns
        origins += [f"{scheme}://{pattern}" for scheme in ("http", "https") for pattern in patterns]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def run_server(
    project_dir: str,
    overrides: dict[str, Any],
    transport: str,
    host: str,
    port: int,
    auth_token_env: str | None = None,
    access: HttpAccess | None = None,
) -> int:
    access = access or HttpAccess(auth_token_env=auth_token_env)
    if transport == "stdio":
        problem = _http_only(access)
        if problem:
            return _fail(problem)
        build_server(project_dir, overrides, warm_worker=True).run("stdio")
        return 0
    token = None
    if access.auth_token_env:
        token = os.environ.get(access.auth_token_env)
        if not token:
            return _fail(f"--auth-token-env {access.auth_token_env} names an unset or empty variable.")
    if not is_loopback(host) and not token and not access.allow_unauthenticated:
        return _fail(
            f"refusing to serve on {host} without a bearer token: anyone who can reach the port could run "
            "migrations' code and write files. Set a token in a variable and pass --auth-token-env NAME, "
            "or pass --allow-unauthenticated if a proxy in front authenticates callers."
        )
    import uvicorn

    server = build_server(project_dir, overrides, warm_worker=True)
    # host: mcp turns on its DNS-rebinding protection (Host/Origin must be loopback) when host is
    # 127.0.0.1, localhost or ::1; for any other bind address --allowed-hosts names the Hosts to accept.
    names = access.allowed_hosts + (LOOPBACK_NAMES if is_loopback(host) else [])
    security = host_checks(names) if access.allowed_hosts else None
    app: Any = server.streamable_http_app(host=host, transport_security=security)
    if token:
        app = BearerTokenGate(app, token)
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"alembic-mcp: streamable HTTP on http://{shown_host}:{port}/mcp{' (bearer token required)' if token else ''}",
        file=sys.stderr,
        flush=True,
    )
    if not is_loopback(host) and not token:
        print(
            "alembic-mcp: warning: --allow-unauthenticated: listening beyond loopback without a token; anyone "
            "who can reach this port can call the tools.",
            file=sys.stderr,
            flush=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


class BearerTokenGate:
    """ASGI wrapper answering 401 to HTTP requests without ``Authorization: Bearer <token>``.

    Lifespan events pass through untouched (the MCP app starts its session manager there). The token
    is compared in constant time; the scheme name is case-insensitive (RFC 7235).
    """

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    def _authorized(self, scope) -> bool:
        for name, value in scope.get("headers") or []:
            if name.lower() == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token):
                    return True
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and not self._authorized(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b'{"error": "missing or wrong bearer token: send Authorization: Bearer <token>"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b'Bearer realm="alembic-mcp"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
