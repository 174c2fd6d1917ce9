"""What chat completions and the Responses API share for OpenAI function calling and
structured output: runs with the client's functions, which pause durably on a call, and
answers fitted to a JSON Schema.

A request with ``tools`` runs with those functions as tools of its own
(:func:`~mmagent.toolkit.client_tools`). When the plan reaches one, the run pauses: the call
is recorded in the run journal, the run is a run of the runs API ``awaiting_client``, no thread
waits, and the answer is the call (``tool_calls`` / ``function_call`` items). The client's
output (a ``tool`` message / ``function_call_output`` item naming the call id) is recorded
once and resumes the run on whichever instance takes it, also after the server restarted; a
second output for the same call is refused (409 ``run.call_answered``), an unknown call id is
404 ``run.unknown_call``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from mmagent.errors import RunError
from mmagent.events import ClientCallRequested
from mmagent.serving._agent import AgentService, ParsedRequest, RunSummary, wire_call
from mmagent.serving._http_errors import OutputFormatError
from mmagent.toolkit import ClientFunction, client_tools

__all__ = ["Turn", "start", "answer", "arguments", "fit_schema"]


@dataclass
class Turn:
    """Where a run with the client's functions stands after one request: what it did so far,
    and the calls it waits for ({call_id, task_id, name, arguments}; none: it ended)."""

    summary: RunSummary
    calls: list[dict[str, Any]]


def start(shared: AgentService, workflow: str | None, parsed: ParsedRequest, owner: str,
          base_url: str, functions: Sequence[ClientFunction],
          cancel: threading.Event | None = None) -> Turn:
    """Run the request with the client's ``functions`` until it ends or waits for them."""
    link = shared.linker(base_url)
    summary, calls = RunSummary(), []
    for event in shared.events(workflow, parsed, owner, cancel, tools=client_tools(functions),
                               conversation=True):
        summary.add(event, link)
        if isinstance(event, ClientCallRequested):
            calls.append(wire_call(event))
    summary.answer = shared.present(summary.answer, summary.artifacts)
    return Turn(summary, calls)


def answer(shared: AgentService, outputs: dict[str, str], owner: str, base_url: str,
           cancel: threading.Event | None = None) -> Turn:
    """Answer the calls ``outputs`` names ({call_id: text}) and go on with their run until it
    ends or waits for more calls."""
    if shared.pauses is None:
        raise RunError("got outputs of function calls, but this server keeps no paused runs; "
                       "expected a server with the runs API")
    info = shared.pauses.answer_calls(owner, outputs, base_url, cancel)
    calls = (info.pending_calls or []) if info.status == "awaiting_client" else []
    return Turn(RunSummary.of_run(info), calls)


def arguments(call: dict[str, Any]) -> str:
    """A call's arguments as OpenAI sends them (a JSON string)."""
    return json.dumps(call["arguments"])


def fit_schema(shared: AgentService, summary: RunSummary, schema: dict[str, Any],
               name: str = "answer") -> str:
    """The run's answer as JSON conforming to ``schema`` (the planner's LLM fills it from the
    answer and the outputs); :class:`OutputFormatError` if it does not conform."""
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise OutputFormatError(f"got a JSON Schema for {name!r} that is not valid: "
                                f"{e.message}; expected a JSON Schema object",
                                param="response_format") from None
    outputs = json.dumps(summary.outputs, default=str)[:4000]
    messages = [
        {"role": "system", "content": "Put the answer into JSON that conforms to the schema. "
                                      "Use only facts from the answer and the outputs."},
        {"role": "user", "content": f"Answer: {summary.answer}\nOutputs: {outputs}\n"
                                    f"Schema: {json.dumps(schema)}"}]
    text = shared.agent.backend().complete(messages, json_schema=schema).text
    try:
        value = json.loads(text)
        jsonschema.validate(value, schema)
    except (ValueError, jsonschema.ValidationError) as e:
        why = e.message if isinstance(e, jsonschema.ValidationError) else "not JSON"
        raise OutputFormatError(f"got an answer that does not conform to the schema of "
                                f"{name!r} ({why}); expected JSON matching it",
                                param="response_format") from None
    return json.dumps(value)
