"""Running the server over stdio or streamable HTTP (bound to 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import hmac
import os
import sys
from typing import Any

from .app import build_server


def run_server(project_dir: str, overrides: dict[str, Any], transport: str, host: str, port: int,
               auth_token_env: str | None = None) -> int:
    server = build_server(project_dir, overrides)
    if transport == "stdio":
        server.run("stdio")
        return 0
    token = None
    if auth_token_env:
        token = os.environ.get(auth_token_env)
        if not token:
            print(f"error: --auth-token-env {auth_token_env} names an unset or empty variable.", file=sys.stderr)
            return 3
    import uvicorn

    app = server.streamable_http_app()
    if token:
        app = BearerTokenGate(app, token)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


class BearerTokenGate:
    """ASGI wrapper answering 401 to HTTP requests without ``Authorization: Bearer <token>``."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body",
                            "body": b'{"error": "missing or wrong bearer token"}'})
                return
        await self.app(scope, receive, send)
