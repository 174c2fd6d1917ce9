"""The dataflow loop of one run segment (inside the LangGraph entrypoint when it may ask for
approval).

A plan task starts the moment the results it references exist, not at the end of a superstep.
One pass of :meth:`Scheduler.run` is a sequence of named steps:

1. **cancel**: once the run's cancel event is set, nothing new starts;
2. **ready**: a task behind a failed, skipped or rejected one is skipped; a task that needs a
   human's yes and has no decision yet waits; every ready task starts (up to the concurrency
   bound) -- on this thread when it is the only one that can run, else on the segment's pool;
3. **collect**: wait for the first running task to finish and record its output or error (a
   task that finishes makes its dependents ready);
4. **ask**: when nothing runs and tasks wait for approval, ask (LangGraph ``interrupt``: the
   first time, the run pauses here);
5. **wait for the client**: when nothing runs or can start and tasks wait for the client's
   output of a call (``WAIT_KEY``), the segment ends: the run pauses ``awaiting_client`` and a
   resumed run (a fresh segment) runs those tasks again, which find the answers recorded.

The loop ends when nothing is pending or running, or on step 5; :meth:`Scheduler.outcome` is
what the executor turns into an :class:`~mmagent.execution.ExecutionResult`.

Interrupts are matched by the order they are raised in, so a resumed segment first asks again
the questions it asked before, in the same order, to get their answers back.

A task's arguments are resolved against the request's inputs and the outputs so far:

>>> _resolve({"image": "$input.image0", "texts": ["$t1.caption", "as is"]},
...          {"image0": {"id": "ab"}}, {"t1": {"caption": "a fox"}})
{'image': {'id': 'ab'}, 'texts': ['a fox', 'as is']}
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import heapq
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langgraph.types import interrupt

from mmagent.events import ApprovalRequested
from mmagent.execution._approval import ApprovalRequest, answer_for
from mmagent.execution._result_cache import ResultCache
from mmagent.plan._ir import Plan, Task, parse_ref
from mmagent.runs._journal import RunStore

__all__ = ["Scheduler", "Segment", "ERROR_KEY", "WAIT_KEY", "Emit", "Call"]

Emit = Callable[[Any], None]
"""Where a run's events go."""
Call = Callable[[Task, dict[str, Any]], dict[str, Any]]
"""Runs one task: its spec and resolved arguments in, its outcome (see ``ERROR_KEY``) out."""
ERROR_KEY = "__mmagent_error__"
"""A task call returns ``{"out": ...}`` (and ``"cached": True`` from the cache), or
``{ERROR_KEY: {code, message}}``: failures travel as data, so other branches keep going."""
WAIT_KEY = "__mmagent_client_call__"
"""A task call returns ``{WAIT_KEY: {call_id, task_id, name, arguments}}`` while its call of
the client's function waits for the client's output."""


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
    cache: ResultCache | None
    """Where the segment's deterministic tools read and write results (None: computed)."""


class Scheduler:
    """Runs one segment's tasks as dataflow; a fresh one per entrypoint call.

    ``call`` runs one task (its spec and resolved arguments in, ``{"out": ...}`` or
    ``{ERROR_KEY: ...}`` out), ``needs_ok`` holds the tasks that wait for approval, ``request``
    builds the question for a list of task ids.

    Each task counts the dependencies it still waits for; one that reaches zero joins the ready
    queue, so a pass costs what is ready, not what is pending. A task that is the only one
    that can run, with nothing running, runs on this thread (nothing could start beside it);
    otherwise tasks run on a pool of ``limit`` threads of this segment's own.
    """

    def __init__(self, seg: Segment, call: Call, needs_ok: set[str], limit: int,
                 request: Callable[[list[str]], ApprovalRequest]) -> None:
        self.seg, self.call, self.needs_ok, self.limit = seg, call, needs_ok, limit
        self.request = request
        order = seg.plan.topological_order()
        self.tasks = {t.id: t for t in order}
        self.rank = {t.id: i for i, t in enumerate(order)}
        self.deps = {t.id: {ref.source for _, ref in t.refs() if not ref.is_input}
                     for t in order}
        self.dependents: dict[str, list[str]] = {t.id: [] for t in order}
        for tid, deps in self.deps.items():
            for d in deps:
                if d in self.dependents:
                    self.dependents[d].append(tid)
        self.inputs: dict[str, Any] = {}
        self.done: dict[str, dict[str, Any]] = dict(seg.completed)
        self.failed: dict[str, dict[str, str]] = {}
        self.decisions: dict[str, bool] = {}
        self.skipped: dict[str, str] = {}
        self.after_failure: list[str] = []
        self.rejected: list[str] = []
        self.cached: list[str] = []
        self.awaiting: dict[str, dict[str, Any]] = {}
        """Tasks whose call of the client's function waits for its output."""
        self.cancelled = False
        self.pending: dict[str, None] = {}
        """Not started, skipped or rejected yet, in topological order."""
        self.missing: dict[str, int] = {}
        """Per pending task, how many of its dependencies are not done yet."""
        self.ready: list[tuple[int, str]] = []
        """Heap (by topological rank) of pending tasks whose dependencies are all done."""
        self.held: dict[str, None] = {}
        """Ready tasks that need a human's yes."""
        self.suspects: list[str] = []
        """Pending tasks behind one that failed since the last pass: to check for skipping."""
        self.running: dict[cf.Future, str] = {}
        self.finished: queue.SimpleQueue[tuple[cf.Future, str]] = queue.SimpleQueue()
        self.pool: cf.ThreadPoolExecutor | None = None

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        self.inputs = inputs
        self.recall()
        self.queue_pending()
        try:
            while self.pending or self.running:
                self.cancel_if_asked()
                waiting, startable = self.start_ready()
                if len(startable) == 1 and not self.running:
                    task_id = startable[0]  # alone: nothing could start beside it
                    self.record(task_id, self.call(self.tasks[task_id], self.args(task_id)))
                    continue
                for task_id in startable:
                    self.start(task_id)
                if self.running:
                    self.collect()
                elif waiting and self.seg.runs is not None:
                    self.ask(waiting)
                elif self.awaiting and not startable:
                    break  # the rest waits for the client
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=False)
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

    def queue_pending(self) -> None:
        """Count what each task waits for; queue the ready ones and those behind a failure."""
        for tid in self.tasks:
            if tid in self.done or tid in self.failed:
                continue
            self.pending[tid] = None
            self.missing[tid] = sum(d not in self.done for d in self.deps[tid])
            if self.missing[tid] == 0:
                self.make_ready(tid)
            if self.failed and not self.deps[tid].isdisjoint(self.failed):
                self.suspects.append(tid)

    def cancel_if_asked(self) -> None:
        if self.seg.cancel is not None and self.seg.cancel.is_set() and self.pending:
            self.cancelled = True
            for tid in self.pending:
                self.skipped[tid] = "the run was cancelled"
            self.pending.clear()
            self.ready.clear()
            self.held.clear()

    def start_ready(self) -> tuple[list[str], list[str]]:
        """Skip or reject what must be, in topological order; then the ready tasks that wait
        for a decision, and those to start now (up to the concurrency bound)."""
        waiting: list[str] = []
        checks = [(self.rank[t], t) for t in (*self.suspects, *self.held)]
        self.suspects.clear()
        heapq.heapify(checks)
        seen: set[str] = set()
        while checks:
            _, task_id = heapq.heappop(checks)
            if task_id in seen or task_id not in self.pending:
                continue
            seen.add(task_id)
            if self.skip_if_blocked(task_id) or self.reject_if_declined(task_id):
                for d in self.dependents[task_id]:  # what is behind it is checked in this pass
                    heapq.heappush(checks, (self.rank[d], d))
            elif task_id in self.held:
                if task_id in self.decisions:  # approved
                    del self.held[task_id]
                    heapq.heappush(self.ready, (self.rank[task_id], task_id))
                else:
                    waiting.append(task_id)
        startable: list[str] = []
        while self.ready and len(self.running) + len(startable) < self.limit:
            _, task_id = heapq.heappop(self.ready)
            del self.pending[task_id]
            startable.append(task_id)
        return waiting, startable

    def skip_if_blocked(self, task_id: str) -> bool:
        if not (self.failed or self.skipped or self.rejected):
            return False
        blocker = next((d for d in sorted(self.deps[task_id]) if d in self.failed or
                        d in self.skipped or d in self.rejected), None)
        if blocker is None:
            return False
        self.drop(task_id)
        why = ("rejected" if blocker in self.rejected else "failed"
               if blocker in self.failed else "skipped")
        self.skipped[task_id] = f"{blocker}, which it needs, was {why}"
        if blocker in self.failed or blocker in self.after_failure:
            self.after_failure.append(task_id)
        return True

    def reject_if_declined(self, task_id: str) -> bool:
        if task_id not in self.held or self.decisions.get(task_id, True):
            return False
        self.drop(task_id)
        self.rejected.append(task_id)
        return True

    def drop(self, task_id: str) -> None:
        """A pending task that will not run (never one in ``ready``: a task behind a failure is
        not ready, and only held tasks are declined)."""
        del self.pending[task_id]
        self.held.pop(task_id, None)

    def make_ready(self, task_id: str) -> None:
        if task_id in self.needs_ok:
            self.held[task_id] = None
        else:
            heapq.heappush(self.ready, (self.rank[task_id], task_id))

    def args(self, task_id: str) -> dict[str, Any]:
        return _resolve(self.tasks[task_id].args, self.inputs, self.done)

    def start(self, task_id: str) -> None:
        if self.pool is None:
            self.pool = cf.ThreadPoolExecutor(self.limit, thread_name_prefix="mmagent-task")
        # each task in a copy of this context: its spans nest under the run's
        fut = self.pool.submit(contextvars.copy_context().run, self.call, self.tasks[task_id],
                               self.args(task_id))
        self.running[fut] = task_id
        fut.add_done_callback(lambda f: self.finished.put((f, task_id)))

    def collect(self) -> None:
        """Wait for a running task to finish; record it and any others finished by then."""
        fut, task_id = self.finished.get()
        while True:
            del self.running[fut]
            self.record(task_id, fut.result())
            try:
                fut, task_id = self.finished.get_nowait()
            except queue.Empty:
                return

    def record(self, task_id: str, out: dict[str, Any]) -> None:
        if WAIT_KEY in out:
            self.awaiting[task_id] = out[WAIT_KEY]
            return
        if ERROR_KEY in out:
            self.failed[task_id] = out[ERROR_KEY]
            self.suspects.extend(self.dependents[task_id])
            return
        self.done[task_id] = out["out"]
        if out.get("cached"):
            self.cached.append(task_id)
        for d in self.dependents[task_id]:
            if d in self.pending:
                self.missing[d] -= 1
                if self.missing[d] == 0:
                    self.make_ready(d)

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
                "cancelled": self.cancelled, "cached": self.cached,
                "awaiting": list(self.awaiting.values())}


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
