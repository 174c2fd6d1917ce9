"""The executor: runs a validated plan as dataflow on LangGraph. It never plans.

The plan compiles into a LangGraph functional-API entrypoint in which every task is a LangGraph
``task``. A task is launched the moment the results it references exist (not at the end of a
superstep), so independent branches overlap and uneven branches do not wait for each other.
State holds JSON outputs and artifact references, never media bytes.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.func import entrypoint, task

from .artifacts import ArtifactRef, ArtifactStore
from .errors import MMAgentError
from .events import ArtifactCreated, TaskFailed, TaskFinished, TaskStarted
from .plan import Plan, parse_ref
from .registry import ToolRegistry
from .tool import ToolContext

__all__ = ["Executor", "ExecutionResult", "TaskFailure"]

logger = logging.getLogger(__name__)
Emit = Callable[[Any], None]
_ERROR_KEY = "__mmagent_error__"


@dataclass
class TaskFailure:
    code: str
    message: str


@dataclass
class ExecutionResult:
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Task id -> the tool's output as JSON (artifact fields are ref dicts)."""
    failures: dict[str, TaskFailure] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Tasks not run because something they depend on failed."""

    @property
    def ok(self) -> bool:
        return not self.failures and not self.skipped


class Executor:
    """Runs plans against a registry's tools, emitting events as tasks start and finish."""

    def __init__(self, registry: ToolRegistry, store: ArtifactStore,
                 max_concurrency: int = 8) -> None:
        if max_concurrency < 1:
            raise ValueError(f"got max_concurrency={max_concurrency}; expected at least 1")
        self.registry = registry
        self.store = store
        self.max_concurrency = max_concurrency

    def run(self, plan: Plan, inputs: dict[str, ArtifactRef], emit: Emit | None = None,
            run_id: str | None = None,
            completed: dict[str, dict[str, Any]] | None = None) -> ExecutionResult:
        """Run ``plan``. ``completed`` maps task ids to outputs already computed (a re-plan
        keeps them): those tasks are not run again, and their outputs feed their dependents."""
        emit = emit or (lambda _e: None)
        workflow = self._compile(plan, emit, dict(completed or {}))
        # The entrypoint bounds concurrency itself; LangGraph's own bound (which also counts
        # the waiting entrypoint, and deadlocks when that leaves no slot) gets headroom.
        config = {"configurable": {"thread_id": run_id or uuid.uuid4().hex},
                  "max_concurrency": self.max_concurrency + 2}
        values = {name: ref.model_dump(mode="json") for name, ref in inputs.items()}
        raw = workflow.invoke({"inputs": values}, config)
        result = ExecutionResult()
        for task_id, out in raw["outputs"].items():
            if _ERROR_KEY in out:
                result.failures[task_id] = TaskFailure(**out[_ERROR_KEY])
            else:
                result.outputs[task_id] = out
        result.skipped = raw["skipped"]
        return result

    def _compile(self, plan: Plan, emit: Emit, completed: dict[str, dict[str, Any]]):
        registry, store, limit = self.registry, self.store, self.max_concurrency
        deps = {t.id: plan.dependencies(t.id) for t in plan.tasks}

        @task
        def run_tool(task_id: str, args: dict[str, Any]) -> dict[str, Any]:
            spec = plan.task(task_id)
            emit(TaskStarted(task_id=task_id, tool=spec.tool))
            t0 = time.perf_counter()
            try:
                inp = registry.get(spec.tool).parse_input(args)  # bounds first, then load
                with registry.using(spec.tool, emit) as tool:  # never unloaded while it runs
                    out = tool.run([inp], ToolContext(store, emit, task_id))[0]
            except Exception as e:  # reported as data, so independent branches keep going
                code = e.code if isinstance(e, MMAgentError) else "tool.failed"
                msg = f"task {task_id!r} ({spec.tool}) failed: {e}"
                logger.warning(msg, exc_info=not isinstance(e, MMAgentError))
                emit(TaskFailed(task_id=task_id, tool=spec.tool, code=code, message=msg))
                return {_ERROR_KEY: {"code": code, "message": msg}}
            for fname in type(out).model_fields:
                value = getattr(out, fname)
                for ref in value if isinstance(value, list) else [value]:
                    if isinstance(ref, ArtifactRef):
                        emit(ArtifactCreated(task_id=task_id, field=fname, artifact=ref))
            data = out.model_dump(mode="json")
            emit(TaskFinished(task_id=task_id, tool=spec.tool, output=data,
                              seconds=time.perf_counter() - t0))
            return data

        @entrypoint()
        def workflow(state: dict[str, Any]) -> dict[str, Any]:
            inputs = state["inputs"]
            done: dict[str, dict[str, Any]] = dict(completed)
            skipped: list[str] = []
            pending = [t.id for t in plan.topological_order() if t.id not in done]
            running: dict[cf.Future, str] = {}
            while pending or running:
                for task_id in list(pending):
                    if any(d in skipped or _ERROR_KEY in done.get(d, {}) for d in deps[task_id]):
                        pending.remove(task_id)
                        skipped.append(task_id)
                    elif deps[task_id] <= done.keys() and len(running) < limit:
                        pending.remove(task_id)
                        args = _resolve(plan.task(task_id).args, inputs, done)
                        running[run_tool(task_id, args)] = task_id
                if not running:
                    continue
                finished, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    done[running.pop(fut)] = fut.result()
            return {"outputs": done, "skipped": skipped}

        return workflow


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
