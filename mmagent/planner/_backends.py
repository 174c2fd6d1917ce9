"""Chat backends the planner talks to: the interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Completion", "ChatBackend", "Message"]

Message = dict[str, str]
"""An OpenAI-style chat message: ``{"role": "system"|"user"|"assistant", "content": str}``."""


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatBackend(Protocol):
    """Turns chat messages into one completion.

    With ``json_schema`` the backend must return text that parses as JSON conforming to the
    schema where it can enforce it (local models decode under the constraint; remote servers are
    asked through ``response_format``).
    """

    def complete(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 max_tokens: int = 512) -> Completion: ...
