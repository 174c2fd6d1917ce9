"""Errors across Ray: an mmagent error keeps its class and code, and a dead replica is retried.

A tool deployment returns an error as data (:func:`error_to_dict`): its class (module and
qualified name), code, message and details. The ingress raises the same class again
(:func:`error_from_dict`), so a bad input stays a ``ToolInputError`` that no retry policy
repeats. Failures of Ray itself (a replica or node that died, a full queue) are transient
(:func:`is_transient`): the ingress sends the request again.

>>> from mmagent.errors import ToolInputError
>>> e = error_from_dict(error_to_dict(ToolInputError("got 0 steps for steps; expected >= 1")))
>>> type(e).__name__, e.code, str(e)
('ToolInputError', 'tool.bad_input', 'got 0 steps for steps; expected >= 1')
"""

from __future__ import annotations

import importlib
from typing import Any

from mmagent.errors import MMAgentError, ToolExecutionError

__all__ = ["error_to_dict", "error_from_dict", "is_transient", "short_reason", "MAX_MESSAGE"]

MAX_MESSAGE = 2000
"""Longest error message carried across (characters); the rest is cut."""


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " [...]"


def error_to_dict(e: BaseException) -> dict[str, Any]:
    """An exception as JSON-safe data. Exceptions that are not mmagent errors become
    ``ToolExecutionError`` (code ``tool.failed``) named after their class."""
    if not isinstance(e, MMAgentError):
        return {"type": f"{ToolExecutionError.__module__}:ToolExecutionError",
                "code": ToolExecutionError.code,
                "message": _bounded(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__),
                "details": {}}
    cls = type(e)
    return {"type": f"{cls.__module__}:{cls.__qualname__}", "code": e.code,
            "message": _bounded(e.message), "details": _json_safe(e.details)}


def error_from_dict(data: dict[str, Any]) -> MMAgentError:
    """The error :func:`error_to_dict` described, as an instance of the same class when that
    class is an importable :class:`MMAgentError`, else a ``ToolExecutionError`` with its code."""
    cls: type[MMAgentError] = ToolExecutionError
    module, _, qualname = str(data.get("type", "")).partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, MMAgentError):
            cls = found
    except (ImportError, AttributeError, ValueError):
        pass
    # Built without calling the class's __init__: subclasses may take other arguments.
    err = cls.__new__(cls)
    message = str(data.get("message", ""))
    Exception.__init__(err, message)
    err.message = message
    err.details = dict(data.get("details") or {})
    if data.get("code") and data["code"] != cls.code:
        err.code = str(data["code"])
    for key, value in err.details.items():  # e.g. PlanValidationError.task / .arg
        if key.isidentifier() and not hasattr(cls, key):
            setattr(err, key, value)
    return err


def is_transient(e: BaseException) -> bool:
    """True for failures of Ray rather than of the request: the replica, its worker or its node
    died or is unreachable, the deployment has no replica yet, or its queue is full."""
    from ray import exceptions as rx
    from ray.serve import exceptions as sx

    transient = (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError,
                 rx.LocalRayletDiedError, rx.OutOfMemoryError, rx.RaySystemError,
                 sx.BackPressureError, sx.DeploymentUnavailableError,
                 getattr(sx, "ReplicaUnavailableError", sx.DeploymentUnavailableError))
    if isinstance(e, rx.TaskCancelledError):
        return False
    if isinstance(e, transient):
        return True
    cause = getattr(e, "cause", None)  # a RayTaskError wrapping an actor death upstream
    return isinstance(e, rx.RayTaskError) and isinstance(cause, transient)


def short_reason(e: BaseException) -> str:
    """What went wrong, without Ray's actor ids, pids and node addresses."""
    from ray import exceptions as rx

    if isinstance(e, rx.ActorDiedError | rx.WorkerCrashedError):
        return f"{type(e).__name__}: the replica died"
    if isinstance(e, rx.NodeDiedError):
        return "NodeDiedError: the replica's node died"
    if isinstance(e, rx.RayActorError):
        return f"{type(e).__name__}: the replica is unreachable"
    return type(e).__name__


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if value is None or isinstance(value, bool | int | float | str):
            out[key] = _bounded(value) if isinstance(value, str) else value
        else:
            out[key] = _bounded(repr(value))
    return out
