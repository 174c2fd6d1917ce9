"""What chat completions and the Responses API share for OpenAI function calling and
structured output: runs that wait for a client's function, parked by call id until the
client's tool message arrives, and answers fitted to a JSON Schema.

A request with ``tools`` runs with those functions as tools of its own
(:class:`~mmagent.toolkit.ClientFunctions`); when the plan reaches one, the run's thread
waits in that task and the answer is the call (``tool_calls`` / ``function_call`` items).
The client's output (a ``tool`` message / ``function_call_output`` item naming the call id)
resumes it. Parked runs live in this process: a tool message that reaches another replica,
or comes after :data:`CALL_TIMEOUT_S`, gets :class:`UnknownCallError`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from mmagent.events import ClientCallRequested
from mmagent.serving._agent import AgentService, Link, RunSummary
from mmagent.serving._http_errors import OutputFormatError, UnknownCallError
from mmagent.toolkit import ClientFunctions

__all__ = ["ClientRun", "PausedRuns", "CALL_TIMEOUT_S", "fit_schema"]

CALL_TIMEOUT_S = 600.0
"""How long a run waits for the client's output of one function call."""


@dataclass
class ClientRun:
    """A run that may wait for its client: its events so far and the calls it waits on."""

    functions: ClientFunctions
    events: Iterator[Any]
    link: Link
    summary: RunSummary = field(default_factory=RunSummary)
    calls: list[ClientCallRequested] = field(default_factory=list)
    parked_at: float = 0.0

    def advance(self, shared: AgentService) -> None:
        """Take events until the run ends (``calls`` empty, ``summary`` final) or waits for
        a call of the client (``calls``)."""
        self.calls = []
        for event in self.events:
            self.summary.add(event, self.link)
            if isinstance(event, ClientCallRequested):
                self.calls.append(event)
                return
        self.summary.answer = shared.present(self.summary.answer, self.summary.artifacts)


class PausedRuns:
    """Runs waiting for a client's output, by call id (one per app)."""

    def __init__(self) -> None:
        self._runs: dict[str, ClientRun] = {}
        self._lock = threading.Lock()

    def park(self, run: ClientRun) -> None:
        now = time.monotonic()
        run.parked_at = now
        with self._lock:
            for cid in [c for c, r in self._runs.items() if now - r.parked_at > CALL_TIMEOUT_S]:
                del self._runs[cid]  # its run gave up waiting (ClientFunctions' timeout)
            for call in run.calls:
                self._runs[call.call_id] = run

    def resume(self, outputs: dict[str, str]) -> ClientRun:
        """The run waiting on these calls, with their outputs delivered."""
        with self._lock:
            runs = {cid: self._runs.pop(cid, None) for cid in outputs}
        for cid, run in runs.items():
            if run is None or not run.functions.answer(cid, outputs[cid]):
                raise UnknownCallError(f"got output for function call {cid[:64]!r}, which no "
                                       "run of this server waits for (it finished, gave up "
                                       f"after {CALL_TIMEOUT_S:g} s, or runs elsewhere); "
                                       "expected the id of a call from the last answer",
                                       param="messages")
        return next(iter(runs.values()))  # type: ignore[return-value]


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
