"""Partial re-planning: when a task fails, replace only the failed part of the plan.

The failed tasks and everything that depends on them are dropped; the results of every other
task are kept and fed to the executor as already computed (``Executor.run(completed=...)``), so
nothing that worked runs twice. The planner writes replacement tasks that may use the kept
results (:meth:`Planner.replan`); the new plan runs; this repeats at most ``attempts`` times.

>>> plan, result = run_with_replanning(executor, agent.planner, prompt, inputs, plan,
...                                    emit, attempts=1)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import PlanningError
from mmagent.events import Replanned
from mmagent.execution._executor import ExecutionResult, Executor
from mmagent.plan._ir import Plan
from mmagent.planner._planner import Planner

__all__ = ["run_with_replanning", "dependents"]

logger = logging.getLogger(__name__)


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
                        run_id: str | None = None, **run_options: Any
                        ) -> tuple[Plan, ExecutionResult]:
    """Run ``plan``; after a failure, re-plan the failed sub-DAG and run again (at most
    ``attempts`` times). Returns the last plan run and its result. ``planner`` is called only
    when a re-plan is needed (building one may load a model). ``run_options`` (approve,
    cancel, meta) go to every :meth:`Executor.run`; a re-plan runs as ``<run_id>.<attempt>``,
    a run of its own that can be resumed by that id."""
    result = executor.run(plan, inputs, emit, run_id=run_id, **run_options)
    for attempt in range(1, attempts + 1):
        if not result.failures or result.status != "failed":  # paused or cancelled: stop
            break
        doomed = dependents(plan, set(result.failures) | set(result.skipped))
        # in plan order, not in the order tasks happened to finish: the re-plan prompt and
        # the Replanned event are the same on every run
        kept = {t.id: result.outputs[t.id] for t in plan.tasks
                if t.id in result.outputs and t.id not in doomed}
        failures = {tid: f.message for tid, f in result.failures.items()}
        try:
            new = planner().replan(prompt, inputs, plan, failures, kept).plan
        except PlanningError as e:  # the first failure stays what the user sees
            logger.warning("re-planning after %s failed: %s", sorted(failures), e.message)
            break
        emit(Replanned(attempt=attempt, failed=sorted(failures),
                       dropped=[t.id for t in plan.tasks if t.id not in kept],
                       kept=list(kept), plan=new))
        plan = new
        result = executor.run(plan, inputs, emit, completed=kept,
                              run_id=f"{run_id}.{attempt}" if run_id else None, **run_options)
    return plan, result
