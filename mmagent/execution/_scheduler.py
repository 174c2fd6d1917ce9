"""The dataflow loop of one run segment, run inside the LangGraph entrypoint.

A plan task starts the moment the results it references exist, not at the end of a superstep.
One pass of :meth:`Scheduler.run` is a sequence of named steps:

1. **cancel**: once the run's cancel event is set, nothing new starts;
2. **ready**: every pending task whose inputs exist starts (up to the concurrency bound); a task
   behind a failed, skipped or rejected one is skipped; a task that needs a human's yes and has
   no decision yet waits;
3. **collect**: wait for the first running task to finish and record its output or error;
4. **ask**: when nothing runs and tasks wait for approval, ask (LangGraph ``interrupt``: the
   first time, the run pauses here).

The loop ends when nothing is pending or running; :meth:`Scheduler.outcome` is what the
executor turns into an :class:`~mmagent.execution.ExecutionResult`.

Interrupts are matched by the order they are raised in, so a resumed segment first asks again
the questions it asked before, in the same order, to get their answers back.

A task's arguments are resolved against the request's inputs and the outputs so far:

>>> _resolve({"image": "$input.image0", "texts": ["$t1.caption", "as is"]},
...          {"image0": {"id": "ab"}}, {"t1": {"caption": "a fox"}})
{'image': {'id': 'ab'}, 'texts': ['a fox', 'as is']}
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langgraph.types import interrupt

from mmagent.events import ApprovalRequested
from mmagent.execution._approval import ApprovalRequest, answer_for
from mmagent.plan._ir import Plan, parse_ref
from mmagent.runs._journal import RunStore

__all__ = ["Scheduler", "Segment", "ERROR_KEY", "Emit"]

Emit = Callable[[Any], None]
"""Where a run's events go."""
ERROR_KEY = "__mmagent_error__"
"""A task call returns ``{"out": ...}`` (and ``"cached": True`` from the cache), or
``{ERROR_KEY: {code, message}}``: failures travel as data, so other branches keep going."""


@dataclass
class Segment:
    """One segment of a run (one LangGraph thread): what the entrypoint closes over."""

    run_id: str
    segment: int
    plan: Plan
    emit: Emit
    completed: dict[str, dict[str, Any]]
    runs: RunStore | None
    cancel: threading.Event | None


class Scheduler:
    """Runs one segment's tasks as dataflow; a fresh one per entrypoint call.

    ``calls`` maps task ids to LangGraph tasks (resolved arguments in, a future out),
    ``needs_ok`` holds the tasks that wait for approval, ``request`` builds the question for a
    list of task ids.
    """

    def __init__(self, seg: Segment, calls: dict[str, Callable[[dict], cf.Future]],
                 needs_ok: set[str], limit: int,
                 request: Callable[[list[str]], ApprovalRequest]) -> None:
        self.seg, self.calls, self.needs_ok, self.limit = seg, calls, needs_ok, limit
        self.request = request
        self.deps = {t.id: seg.plan.dependencies(t.id) for t in seg.plan.tasks}
        self.inputs: dict[str, Any] = {}
        self.done: dict[str, dict[str, Any]] = dict(seg.completed)
        self.failed: dict[str, dict[str, str]] = {}
        self.decisions: dict[str, bool] = {}
        self.skipped: dict[str, str] = {}
        self.after_failure: list[str] = []
        self.rejected: list[str] = []
        self.cached: list[str] = []
        self.cancelled = False
        self.pending: list[str] = []
        self.running: dict[cf.Future, str] = {}

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        self.inputs = inputs
        self.recall()
        self.pending = [t.id for t in self.seg.plan.topological_order()
                        if t.id not in self.done and t.id not in self.failed]
        while self.pending or self.running:
            self.cancel_if_asked()
            waiting = self.start_ready()
            if self.running:
                self.collect()
            elif waiting and self.seg.runs is not None:
                self.ask(waiting)
        return self.outcome()

    # -- the steps ------------------------------------------------------------------------------

    def recall(self) -> None:
        """What the journal holds of this run: finished tasks, decisions, questions asked."""
        runs = self.seg.runs
        if runs is None:
            return
        ok, bad = runs.results(self.seg.run_id)
        self.done.update(ok)
        self.failed.update(bad)
        self.decisions = runs.decisions(self.seg.run_id)
        for asked in runs.requests(self.seg.run_id, self.seg.segment):
            self.decide(asked, interrupt(_payload(self.request(asked))))

    def cancel_if_asked(self) -> None:
        if self.seg.cancel is not None and self.seg.cancel.is_set() and self.pending:
            self.cancelled = True
            for tid in self.pending:
                self.skipped[tid] = "the run was cancelled"
            self.pending.clear()

    def start_ready(self) -> list[str]:
        """Start, skip or reject what can be; the ready tasks that wait for a decision."""
        waiting: list[str] = []
        for task_id in list(self.pending):
            # the common, all-well case does not look for blockers
            if (self.failed or self.skipped or self.rejected) and self.skip_if_blocked(task_id):
                continue
            if not self.deps[task_id] <= self.done.keys():
                continue
            if task_id in self.needs_ok:
                if task_id not in self.decisions:
                    waiting.append(task_id)
                    continue
                if not self.decisions[task_id]:
                    self.pending.remove(task_id)
                    self.rejected.append(task_id)
                    continue
            if len(self.running) < self.limit:
                self.pending.remove(task_id)
                self.start(task_id)
        return waiting

    def skip_if_blocked(self, task_id: str) -> bool:
        blocker = next((d for d in sorted(self.deps[task_id]) if d in self.failed or
                        d in self.skipped or d in self.rejected), None)
        if blocker is None:
            return False
        self.pending.remove(task_id)
        why = ("rejected" if blocker in self.rejected else "failed"
               if blocker in self.failed else "skipped")
        self.skipped[task_id] = f"{blocker}, which it needs, was {why}"
        if blocker in self.failed or blocker in self.after_failure:
            self.after_failure.append(task_id)
        return True

    def start(self, task_id: str) -> None:
        args = _resolve(self.seg.plan.task(task_id).args, self.inputs, self.done)
        self.running[self.calls[task_id](args)] = task_id

    def collect(self) -> None:
        finished, _ = cf.wait(list(self.running), return_when=cf.FIRST_COMPLETED)
        for fut in finished:
            task_id = self.running.pop(fut)
            out = fut.result()
            if ERROR_KEY in out:
                self.failed[task_id] = out[ERROR_KEY]
            else:
                self.done[task_id] = out["out"]
                if out.get("cached"):
                    self.cached.append(task_id)

    def ask(self, waiting: list[str]) -> None:
        assert self.seg.runs is not None
        self.seg.runs.add_request(self.seg.run_id, self.seg.segment, waiting)
        request = self.request(waiting)
        self.seg.emit(ApprovalRequested(run_id=self.seg.run_id, tasks=request.tasks))
        self.decide(waiting, interrupt(_payload(request)))  # pauses the first time

    def decide(self, task_ids: list[str], answer: Any) -> None:
        decided = answer_for(answer, task_ids)
        self.decisions.update(decided)
        assert self.seg.runs is not None
        self.seg.runs.decide(self.seg.run_id, decided)

    def outcome(self) -> dict[str, Any]:
        return {"outputs": self.done, "failed": self.failed, "skipped": self.skipped,
                "after_failure": self.after_failure, "rejected": self.rejected,
                "cancelled": self.cancelled, "cached": self.cached}


def _payload(request: ApprovalRequest) -> dict[str, Any]:
    return {"run_id": request.run_id, "tasks": request.tasks}


def _resolve(value: Any, inputs: dict[str, Any], done: dict[str, dict[str, Any]]) -> Any:
    """Replace references with the values they point to."""
    ref = parse_ref(value)
    if ref is not None:
        return inputs[ref.field] if ref.is_input else done[ref.source][ref.field]
    if isinstance(value, list):
        return [_resolve(v, inputs, done) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, inputs, done) for k, v in value.items()}
    return value
