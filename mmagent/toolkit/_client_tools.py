"""Functions a client runs itself (OpenAI function calling), as tools of one request.

Each function becomes a :class:`ClientTool` whose card the planner reads (its description and
JSON Schema parameters). Running one does not wait: it asks the run for the client's output
(:meth:`~mmagent.toolkit.ToolContext.ask_client`). The first time, the executor records the
call in the run's journal and the run pauses (``awaiting_client``); once the client answered
it (``Agent.resume(run_id, outputs={call_id: text})``, a ``tool`` message over HTTP), the
resumed task returns that output as its ``text``, on whichever process resumes it.

>>> tools = client_tools([ClientFunction(name="GetWeather", description="Weather of a city",
...     parameters={"type": "object", "properties": {"city": {"type": "string"}},
...                 "required": ["city"]})])
>>> [(t.name, t.function.name) for t in tools]
[('get_weather', 'GetWeather')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from mmagent.errors import InputError
from mmagent.toolkit._base import Tool, ToolContext
from mmagent.toolkit._mcp_client import _fields

__all__ = ["ClientFunction", "ClientTool", "client_tools", "snake_name"]


@dataclass
class ClientFunction:
    """One function of a request's ``tools``: OpenAI's name, description and parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


class ClientTool(Tool):
    """A client's function as a tool: its output is the client's answer to the call."""

    category = "utility"
    deterministic = False  # the client's answer is not ours to cache
    function: ClassVar[ClientFunction]
    """The function as the client declared it (its name as the client spells it; the tool's
    name is its snake_case)."""

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        return [self.Output(text=ctx.ask_client(
            self.function.name, inp.model_dump(mode="json", exclude_none=True)))
            for inp in inputs]


def client_tools(functions: Sequence[ClientFunction]) -> list[type[Tool]]:
    """One :class:`ClientTool` class per function, to join a request's tools
    (``Agent.stream(..., tools=...)``); :class:`InputError` for a function that cannot be one."""
    return [_tool_class(fn) for fn in functions]


def _tool_class(fn: ClientFunction) -> type[ClientTool]:
    try:
        Input = create_model(f"{fn.name}_Input", __base__=_Forbid,
                             **_fields(fn.parameters, all_optional=False))
    except ValueError as e:
        raise InputError(f"got function {fn.name!r} whose parameters cannot be a tool's "
                         f"input: {e}", param="tools") from None
    name = snake_name(fn.name)
    try:
        return type(f"Client_{name}", (ClientTool,), {
            "name": name, "function": fn,
            "description": (fn.description or fn.name).strip() + " (run by the client)",
            "Input": Input, "Output": _Output, "__module__": __name__})
    except TypeError as e:
        raise InputError(f"got function {fn.name!r}; expected a snake_case name and a "
                         f"description ({e})", param="tools") from None


def snake_name(name: str) -> str:
    """``GetWeather`` / ``get-weather`` -> ``get_weather`` (tool names are snake_case)."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
    return name if re.match(r"^[a-z]", name) else "fn_" + name


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Output(_Forbid):
    text: str = Field(description="what the client's function returned")
