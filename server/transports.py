"""Running the server over stdio or streamable HTTP (bound to 127.0.0.1 unless told otherwise).

HTTP serves the MCP endpoint at ``/mcp`` with mcp's own Starlette app under uvicorn (a dependency of
mcp). ``--auth-token-env NAME`` puts a bearer-token gate in front of it: every HTTP request without
``Authorization: Bearer <value of $NAME>`` is answered 401 before it reaches the MCP app.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
from typing import Any

from alembic_mcp.server.app import build_server


def is_loopback(host: str) -> bool:
    """localhost or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_server(
    project_dir: str, overrides: dict[str, Any], transport: str, host: str, port: int, auth_token_env: str | None = None
) -> int:
    if transport == "stdio":
        if auth_token_env:
            print(
                "error: --auth-token-env applies to --transport http only (stdio has no network surface).",
                file=sys.stderr,
            )
            return 3
        build_server(project_dir, overrides, warm_worker=True).run("stdio")
        return 0
    token = None
    if auth_token_env:
        token = os.environ.get(auth_token_env)
        if not token:
            print(f"error: --auth-token-env {auth_token_env} names an unset or empty variable.", file=sys.stderr)
            return 3
    import uvicorn

    server = build_server(project_dir, overrides, warm_worker=True)
    # host: mcp turns on its DNS-rebinding protection (Host/Origin must be loopback) when host is
    # 127.0.0.1, localhost or ::1; any other bind address (0.0.0.0 in a container) accepts any Host.
    app: Any = server.streamable_http_app(host=host)
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
            "alembic-mcp: warning: listening beyond loopback without --auth-token-env; anyone who can "
            "reach this port can call the tools.",
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
