"""The app's ASGI middlewares: request metrics and the request body limit.

Plain ASGI, not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` hides a client's
disconnect from ``request.is_disconnected()``, and a run must stop when its client goes away.
"""

from __future__ import annotations

import time

from mmagent.serving._http_errors import RequestTooLargeError, error_body, send_error
from mmagent.serving._metrics import Metrics

__all__ = ["RequestMetrics", "BodyLimit"]


class RequestMetrics:
    """Counts requests and their latency by method, route and status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "<unmatched>")  # the router sets it
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - t0)


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, int(declared))
        seen, too_large, started = 0, False, False

        async def limited_receive():
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise RequestTooLargeError(self._message(seen))
            return message

        async def guarded_send(message):
            nonlocal started
            if too_large and not started:
                return  # the app's answer to a body we cut short (e.g. 400); ours is 413
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except RequestTooLargeError:
            pass
        if too_large and not started:
            await self._refuse(send, seen)

    def _message(self, size: int) -> str:
        return (f"got a request body of {size} bytes or more; expected at most {self.max_bytes} "
                "(serving.max_body_bytes)")

    async def _refuse(self, send, size: int) -> None:
        await send_error(send, 413, error_body(self._message(size), "invalid_request_error",
                                               RequestTooLargeError.code))
