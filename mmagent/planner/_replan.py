"""Partial re-planning: when a task fails, replace only the failed part of the plan.

The failed tasks and everything that depends on them are dropped; the results of every other
task are kept and fed to the executor as already computed (``Executor.run(completed=...)``), so
nothing that worked runs twice. The planner writes replacement tasks that may use the kept
results (:meth:`Planner.replan`); the new plan runs; this repeats at most ``attempts`` times.

A re-plan is bounded: it gets at most ``timeout_s`` (past it the run ends with its first
failure), each failure message it reads is cut to :data:`MAX_FAILURE_CHARS`, a ``Replanning``
event goes out when it starts and every :data:`HEARTBEAT_S` seconds while the LLM works, and
its tokens travel on the ``Replanned`` event.

>>> plan, result = run_with_replanning(executor, agent.planner, prompt, inputs, plan,
...                                    emit, attempts=1)  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from collections.abc import Callable
from typing import Any

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import PlanningError
from mmagent.events import Replanned, Replanning
from mmagent.execution._executor import ExecutionResult, Executor
from mmagent.plan._ir import Plan
from mmagent.planner._planner import Planner

__all__ = ["run_with_replanning", "dependents"]

logger = logging.getLogger(__name__)
MAX_FAILURE_CHARS = 500
"""Longest failure message the re-plan prompt quotes (a tool's error may be long)."""
HEARTBEAT_S = 5.0
"""How often a ``Replanning`` event says the re-plan is still going."""


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

        # defaults bind this attempt's values: a timed-out call runs on beside the next attempt
        def call(p: Any = plan, f: Any = failures, k: Any = kept) -> Any:
            return planner().replan(prompt, inputs, p, f, k)

        try:
            replanned = _bounded(call, emit, attempt, sorted(f for f in failures), timeout_s)
        except PlanningError as e:  # the first failure stays what the user sees
            logger.warning("re-planning after %s failed: %s", sorted(failures), e.message)
            break
        new = replanned.plan
        emit(Replanned(attempt=attempt, failed=sorted(failures),
                       dropped=[t.id for t in plan.tasks if t.id not in kept],
                       kept=list(kept), plan=new, prompt_tokens=replanned.prompt_tokens,
                       completion_tokens=replanned.completion_tokens))
        plan = new
        result = executor.run(plan, inputs, emit, completed=kept,
                              run_id=f"{run_id}.{attempt}" if run_id else None, **run_options)
    return plan, result


def _bounded(replan: Callable[[], Any], emit: Callable[[Any], None], attempt: int,
             failed: list[str], timeout_s: float | None) -> Any:
    """``replan()`` on a thread of its own, with ``Replanning`` heartbeats; a
    :class:`PlanningError` past ``timeout_s`` (the thread is left to finish on its own: an LLM
    call cannot be interrupted, but the run no longer waits for it)."""
    t0 = time.monotonic()
    emit(Replanning(attempt=attempt, failed=failed))
    pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmagent-replan")
    future = pool.submit(replan)
    pool.shutdown(wait=False)
    while True:
        left = None if timeout_s is None else timeout_s - (time.monotonic() - t0)
        if left is not None and left <= 0:
            future.cancel()
            raise PlanningError(f"got no re-plan within {timeout_s:g} s; expected one "
                                "sooner (planner.replan_timeout_s)", timeout_s=timeout_s)
        try:
            return future.result(timeout=HEARTBEAT_S if left is None else min(HEARTBEAT_S, left))
        except cf.TimeoutError:
            if left is None or left > HEARTBEAT_S:
                emit(Replanning(attempt=attempt, failed=failed,
                                elapsed_s=round(time.monotonic() - t0, 1)))
