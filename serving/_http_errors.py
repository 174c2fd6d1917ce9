"""Errors of the serving layer, how every :class:`MMAgentError` maps to an HTTP status, and the
app's exception handlers (:data:`EXCEPTION_HANDLERS`).

Bodies follow OpenAI's error shape, so OpenAI clients raise their usual exception types::

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "..."}}

Every error leaves in that shape; none takes the server down.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from mmagent._messages import for_client, one_line
from mmagent.errors import (
    ConfigError,
    InputError,
    InputNotFoundError,
    MediaLimitError,
    MMAgentError,
    PathRefusedError,
    PlanningError,
    PlanValidationError,
    RunError,
    ServingError,
    StoreError,
    ToolError,
    UnknownRunError,
)

__all__ = ["AuthError", "URLRefusedError", "RequestTooLargeError", "HeadersTooLargeError",
           "UnknownModelError", "OutputFormatError",
           "status_for", "error_body", "send_error", "EXCEPTION_HANDLERS"]

logger = logging.getLogger(__name__)


class AuthError(ServingError):
    """No API key, or one the server does not know."""

    code = "auth.invalid_key"


class URLRefusedError(InputError):
    """A media URL the server will not fetch (not allow-listed, or a non-public address)."""

    code = "input.url_refused"


class RequestTooLargeError(MediaLimitError):
    code = "input.body_too_large"


class HeadersTooLargeError(MediaLimitError):
    code = "input.headers_too_large"


class UnknownModelError(InputNotFoundError):
    code = "input.unknown_model"


class OutputFormatError(ServingError):
    """The run's answer could not be put in the shape the request's ``response_format`` (or
    ``text.format``) asks for."""

    code = "output.schema_mismatch"


# Order matters: the first class an error is an instance of decides its status.
_STATUS: list[tuple[type[MMAgentError], int, str]] = [
    (AuthError, 401, "authentication_error"),
    (OutputFormatError, 422, "invalid_request_error"),
    (PathRefusedError, 403, "permission_error"),
    (MediaLimitError, 413, "invalid_request_error"),
    (InputNotFoundError, 404, "invalid_request_error"),
    (UnknownRunError, 404, "invalid_request_error"),
    (RunError, 409, "invalid_request_error"),  # a run not in a state for this verb
    (InputError, 400, "invalid_request_error"),
    (PlanValidationError, 422, "invalid_request_error"),
    (PlanningError, 422, "invalid_request_error"),
    (StoreError, 503, "server_error"),
    (ConfigError, 500, "server_error"),
    (ToolError, 500, "server_error"),
]


def status_for(e: MMAgentError) -> tuple[int, str]:
    """HTTP status and OpenAI error ``type`` for an mmagent error."""
    for cls, status, kind in _STATUS:
        if isinstance(e, cls):
            return status, kind
    return 500, "server_error"


def error_body(message: str, kind: str, code: str | None, param: str | None = None
               ) -> dict[str, Any]:
    """OpenAI's error shape; the message is bounded and cleaned for a remote client (one line,
    no server paths or object reprs, long ids cut)."""
    return {"error": {"message": for_client(message), "type": kind,
                      "param": None if param is None else one_line(param, 200), "code": code}}


async def send_error(send, status: int, body: dict[str, Any],
                     headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """Answer with ``body`` from plain ASGI code (a middleware, a mounted endpoint)."""
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers,
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


async def _mmagent_error(_request: Request, e: MMAgentError) -> JSONResponse:
    status, kind = status_for(e)
    if status >= 500:
        logger.error("request failed: %s", e)
    param = e.details.get("param") if isinstance(e.details.get("param"), str) else None
    return JSONResponse(error_body(e.message, kind, e.code, param), status_code=status)


async def _bad_request(_request: Request, e: RequestValidationError) -> JSONResponse:
    err = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
    loc = ".".join(str(p) for p in err["loc"] if p != "body")
    return JSONResponse(error_body(f"{loc or 'body'}: {err['msg']}", "invalid_request_error",
                                   "request.invalid", loc or None), status_code=422)


async def _http_error(_request: Request, e: HTTPException) -> JSONResponse:
    return JSONResponse(error_body(str(e.detail), "invalid_request_error", None),
                        status_code=e.status_code)


async def _internal(_request: Request, e: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return JSONResponse(error_body(f"internal error: {type(e).__name__}", "server_error",
                                   "internal"), status_code=500)


EXCEPTION_HANDLERS: dict[Any, Any] = {MMAgentError: _mmagent_error,
                                      RequestValidationError: _bad_request,
                                      HTTPException: _http_error, Exception: _internal}
"""The app's handlers, by the exception they answer."""
