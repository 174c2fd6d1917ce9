"""MCP over Streamable HTTP at ``/mcp``, behind the server's API keys.

:class:`McpHttpEndpoint` is plain ASGI (the SDK's session manager speaks ASGI): it checks the
key (401 in OpenAI's error shape otherwise), then hands the request to the manager, started on
first use in the serving event loop. Stateless, with JSON responses, so any replica can answer
any request.
"""

from __future__ import annotations

import asyncio

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from mmagent.serving._agent import AgentService
from mmagent.serving._auth import KeyRing
from mmagent.serving._deps import base_url_of, own_hosts_of
from mmagent.serving._http_errors import AuthError, error_body, send_error
from mmagent.serving.mcp.service import Caller, McpBridge, mcp_server

__all__ = ["McpHttpEndpoint", "mcp_route"]


def mcp_route(shared: AgentService, keys: KeyRing) -> Route:
    """The ``/mcp`` route of an app (GET, POST and DELETE, as Streamable HTTP has them)."""
    return Route("/mcp", McpHttpEndpoint(shared, keys), methods=["GET", "POST", "DELETE"])


class McpHttpEndpoint:
    """ASGI endpoint for ``/mcp``: the API key decides the owner of media and artifacts."""

    def __init__(self, shared: AgentService, keys: KeyRing) -> None:
        self.keys = keys
        self.server = mcp_server(McpBridge(shared), _http_caller(keys, shared.settings.public_url))
        self.manager = StreamableHTTPSessionManager(
            app=self.server, stateless=True, json_response=True,
            max_request_body_size=shared.settings.max_body_bytes,
            # the API key guards this endpoint; Host checks would refuse proxied names
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        self._started: anyio.Event | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        try:
            self.keys.owner((headers.get(b"authorization") or b"").decode("latin-1"))
        except AuthError as e:
            await send_error(send, 401, error_body(e.message, "invalid_request_error", e.code),
                             headers=((b"www-authenticate", b"Bearer"),))
            return
        await self._ensure_started()
        await self.manager.handle_request(scope, receive, send)

    async def _ensure_started(self) -> None:
        if self._started is None:
            self._started = anyio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        await self._started.wait()

    async def _run(self) -> None:
        assert self._started is not None
        try:
            async with self.manager.run():
                self._started.set()
                await anyio.sleep_forever()
        finally:  # should the manager fail to start, requests fail (500) instead of waiting
            self._started.set()


def _http_caller(keys: KeyRing, public_url: str | None) -> Caller:
    """Owner, base URL and own host names of a call, from its HTTP request (the key was
    checked on the way in; checked again here, per call)."""

    def caller(ctx) -> tuple[str, str, set[str]]:
        request = getattr(ctx, "request", None)
        if request is None:  # over HTTP: fail closed, never fall back to anonymous
            raise AuthError("got a call without its HTTP request; expected 'Authorization: "
                            "Bearer <key>'")
        return (keys.owner(request.headers.get("authorization")), base_url_of(request),
                own_hosts_of(request, public_url))

    return caller
