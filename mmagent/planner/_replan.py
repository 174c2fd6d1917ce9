"""Partial re-planning: when a task fails, replace only the failed part of the plan.

The failed tasks and everything that depends on them are dropped; the results of every other
task are kept and fed to the executor as already computed (``Executor.run(completed=...)``), so
nothing that worked runs twice. The planner writes replacement tasks that may use the kept
results (:meth:`Planner.replan`); the new plan runs; this repeats at most ``attempts`` times.

A re-plan is bounded: it gets at most ``timeout_s``, then its LLM stops generating (a local
backend checks :func:`~mmagent.planner._backends.stop_reason` before each forward pass, and the
planner before each call) and the run ends with its first failure; a cancel of the run stops
it the same way. Each failure message it reads is cut to :data:`MAX_FAILURE_CHARS`. A
``Replanning`` event goes out when it starts and every :data:`HEARTBEAT_S` seconds while the
LLM works; its tokens travel on the ``Replanned`` event, or on ``ReplanFailed`` if it gives up.

>>> plan, result = run_with_replanning(executor, agent.planner, prompt, inputs, plan,
...                                    emit, attempts=1)  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import PlanningError, PlanningStoppedError
from mmagent.events import ReplanFailed, Replanned, Replanning
from mmagent.execution._executor import ExecutionResult, Executor
from mmagent.plan._ir import Plan
from mmagent.planner._backends import stop_when
from mmagent.planner._planner import Planner

__all__ = ["run_with_replanning", "dependents"]

logger = logging.getLogger(__name__)
MAX_FAILURE_CHARS = 500
"""Longest failure message the re-plan prompt quotes (a tool's error may be long)."""
HEARTBEAT_S = 5.0
"""How often a ``Replanning`` event says the re-plan is still going."""
STOP_GRACE_S = 2.0
"""How long past its time a re-plan may take to stop: a local LLM stops before its next forward
pass, a short one (a loading model, or a remote call, cannot be interrupted: the run no longer
waits for them, and the LLM stops before its first pass or the planner before its next call)."""


def dependents(plan: Plan, task_ids: set[str]) -> set[str]:
    """``task_ids`` and every task that depends on one of them, directly or not."""
    out = set(task_ids)
    for task in plan.topological_order():
        if plan.dependencies(task.id) & out:
            out.add(task.id)
    return out


def run_with_replanning(executor: Executor, planner: Callable[[], Planner], prompt: str,
                        inputs: dict[str, ArtifactRef], plan: Plan,
                        emit: Callable[[Any], None], attempts: int = 1,
                        run_id: str | None = None, timeout_s: float | None = None,
                        **run_options: Any) -> tuple[Plan, ExecutionResult]:
    """Run ``plan``; after a failure, re-plan the failed sub-DAG and run again (at most
    ``attempts`` times). Returns the last plan run and its result. ``planner`` is called only
    when a re-plan is needed (building one may load a model). ``run_options`` (approve,
    cancel, meta) go to every :meth:`Executor.run`; a re-plan runs as ``<run_id>.<attempt>``,
    a run of its own that can be resumed by that id. ``timeout_s`` bounds each re-plan."""
    result = executor.run(plan, inputs, emit, run_id=run_id, **run_options)
    for attempt in range(1, attempts + 1):
        if not result.failures or result.status != "failed":  # paused or cancelled: stop
            break
        doomed = dependents(plan, set(result.failures) | set(result.skipped))
        # in plan order, not in the order tasks happened to finish: the re-plan prompt and
        # the Replanned event are the same on every run
        kept = {t.id: result.outputs[t.id] for t in plan.tasks
                if t.id in result.outputs and t.id not in doomed}
        failures = {tid: f.message[:MAX_FAILURE_CHARS] for tid, f in result.failures.items()}

        # defaults bind this attempt's values (the call runs on a thread of its own)
        def call(p: Any = plan, f: Any = failures, k: Any = kept) -> Any:
            return planner().replan(prompt, inputs, p, f, k)

        failed = sorted(failures)
        t0 = time.monotonic()
        try:
            replanned = _bounded(call, emit, attempt, failed, timeout_s,
                                 run_options.get("cancel"))
        except PlanningError as e:  # the first failure stays what the user sees
            logger.warning("re-planning after %s failed: %s", failed, e.message)
            emit(ReplanFailed(attempt=attempt, failed=failed, code=e.code, message=e.message,
                              elapsed_s=round(time.monotonic() - t0, 1),
                              prompt_tokens=int(e.details.get("prompt_tokens", 0)),
                              completion_tokens=int(e.details.get("completion_tokens", 0))))
            break
        new = replanned.plan
        emit(Replanned(attempt=attempt, failed=failed,
                       dropped=[t.id for t in plan.tasks if t.id not in kept],
                       kept=list(kept), plan=new, prompt_tokens=replanned.prompt_tokens,
                       completion_tokens=replanned.completion_tokens))
        plan = new
        result = executor.run(plan, inputs, emit, completed=kept,
                              run_id=f"{run_id}.{attempt}" if run_id else None, **run_options)
    return plan, result


def _bounded(replan: Callable[[], Any], emit: Callable[[Any], None], attempt: int,
             failed: list[str], timeout_s: float | None,
             cancel: threading.Event | None = None) -> Any:
    """``replan()`` on a thread of its own, with ``Replanning`` heartbeats, told to stop once
    ``timeout_s`` has passed or ``cancel`` is set: then :class:`PlanningStoppedError` with the
    tokens spent (or, if it has not stopped within :data:`STOP_GRACE_S`, without them)."""
    t0 = time.monotonic()
    deadline = None if timeout_s is None else t0 + timeout_s

    def reason() -> str | None:
        if cancel is not None and cancel.is_set():
            return "the run was cancelled"
        if deadline is not None and time.monotonic() >= deadline:
            return f"got no re-plan within {timeout_s:g} s (planner.replan_timeout_s)"
        return None

    def work() -> Any:
        with stop_when(reason):  # read by the LLM backend on this thread, per token
            return replan()

    emit(Replanning(attempt=attempt, failed=failed))
    pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmagent-replan")
    future = pool.submit(work)
    pool.shutdown(wait=False)
    while True:
        why = reason()
        wait = HEARTBEAT_S if deadline is None else min(HEARTBEAT_S, deadline - time.monotonic())
        if why is not None:
            wait = STOP_GRACE_S  # it was told to stop: wait for that (and for its tokens)
        try:
            return future.result(timeout=max(wait, 0.0))
        except cf.TimeoutError:
            if why is not None:
                logger.warning("the re-plan did not stop within %g s of being told to (%s); "
                               "the run goes on without it", STOP_GRACE_S, why)
                raise PlanningStoppedError(why, reason=why) from None
            if deadline is None or deadline - time.monotonic() > 0:
                emit(Replanning(attempt=attempt, failed=failed,
                                elapsed_s=round(time.monotonic() - t0, 1)))
