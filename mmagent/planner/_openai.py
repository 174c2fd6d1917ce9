"""Any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, llama.cpp server, ..."""

from __future__ import annotations

import os
from typing import Any, Literal

from mmagent.errors import ConfigError, PlanningError
from mmagent.planner._backends import Completion, Message

__all__ = ["OpenAIChatBackend"]


class OpenAIChatBackend:
    """Chat completions over HTTP through the official ``openai`` client (which retries).

    ``response_format`` says how a plan schema is requested: ``json_schema`` (OpenAI, vLLM,
    llama.cpp server), ``json_object`` (older servers), or ``none`` (prompt only; the planner's
    validator and repair loop still apply).
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY",
                 response_format: Literal["json_schema", "json_object", "none"] = "json_schema",
                 timeout_s: float = 120.0, max_retries: int = 2,
                 http_client: Any = None) -> None:
        import openai

        key = api_key or os.environ.get(api_key_env) or ("not-needed" if base_url else None)
        if key is None:
            raise ConfigError(f"planner.api_key: no API key given and ${api_key_env} is unset; "
                              "expected a key for the OpenAI API (or set planner.base_url for "
                              "a local server)", key="planner.api_key")
        self.model = model
        self.response_format = response_format
        self._client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s,
                                     max_retries=max_retries, http_client=http_client)

    def complete(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 max_tokens: int = 512) -> Completion:
        import openai

        kwargs: dict[str, Any] = {}
        if json_schema is not None and self.response_format == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": "plan", "schema": json_schema}}
        elif json_schema is not None and self.response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        try:
            resp = self._client.chat.completions.create(
                model=self.model, messages=messages,  # type: ignore[arg-type]  # role dicts
                max_tokens=max_tokens, temperature=0,
                **kwargs)
        except openai.OpenAIError as e:
            raise PlanningError(f"the planner endpoint failed for model {self.model!r}: "
                                f"{type(e).__name__}: {str(e).splitlines()[0]}") from e
        usage = resp.usage
        return Completion(
            text=resp.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )
