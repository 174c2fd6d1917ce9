"""Calls of the client's own functions inside a run: asked once, recorded in the run journal,
answered once.

A client tool's task asks through :func:`asker`. With no answer recorded, the call is recorded
(``mmagent_client_calls``) and :class:`ClientCallPending` ends the task: the executor reports
it as waiting, not failed, and once nothing else can run the run pauses ``awaiting_client``. An
answer (:func:`answer_calls`) is stored in the journal, so the run resumes from any process;
the resumed task finds it and returns it without asking again.

>>> from mmagent.runs import RunStore
>>> runs = RunStore(None)
>>> runs.create("r1", {"tasks": []}, {})
>>> ask = asker(runs, "r1", "t1")
>>> try:
...     ask("get_weather", {"city": "Paris"})
... except ClientCallPending as pending:
...     call_id = pending.call.call_id
>>> runs.set_status("r1", "awaiting_client")
>>> answer_calls(runs, "r1", {call_id: "sunny"})
>>> ask("get_weather", {"city": "Paris"})
'sunny'
"""

from __future__ import annotations

from mmagent.errors import RunError, UnknownCallError
from mmagent.runs._journal import ClientCall, RunStore
from mmagent.toolkit._base import AskClient

__all__ = ["ClientCallPending", "asker", "answer_calls"]


class ClientCallPending(Exception):
    """A client tool's task whose call the client has not answered yet (not an error: the run
    waits for it)."""

    def __init__(self, call: ClientCall) -> None:
        super().__init__(f"call {call.call_id} of {call.name!r} waits for the client")
        self.call = call


def asker(runs: RunStore, run_id: str, task_id: str) -> AskClient:
    """How task ``task_id`` of ``run_id`` gets the client's output of a call."""

    def ask(name: str, arguments: dict) -> str:
        call = runs.open_call(run_id, task_id, name, arguments)
        if not call.answered or call.output is None:
            raise ClientCallPending(call)
        return call.output

    return ask


def answer_calls(runs: RunStore, run_id: str, outputs: dict[str, str]) -> None:
    """Record the client's ``outputs`` ({call id: text}) of calls of run ``run_id``, which must
    wait for its client: :class:`UnknownCallError` for an id it did not make,
    :class:`~mmagent.errors.CallAnsweredError` for one answered before, :class:`RunError` for a
    run that waits for nothing of its client."""
    calls = [runs.client_call(call_id) for call_id in outputs]
    for call in calls:
        if call.run_id != run_id:
            raise UnknownCallError(f"got an output for function call {call.call_id!r}, which "
                                   f"run {run_id} did not make; expected the id of one of its "
                                   "calls", call_id=call.call_id, run_id=run_id)
        if call.answered:
            runs.answer_call(call.call_id, outputs[call.call_id])  # raises CallAnsweredError
    status = runs.get(run_id).status
    if status != "awaiting_client":
        raise RunError(f"got outputs for run {run_id}, which is {status}; expected a run "
                       "awaiting its client's function outputs", run_id=run_id, status=status)
    for call in calls:
        runs.answer_call(call.call_id, outputs[call.call_id])
