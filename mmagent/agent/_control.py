"""Run control for :class:`mmagent.Agent`: resume, approve, cancel; and the executor built from
the config (durable runs, result cache, failure and approval policies).

>>> from mmagent import Agent                                 # doctest: +SKIP
>>> agent = Agent()                                           # doctest: +SKIP
>>> result = agent.run("Paint a fox", approve=lambda req: True)  # doctest: +SKIP
>>> agent.resume(result.run_id, approve=False)                # a paused run  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from mmagent.artifacts._store import ArtifactRef, ArtifactStore
from mmagent.config._config import Config, TaskPolicyConfig, WorkerConfig
from mmagent.events import AnswerReady, Event, RunStarted
from mmagent.execution._executor import (
    ApprovalPolicy,
    ApprovalRequest,
    ExecutionResult,
    Executor,
    TaskPolicy,
)
from mmagent.execution._workers import WorkerPolicy
from mmagent.plan._ir import Plan
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["RunControl", "make_executor", "Approve"]

Approve = Callable[[ApprovalRequest], "bool | dict[str, bool]"]
Decision = bool | dict[str, bool] | Approve | None


def make_executor(config: Config, registry: ToolRegistry, store: ArtifactStore, *,
                  use_cache: bool | None = None) -> Executor:
    """The executor ``executor:`` in the config describes (``use_cache`` overrides
    ``executor.cache``)."""
    ec = config.executor
    from mmagent.stores import make_result_cache, make_run_store

    runs = make_run_store(config) if ec.checkpoint else None
    cache_on = ec.cache if use_cache is None else use_cache
    cache = make_result_cache(config) if cache_on else None
    approval = ApprovalPolicy(tools=tuple(ec.approval.tools),
                              gpu_memory_gb=ec.approval.gpu_memory_gb) \
        if ec.approval.tools or ec.approval.gpu_memory_gb is not None else None
    return Executor(registry, store, max_concurrency=ec.max_concurrency, runs=runs, cache=cache,
                    policy=_policy(ec.policy), approval=approval,
                    tool_policies={n: _policy(p) for n, p in ec.tool_policies.items()},
                    workers=_worker(ec.workers),
                    tool_workers={n: _worker(w) for n, w in ec.tool_workers.items()})


def _worker(w: WorkerConfig) -> WorkerPolicy:
    return WorkerPolicy(max_batch_size=w.max_batch_size, max_wait_s=w.max_wait_s,
                        threads=w.threads)


def _policy(p: TaskPolicyConfig) -> TaskPolicy:
    return TaskPolicy(retries=p.retries, backoff_s=p.backoff_s, timeout_s=p.timeout_s)


def _run_fields(result: ExecutionResult) -> dict[str, Any]:
    pending = result.pending_approval
    return {"run_id": result.run_id, "status": result.status, "skipped": result.skip_reasons,
            "rejected": result.rejected, "cached": result.cached,
            "pending_approval": None if pending is None else
            {"run_id": pending.run_id, "tasks": pending.tasks}}


class RunControl:
    """Resume, approval and cancellation; mixed into :class:`mmagent.Agent`."""

    executor: Executor
    _cancels: dict[str, threading.Event]

    def resume(self, run_id: str, *, approve: Decision = None,
               cancel: threading.Event | None = None):
        """Continue run ``run_id`` (killed, cancelled, or paused for approval).

        Finished tasks are not run again. ``approve`` answers a pending approval: True/False,
        {task_id: bool}, or a callback taking an :class:`ApprovalRequest`. Raises
        :class:`UnknownRunError` or :class:`RunFinishedError` for ids it cannot continue.
        """
        events: list[Any] = []
        result = self._resume(run_id, events.append, approve, cancel)
        result.events = events
        return result.raise_for_failures()

    def stream_resume(self, run_id: str, *, approve: Decision = None,
                      cancel: threading.Event | None = None) -> Iterator[Event]:
        """Like :meth:`resume`, yielding events; the last one is ``AnswerReady``."""
        if self.executor.runs is not None:
            self.executor.runs.resumable(run_id)  # fail fast, in the caller's thread
        return self._stream(lambda emit: self._resume(run_id, emit, approve, cancel))

    def cancel(self, run_id: str) -> bool:
        """Ask run ``run_id`` (running in this process) to stop: running tasks finish, no new
        task starts, the result's status is ``cancelled``. False if no such run is active."""
        event = self._cancels.get(run_id)
        if event is None:
            return False
        event.set()
        return True

    # -- internals ---------------------------------------------------------------------------

    def _resume(self, run_id: str, emit, approve: Decision, cancel):
        workflow = self._workflow_record(run_id)
        if workflow is not None:
            return self._resume_workflow(*workflow, emit)
        emit(RunStarted(run_id=run_id, resumed=True))
        emit = self._resume_tap(run_id, emit)
        callback = approve if callable(approve) else None
        decision = None if callable(approve) else approve
        with self._cancel_handle(run_id, cancel) as event:
            result = self.executor.resume(run_id, emit, decision=decision, approve=callback,
                                          cancel=event)
        rec = self.executor.runs.get(run_id) if self.executor.runs else None
        prompt = (rec.meta.get("prompt") if rec else None) or ""
        plan = Plan.model_validate(rec.plan) if rec else Plan()
        return self._answer(prompt, plan, result, emit)

    def _workflow_record(self, run_id: str) -> tuple[str, dict[str, Any]] | None:
        """(workflow run id, its record's ``workflow`` meta) when ``run_id`` is a workflow run
        or one of its stages; None for other runs."""
        runs = self.executor.runs
        if runs is None or not runs.exists(run_id):
            return None
        meta = runs.get(run_id).meta
        root = meta.get("workflow_run", run_id)
        workflow = runs.get(root).meta.get("workflow") if root != run_id else meta.get("workflow")
        return (root, workflow) if workflow is not None else None

    def _resume_workflow(self, run_id: str, workflow: dict[str, Any], emit):
        """Run the workflow again as the same run: finished tasks are kept, and every stage
        after them runs, as in a run that was never interrupted."""
        self.executor.runs.resumable(run_id)
        source = workflow["file"] if workflow["file"] != "<workflow>" else workflow["name"]
        inputs = {name: _ref_or_value(v) for name, v in workflow["inputs"].items()}
        prepared = self._workflow_run(source, inputs)
        return self._run_workflow(prepared, emit, run_id=run_id)

    def _resume_tap(self, run_id: str, emit):
        """``emit`` as it should see a resumed run's events (Agent: with provenance)."""
        return emit

    @contextlib.contextmanager
    def _cancel_handle(self, run_id: str, cancel: threading.Event | None):
        event = cancel or threading.Event()
        self._cancels[run_id] = event
        try:
            yield event
        finally:
            self._cancels.pop(run_id, None)

    def _answer(self, prompt: str, plan: Plan, result: ExecutionResult, emit):
        if result.status == "awaiting_approval":
            waiting = ", ".join(f"{t['task_id']} ({t['tool']})"
                                for t in result.pending_approval.tasks)
            text = (f"Paused: {waiting} waits for approval. Continue with "
                    f"`mmagent resume {result.run_id} --approve` (or --reject).")
            emit(AnswerReady(text=text))
            return self._result(text, plan, result)
        answer = self._responder().respond(prompt, plan, result)
        text = answer.text
        if result.status == "cancelled":
            text = f"Cancelled (run {result.run_id}). " + text
        emit(AnswerReady(text=text, artifacts=[r.id for r in answer.artifacts]))
        return self._result(text, plan, result)


def _ref_or_value(value: Any) -> Any:
    """A recorded input value: artifact reference dicts become :class:`ArtifactRef` again."""
    if isinstance(value, list):
        return [_ref_or_value(v) for v in value]
    if isinstance(value, dict) and value.get("kind") in ("image", "audio", "video"):
        return ArtifactRef.model_validate(value)
    return value
