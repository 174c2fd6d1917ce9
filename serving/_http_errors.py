"""Errors of the serving layer and how every :class:`MMAgentError` maps to an HTTP status.

Bodies follow OpenAI's error shape, so OpenAI clients raise their usual exception types::

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "..."}}
"""

from __future__ import annotations

from typing import Any

from mmagent._messages import for_client, one_line
from mmagent.errors import (
    ConfigError,
    InputError,
    InputNotFoundError,
    MediaLimitError,
    MMAgentError,
    PlanningError,
    PlanValidationError,
    RunError,
    ServingError,
    StoreError,
    ToolError,
    UnknownRunError,
)

__all__ = ["AuthError", "URLRefusedError", "RequestTooLargeError", "UnknownModelError",
           "status_for", "error_body"]


class AuthError(ServingError):
    """No API key, or one the server does not know."""

    code = "auth.invalid_key"


class URLRefusedError(InputError):
    """A media URL the server will not fetch (not allow-listed, or a non-public address)."""

    code = "input.url_refused"


class RequestTooLargeError(MediaLimitError):
    code = "input.body_too_large"


class UnknownModelError(InputNotFoundError):
    code = "input.unknown_model"


# Order matters: the first class an error is an instance of decides its status.
_STATUS: list[tuple[type[MMAgentError], int, str]] = [
    (AuthError, 401, "authentication_error"),
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
