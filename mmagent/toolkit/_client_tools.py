"""Functions a client runs itself (OpenAI function calling), as tools of one request.

Each function becomes a :class:`Tool` whose card the planner reads (its description and JSON
Schema parameters) and whose call pauses: it emits :class:`ClientCallRequested` and waits
until the client's output arrives through :meth:`ClientFunctions.answer`; the output is the
task's ``text``. The wait lives in the run's thread, so a paused run resumes in the process
that started it.

>>> fns = ClientFunctions([ClientFunction(name="get_weather", description="Weather of a city",
...     parameters={"type": "object", "properties": {"city": {"type": "string"}},
...                 "required": ["city"]})])
>>> [t.name for t in fns.tool_classes()]
['get_weather']
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from mmagent.errors import InputError, ToolExecutionError
from mmagent.toolkit._base import Tool, ToolContext
from mmagent.toolkit._mcp_client import _fields

__all__ = ["ClientFunction", "ClientFunctions", "ClientTool", "snake_name"]


@dataclass
class ClientFunction:
    """One function of a request's ``tools``: OpenAI's name, description and parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Call:
    id: str
    name: str
    arguments: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    output: str | None = None


class ClientTool(Tool):
    """A client's function as a tool: calling it waits for the client's output."""

    category = "utility"
    deterministic = False  # the client's answer is not ours to cache
    functions: ClassVar[ClientFunctions]
    client_name: ClassVar[str]
    """The function's name as the client spells it (the tool's name is its snake_case)."""

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        from mmagent.events import ClientCallRequested

        outs = []
        for inp in inputs:
            call = self.functions._open(self.client_name, inp.model_dump(mode="json",
                                                                          exclude_none=True))
            ctx.emit(ClientCallRequested(task_id=ctx.task_id or "", tool=self.client_name,
                                         call_id=call.id, arguments=call.arguments))
            outs.append(self.Output(text=self.functions._wait(call)))
        return outs


class ClientFunctions:
    """The client tools of one request, and the calls that wait for the client."""

    def __init__(self, functions: list[ClientFunction], timeout_s: float = 600.0) -> None:
        self.functions = functions
        self.timeout_s = timeout_s
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._classes = [self._tool_class(f) for f in functions]

    def tool_classes(self) -> list[type[Tool]]:
        return list(self._classes)

    def waiting(self) -> list[str]:
        """The ids of the calls the client has not answered yet."""
        with self._lock:
            return [c.id for c in self._calls.values() if not c.done.is_set()]

    def answer(self, call_id: str, output: str) -> bool:
        """Deliver the client's output of call ``call_id``; False if no call waits on it."""
        with self._lock:
            call = self._calls.get(call_id)
        if call is None or call.done.is_set():
            return False
        call.output = output
        call.done.set()
        return True

    def close(self) -> None:
        """Stop waiting: calls still open fail (the client went away or the run was
        cancelled)."""
        with self._lock:
            self._closed = True
            calls = list(self._calls.values())
        for call in calls:
            call.done.set()

    def _open(self, name: str, arguments: dict[str, Any]) -> _Call:
        call = _Call(id="call_" + uuid.uuid4().hex[:24], name=name, arguments=arguments)
        with self._lock:
            self._calls[call.id] = call
        return call

    def _wait(self, call: _Call) -> str:
        if not call.done.wait(self.timeout_s) or call.output is None:
            raise ToolExecutionError(f"got no output from the client for its function "
                                     f"{call.name!r} (call {call.id}) within "
                                     f"{self.timeout_s:g} s; expected a tool message answering "
                                     "it")
        return call.output

    def _tool_class(self, fn: ClientFunction) -> type[ClientTool]:
        try:
            Input = create_model(f"{fn.name}_Input", __base__=_Forbid,
                                 **_fields(fn.parameters, all_optional=False))
        except ValueError as e:
            raise InputError(f"got function {fn.name!r} whose parameters cannot be a tool's "
                             f"input: {e}", param="tools") from None
        name = snake_name(fn.name)
        try:
            return type(f"Client_{name}", (ClientTool,), {
                "name": name, "client_name": fn.name,
                "description": (fn.description or fn.name).strip() + " (run by the client)",
                "Input": Input, "Output": _Output, "functions": self, "__module__": __name__})
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
