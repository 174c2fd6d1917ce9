"""Chat backends the planner talks to: the interface every backend implements, and the stop
signal a backend that generates locally checks per token.

>>> with stop_when(lambda: "time is up"):
...     stop_reason()
'time is up'
>>> stop_reason() is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Completion", "ChatBackend", "Message", "stop_when", "stop_reason"]

Message = dict[str, str]
"""An OpenAI-style chat message: ``{"role": "system"|"user"|"assistant", "content": str}``."""

# A context variable rather than a parameter of ``complete``: every backend keeps the one
# signature, and one that cannot stop mid-call (a remote server) simply never asks.
_STOP: ContextVar[Callable[[], str | None] | None] = ContextVar("mmagent_llm_stop", default=None)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatBackend(Protocol):
    """Turns chat messages into one completion.

    With ``json_schema`` the backend must return text that parses as JSON conforming to the
    schema where it can enforce it (local models decode under the constraint; remote servers are
    asked through ``response_format``). A backend that generates locally checks
    :func:`stop_reason` before each forward pass and raises
    :class:`~mmagent.errors.PlanningStoppedError` when it names a reason.
    """

    def complete(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 max_tokens: int = 512) -> Completion: ...


@contextmanager
def stop_when(check: Callable[[], str | None]) -> Iterator[None]:
    """LLM calls made inside (on this thread) stop as soon as ``check()`` returns a reason
    (e.g. ``"planner.replan_timeout_s (60 s) ran out"``); ``None`` means go on."""
    token = _STOP.set(check)
    try:
        yield
    finally:
        _STOP.reset(token)


def stop_reason() -> str | None:
    """Why the LLM call under way must stop now, or None (also outside :func:`stop_when`)."""
    check = _STOP.get()
    return None if check is None else check()
