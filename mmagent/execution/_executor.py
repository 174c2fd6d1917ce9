"""The executor: runs a validated plan as dataflow on LangGraph. It never plans.

The plan compiles into a LangGraph functional-API entrypoint in which every task is a LangGraph
``task``. A task is launched the moment the results it references exist (not at the end of a
superstep), so independent branches overlap and uneven branches do not wait for each other.
State holds JSON outputs and artifact references, never media bytes.

Around that loop (each optional, each off in the bare ``Executor(registry, store)``):

- **durable runs** (``runs=RunStore(path)``): the run's plan, inputs and every finished task's
  output are recorded; :meth:`Executor.resume` continues a run killed mid-way, without running
  finished tasks again. LangGraph's ``SqliteSaver`` (same file) checkpoints the entrypoint.
- **approval** (``approval=ApprovalPolicy(...)``): before a chosen tool runs, the entrypoint
  calls LangGraph's ``interrupt``; the run pauses until a yes/no arrives (``approve=`` callback,
  or ``resume(run_id, decision=...)``). A rejected task and what depends on it are skipped.
- **failure policy** (``policy=TaskPolicy(...)``, per tool in ``tool_policies``): retries with
  exponential backoff (tenacity) and a time limit per task. A Python thread cannot be killed: a
  task past its limit is reported failed (``tool.timeout``) and its late result is discarded.
- **cancellation** (``cancel=threading.Event()``): tasks already running finish, nothing new
  starts, the result says ``cancelled``.
- **result cache** (``cache=ResultCache(path)``): deterministic tools' outputs are reused for an
  identical call (tool, version, checkpoint, arguments with input artifacts by content hash).

In-process model tools (``Tool.worker``) run on a long-lived worker thread of their own, which
gathers concurrent calls into batches (``workers=WorkerPolicy(...)``, per tool in
``tool_workers``; see :mod:`mmagent.execution`); other tools run on the task's own thread.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.func import entrypoint, task
from langgraph.types import Command, interrupt
from opentelemetry import trace

from mmagent._telemetry import fail, span
from mmagent.artifacts._store import ArtifactRef, ArtifactStore
from mmagent.errors import (
    InputNotFoundError,
    MMAgentError,
    RunError,
    TaskTimeoutError,
    ToolInputError,
)
from mmagent.events import (
    ApprovalRequested,
    ArtifactCreated,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskStarted,
)
from mmagent.execution._result_cache import ResultCache
from mmagent.execution._workers import ToolWorkers, WorkerPolicy
from mmagent.plan._ir import Plan, parse_ref
from mmagent.plan._validator import check_size, validate
from mmagent.runs._journal import RunStore
from mmagent.toolkit._base import Tool, ToolContext
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["Executor", "ExecutionResult", "TaskFailure", "TaskPolicy", "ApprovalPolicy",
           "ApprovalRequest", "RunStatus"]

logger = logging.getLogger(__name__)
Emit = Callable[[Any], None]
RunStatus = Literal["completed", "failed", "awaiting_approval", "cancelled"]
_ERROR_KEY = "__mmagent_error__"


@dataclass
class TaskFailure:
    code: str
    message: str


@dataclass(frozen=True)
class TaskPolicy:
    """How a task's failures are handled.

    >>> TaskPolicy(retries=2, backoff_s=0.5, timeout_s=60)
    TaskPolicy(retries=2, backoff_s=0.5, timeout_s=60)
    """

    retries: int = 0
    """Extra attempts after a failure (bad input and timeouts are not retried)."""
    backoff_s: float = 0.5
    """Wait before the first retry; doubles each time, at most 30 s."""
    timeout_s: float | None = None
    """Seconds one attempt may run; None = no limit."""


@dataclass(frozen=True)
class ApprovalPolicy:
    """Which tools wait for a human's yes before they run.

    >>> ApprovalPolicy(tools=("image_generate",)).reason(type("T", (), {"name": "image_generate"}))
    'tool image_generate needs approval'
    """

    tools: tuple[str, ...] = ()
    gpu_memory_gb: float | None = None
    """Ask before tools whose declared ``resources.gpu_memory_gb`` is at least this."""

    def reason(self, tool_cls: type[Tool]) -> str | None:
        if tool_cls.name in self.tools:
            return f"tool {tool_cls.name} needs approval"
        res = getattr(tool_cls, "resources", None)
        if self.gpu_memory_gb is not None and res is not None and \
                res.gpu_memory_gb >= self.gpu_memory_gb:
            return (f"tool {tool_cls.name} declares {res.gpu_memory_gb:g} GB of GPU memory "
                    f"(approval threshold {self.gpu_memory_gb:g} GB)")
        return None


@dataclass
class ApprovalRequest:
    """A paused run's question: may these tasks run? Answer True/False, or {task_id: bool}."""

    run_id: str
    tasks: list[dict[str, Any]]
    """{task_id, tool, reason, args} per waiting task."""

    @property
    def task_ids(self) -> list[str]:
        return [t["task_id"] for t in self.tasks]


Approve = Callable[[ApprovalRequest], "bool | dict[str, bool]"]


@dataclass
class ExecutionResult:
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Task id -> the tool's output as JSON (artifact fields are ref dicts)."""
    failures: dict[str, TaskFailure] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Tasks not run: something they depend on failed or was rejected, or the run was
    cancelled or paused before them. ``skip_reasons`` says which."""
    skip_reasons: dict[str, str] = field(default_factory=dict)
    skipped_after_failure: list[str] = field(default_factory=list)
    """The skipped tasks whose cause is a failed task."""
    rejected: list[str] = field(default_factory=list)
    """Tasks a human declined to run."""
    cached: list[str] = field(default_factory=list)
    """Tasks served from the result cache."""
    run_id: str = ""
    status: RunStatus = "completed"
    pending_approval: ApprovalRequest | None = None
    """Set when ``status == "awaiting_approval"``: continue with ``resume(run_id, decision)``."""

    @property
    def ok(self) -> bool:
        return not self.failures and not self.skipped and not self.rejected


@dataclass
class _Run:
    """One segment of a run: what the entrypoint closes over."""

    run_id: str
    segment: int
    plan: Plan
    emit: Emit
    completed: dict[str, dict[str, Any]]
    runs: RunStore | None
    cancel: threading.Event | None


class Executor:
    """Runs plans against a registry's tools, emitting events as tasks start and finish.

    >>> from tests.fakes import fake_registry             # doctest: +SKIP
    >>> ex = Executor(fake_registry(), store, runs=RunStore("runs.sqlite"))  # doctest: +SKIP
    >>> ex.run(plan, {}).status                           # doctest: +SKIP
    'completed'
    """

    def __init__(self, registry: ToolRegistry, store: ArtifactStore,
                 max_concurrency: int = 8, *, runs: RunStore | None = None,
                 cache: ResultCache | None = None, policy: TaskPolicy | None = None,
                 tool_policies: dict[str, TaskPolicy] | None = None,
                 approval: ApprovalPolicy | None = None, workers: WorkerPolicy | None = None,
                 tool_workers: dict[str, WorkerPolicy] | None = None) -> None:
        if max_concurrency < 1:
            raise ValueError(f"got max_concurrency={max_concurrency}; expected at least 1")
        self.registry = registry
        self.store = store
        self.max_concurrency = max_concurrency
        self.runs = runs
        self.cache = cache
        self.policy = policy or TaskPolicy()
        self.tool_policies = dict(tool_policies or {})
        self.approval = approval
        self._memory_runs: RunStore | None = None  # approvals without a durable store
        self.workers = ToolWorkers(store, workers, tool_workers)
        """The per-tool worker threads (``workers.batch_sizes(name)``: the batches run)."""
        weakref.finalize(self, self.workers.close)  # idle worker threads end with the executor

    # -- public API ----------------------------------------------------------------------------

    def run(self, plan: Plan, inputs: dict[str, ArtifactRef], emit: Emit | None = None,
            run_id: str | None = None,
            completed: dict[str, dict[str, Any]] | None = None, *,
            approve: Approve | None = None, cancel: threading.Event | None = None,
            meta: dict[str, Any] | None = None) -> ExecutionResult:
        """Run ``plan`` once it passes :func:`~mmagent.plan.validate` (a bad plan raises
        a :class:`PlanValidationError` and nothing runs). ``completed`` maps task ids to
        outputs already computed (a re-plan keeps them): those tasks are not run again, and
        their outputs feed their dependents.

        ``approve`` answers approval requests in-process; without it a run that needs
        approval returns ``status="awaiting_approval"``. ``meta`` is stored with a durable run
        (e.g. the prompt) and comes back from ``runs.get(run_id).meta``.
        """
        # 1. check the plan first: its size, then everything the validator checks
        check_size(len(plan.tasks), self.store.limits.max_tasks)
        validate(plan, self.registry, {name: ref.kind for name, ref in inputs.items()},
                 done=completed or ())
        emit = emit or (lambda _e: None)
        run_id = run_id or uuid.uuid4().hex
        values = {name: ref.model_dump(mode="json") for name, ref in inputs.items()}
        runs = self.runs if self.runs is not None else (
            self._approval_store() if self._needs_approval(plan) else None)
        if runs is not None:
            try:
                runs.create(run_id, plan.model_dump(mode="json"), values, meta)
            except Exception as e:  # sqlite3.IntegrityError: the id is taken
                raise RunError(f"got run id {run_id!r}, which is already recorded; expected a "
                               "new id (continue that run with resume)", run_id=run_id) from e
        run = _Run(run_id, 0, plan, emit, dict(completed or {}), runs, cancel)
        return self._drive(run, {"inputs": values}, approve)

    def resume(self, run_id: str, emit: Emit | None = None, *,
               decision: bool | dict[str, bool] | None = None, approve: Approve | None = None,
               cancel: threading.Event | None = None) -> ExecutionResult:
        """Continue a run that was killed, cancelled or paused for approval.

        Tasks that finished are not run again. A paused run takes ``decision`` (True/False for
        every waiting task, or {task_id: bool}), else asks ``approve``, else stays paused.
        Raises :class:`UnknownRunError` / :class:`RunFinishedError`.
        """
        emit = emit or (lambda _e: None)
        runs = self.runs or self._memory_runs
        if runs is None:
            from mmagent.errors import UnknownRunError

            raise UnknownRunError(f"got run id {run_id!r}, but this executor records no runs; "
                                  "expected an executor with a RunStore (config "
                                  "executor.checkpoint: true)", run_id=run_id)
        rec = runs.resumable(run_id)
        plan = Plan.model_validate(rec.plan)
        if rec.status == "awaiting_approval":
            run = _Run(run_id, rec.segment, plan, emit, {}, runs, cancel)
            if decision is None and approve is not None:
                decision = approve(self._pending(run))
            if decision is None:
                return self._finish(run, None, self._pending(run))
            return self._drive(run, Command(resume=decision), approve)
        segment = runs.next_segment(run_id)  # killed or cancelled: a fresh LangGraph thread
        run = _Run(run_id, segment, plan, emit, {}, runs, cancel)
        return self._drive(run, {"inputs": rec.inputs}, approve)

    # -- the driver: invoke, answer interrupts, record the status ------------------------------

    def _drive(self, run: _Run, first: Any, approve: Approve | None) -> ExecutionResult:
        config: dict[str, Any] = {"configurable": {"thread_id": f"{run.run_id}:{run.segment}"},
                                  # the entrypoint bounds concurrency itself; LangGraph's bound
                                  # also counts the waiting entrypoint, so it gets headroom
                                  "max_concurrency": self.max_concurrency + 2}
        payload = first
        while True:
            workflow = self._compile(run)
            raw = workflow.invoke(payload, config)
            if "__interrupt__" not in raw:
                return self._finish(run, raw, None)
            request = ApprovalRequest(**raw["__interrupt__"][0].value)
            if approve is None:
                return self._finish(run, None, request)
            payload = Command(resume=approve(request))

    def _finish(self, run: _Run, raw: dict[str, Any] | None,
                pending: ApprovalRequest | None) -> ExecutionResult:
        result = ExecutionResult(run_id=run.run_id)
        if raw is None:  # paused: report what is recorded so far
            assert run.runs is not None
            ok, bad = run.runs.results(run.run_id)
            raw = {"outputs": {**run.completed, **ok}, "failed": bad, "skipped": {},
                   "after_failure": [], "rejected": [], "cancelled": False, "cached": []}
            result.status = "awaiting_approval"
            result.pending_approval = pending
        result.outputs = raw["outputs"]
        result.failures = {t: TaskFailure(**e) for t, e in raw["failed"].items()}
        result.skip_reasons = raw["skipped"]
        result.skipped = list(raw["skipped"])
        result.skipped_after_failure = raw["after_failure"]
        result.rejected = raw["rejected"]
        result.cached = raw["cached"]
        if pending is None:
            result.status = ("cancelled" if raw["cancelled"] else
                             "failed" if result.failures else "completed")
        if run.runs is not None:
            run.runs.set_status(run.run_id, result.status)
        return result

    def _pending(self, run: _Run) -> ApprovalRequest:
        assert run.runs is not None
        asked = run.runs.requests(run.run_id, run.segment)
        return self._request(run, asked[-1] if asked else [])

    def _request(self, run: _Run, task_ids: list[str]) -> ApprovalRequest:
        tasks = []
        for tid in task_ids:
            spec = run.plan.task(tid)
            reason = self.approval.reason(self.registry.tool_class(spec.tool)) \
                if self.approval else None
            tasks.append({"task_id": tid, "tool": spec.tool, "reason": reason or "",
                          "args": spec.args})
        return ApprovalRequest(run_id=run.run_id, tasks=tasks)

    def _needs_approval(self, plan: Plan) -> bool:
        return self.approval is not None and any(
            t.tool in self.registry and self.approval.reason(self.registry.tool_class(t.tool))
            for t in plan.tasks)

    def _approval_store(self) -> RunStore:
        if self._memory_runs is None:
            self._memory_runs = RunStore(None)
        return self._memory_runs

    # -- the graph ---------------------------------------------------------------------------

    def _compile(self, run: _Run):
        plan, runs, emit, limit = run.plan, run.runs, run.emit, self.max_concurrency
        deps = {t.id: plan.dependencies(t.id) for t in plan.tasks}
        needs_ok = {t.id for t in plan.tasks if self.approval is not None and
                    self.approval.reason(self.registry.tool_class(t.tool))}
        calls = {}
        for t in plan.tasks:
            # One LangGraph task per plan task, named after it: LangGraph matches a replayed
            # result by (name, call order), so a different order can never return another
            # task's result; at worst it misses and our own record supplies it.
            calls[t.id] = task(_bind(self._call, run, t.id), name=f"task_{t.id}")

        def loop(state: dict[str, Any]) -> dict[str, Any]:
            inputs = state["inputs"]
            done: dict[str, dict[str, Any]] = dict(run.completed)
            failed: dict[str, dict[str, str]] = {}
            decisions: dict[str, bool] = {}
            if runs is not None:
                ok, bad = runs.results(run.run_id)
                done.update(ok)
                failed.update(bad)
                decisions = runs.decisions(run.run_id)
                # Interrupts are matched by the order they are raised in: ask the questions
                # this segment asked before, in the same order, to get their answers back.
                for asked in runs.requests(run.run_id, run.segment):
                    answer = interrupt(_as_payload(self._request(run, asked)))
                    decisions.update(_decisions(answer, asked))
                    runs.decide(run.run_id, _decisions(answer, asked))
            skipped: dict[str, str] = {}
            after_failure: list[str] = []
            rejected: list[str] = []
            cached: list[str] = []
            cancelled = False
            pending = [t.id for t in plan.topological_order() if t.id not in done
                       and t.id not in failed]
            running: dict[cf.Future, str] = {}
            while pending or running:
                if run.cancel is not None and run.cancel.is_set() and pending:
                    cancelled = True
                    for tid in pending:
                        skipped[tid] = "the run was cancelled"
                    pending.clear()
                waiting: list[str] = []
                for task_id in list(pending):
                    blocker = None
                    if failed or skipped or rejected:  # the common, all-well case skips this
                        blocker = next((d for d in sorted(deps[task_id]) if d in failed or
                                        d in skipped or d in rejected), None)
                    if blocker is not None:
                        pending.remove(task_id)
                        why = ("rejected" if blocker in rejected else "failed"
                               if blocker in failed else "skipped")
                        skipped[task_id] = f"{blocker}, which it needs, was {why}"
                        if blocker in failed or blocker in after_failure:
                            after_failure.append(task_id)
                    elif not deps[task_id] <= done.keys():
                        continue
                    elif task_id in needs_ok and task_id not in decisions:
                        waiting.append(task_id)
                    elif task_id in needs_ok and not decisions[task_id]:
                        pending.remove(task_id)
                        rejected.append(task_id)
                    elif len(running) < limit:
                        pending.remove(task_id)
                        args = _resolve(plan.task(task_id).args, inputs, done)
                        running[calls[task_id](args)] = task_id
                if not running:
                    if waiting and runs is not None:
                        runs.add_request(run.run_id, run.segment, waiting)
                        request = self._request(run, waiting)
                        emit(ApprovalRequested(run_id=run.run_id, tasks=request.tasks))
                        answer = interrupt(_as_payload(request))  # pauses the first time
                        decisions.update(_decisions(answer, waiting))
                        runs.decide(run.run_id, _decisions(answer, waiting))
                    continue
                finished, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    task_id = running.pop(fut)
                    out = fut.result()
                    if _ERROR_KEY in out:
                        failed[task_id] = out[_ERROR_KEY]
                    else:
                        done[task_id] = out["out"]
                        if out.get("cached"):
                            cached.append(task_id)
            return {"outputs": done, "failed": failed, "skipped": skipped,
                    "after_failure": after_failure, "rejected": rejected,
                    "cancelled": cancelled, "cached": cached}

        @entrypoint(checkpointer=runs.saver if runs is not None else None)
        def workflow(state: dict[str, Any]) -> dict[str, Any]:
            # LangGraph disassembles the entrypoint's bytecode on every compile, looking for
            # subgraphs among what it reaches; the loop's long body cost a third of a one-task
            # run (bench/dag.py). One call keeps that scan short.
            return loop(state)

        return workflow

    # -- one task ----------------------------------------------------------------------------

    def _call(self, run: _Run, task_id: str, args: dict[str, Any]) -> dict[str, Any]:
        tool = run.plan.task(task_id).tool
        with span("mmagent.task", {"mmagent.task_id": task_id, "mmagent.tool": tool,
                                   "mmagent.run_id": run.run_id}) as s:
            out = self._call_traced(run, task_id, args)
            s.set_attribute("mmagent.cache_hit", bool(out.get("cached")))
            if _ERROR_KEY in out:
                fail(s, out[_ERROR_KEY]["code"], out[_ERROR_KEY]["message"])
            return out

    def _call_traced(self, run: _Run, task_id: str, args: dict[str, Any]) -> dict[str, Any]:
        spec = run.plan.task(task_id)
        emit, runs = run.emit, run.runs
        emit(TaskStarted(task_id=task_id, tool=spec.tool))
        t0 = time.perf_counter()
        key = None
        try:
            tool = self.registry.get(spec.tool)
            inp = tool.parse_input(args)
            if self.cache is not None and getattr(tool, "deterministic", True):
                key = self.cache.key(tool.name, tool.version, tool.checkpoint, args)
                hit = self.cache.get(key)
                if hit is not None and self._artifacts_present(hit):
                    _emit_artifacts(tool.Output.model_validate(hit), task_id, emit)
                    if runs is not None:
                        runs.put_result(run.run_id, task_id, True, hit)
                    emit(TaskFinished(task_id=task_id, tool=spec.tool, output=hit,
                                      seconds=time.perf_counter() - t0, cached=True))
                    return {"out": hit, "cached": True}
            with self.registry.using(spec.tool, emit) as tool:  # never unloaded while it runs
                out, batch = self._attempts(tool, inp, run, task_id)
            trace.get_current_span().set_attribute("mmagent.batch_size", batch)
        except Exception as e:  # reported as data, so independent branches keep going
            code = e.code if isinstance(e, MMAgentError) else "tool.failed"
            msg = f"task {task_id!r} ({spec.tool}) failed: {e}"
            logger.warning(msg, exc_info=not isinstance(e, MMAgentError))
            error = {"code": code, "message": msg}
            if runs is not None:
                runs.put_result(run.run_id, task_id, False, error)
            emit(TaskFailed(task_id=task_id, tool=spec.tool, code=code, message=msg))
            return {_ERROR_KEY: error}
        _emit_artifacts(out, task_id, emit)
        data = out.model_dump(mode="json")
        if key is not None:
            self.cache.put(key, data, tool=tool.name)
        if runs is not None:  # recorded before TaskFinished: once seen, it survives a kill
            runs.put_result(run.run_id, task_id, True, data)
        emit(TaskFinished(task_id=task_id, tool=spec.tool, output=data,
                          seconds=time.perf_counter() - t0, batch_size=batch))
        return {"out": data}

    def _attempts(self, tool: Tool, inp: Any, run: _Run, task_id: str) -> tuple[Any, int]:
        """The output, and the size of the batch it was computed in."""
        policy = self.tool_policies.get(tool.name, self.policy)
        if policy.retries == 0:
            return self._attempt(tool, inp, run, task_id, policy.timeout_s)
        from tenacity import (
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            wait_exponential,
        )

        def before_sleep(state) -> None:
            run.emit(TaskRetrying(task_id=task_id, tool=tool.name, attempt=state.attempt_number,
                                  error=str(state.outcome.exception()),
                                  delay_s=state.next_action.sleep))

        for attempt in Retrying(
                stop=stop_after_attempt(policy.retries + 1),
                wait=wait_exponential(multiplier=policy.backoff_s, max=30),
                retry=retry_if_exception(
                    lambda e: not isinstance(e, (ToolInputError, TaskTimeoutError))),
                before_sleep=before_sleep, reraise=True):
            with attempt:
                return self._attempt(tool, inp, run, task_id, policy.timeout_s)
        raise AssertionError("unreachable")  # tenacity re-raises the last error

    def _attempt(self, tool: Tool, inp: Any, run: _Run, task_id: str,
                 timeout_s: float | None) -> tuple[Any, int]:
        trace.get_current_span().set_attribute("mmagent.device", tool.device())
        if tool.worker:
            return self._on_worker(tool, inp, run, task_id, timeout_s)
        if timeout_s is None:
            return tool.run([inp], ToolContext(self.store, run.emit, task_id))[0], 1
        # A thread cannot be killed: past the limit the task is reported failed, the thread
        # runs on in the background and whatever it returns (or reports) is discarded.
        late = threading.Event()
        box: dict[str, Any] = {}

        def emit(ev: Any) -> None:
            if not late.is_set():
                run.emit(ev)

        def target() -> None:
            try:
                box["out"] = tool.run([inp], ToolContext(self.store, emit, task_id))[0]
            except BaseException as e:  # handed to the waiting thread
                box["error"] = e

        worker = threading.Thread(target=target, name=f"mmagent-{task_id}", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            late.set()
            raise TaskTimeoutError(f"tool {tool.name!r} ran longer than its {timeout_s:g} s "
                                   "limit; expected it to finish in time (raise "
                                   "executor.policy.timeout_s)", tool=tool.name,
                                   timeout_s=timeout_s)
        if "error" in box:
            raise box["error"]
        return box["out"], 1

    def _on_worker(self, tool: Tool, inp: Any, run: _Run, task_id: str,
                   timeout_s: float | None) -> tuple[Any, int]:
        late = threading.Event()

        def emit(ev: Any) -> None:
            if not late.is_set():
                run.emit(ev)

        future = self.workers.submit(tool, inp, emit, task_id)
        try:
            done = future.result(timeout_s)
        except cf.TimeoutError:
            # past the limit: its late result and events are discarded; if it is running, a
            # fresh worker thread serves the calls queued behind it
            late.set()
            self.workers.abandon(tool, future)
            raise TaskTimeoutError(f"tool {tool.name!r} ran longer than its {timeout_s:g} s "
                                   "limit; expected it to finish in time (raise "
                                   "executor.policy.timeout_s)", tool=tool.name,
                                   timeout_s=timeout_s) from None
        return done.output, done.batch_size

    def _artifacts_present(self, output: dict[str, Any]) -> bool:
        for value in output.values():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict) and "id" in v and "kind" in v:
                    try:
                        self.store.path(self.store.get(v["id"]))
                    except InputNotFoundError:
                        return False
        return True


def _bind(fn: Callable[..., Any], run: _Run, task_id: str) -> Callable[[dict], dict]:
    def call(args: dict[str, Any]) -> dict[str, Any]:
        return fn(run, task_id, args)

    return call


def _as_payload(request: ApprovalRequest) -> dict[str, Any]:
    return {"run_id": request.run_id, "tasks": request.tasks}


def _decisions(answer: Any, task_ids: list[str]) -> dict[str, bool]:
    if isinstance(answer, dict):
        return {t: bool(answer.get(t, False)) for t in task_ids}
    return {t: bool(answer) for t in task_ids}


def _emit_artifacts(out: Any, task_id: str, emit: Emit) -> None:
    """An ``ArtifactCreated`` per artifact in a tool's output (fresh or served from cache)."""
    for fname in type(out).model_fields:
        value = getattr(out, fname)
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, ArtifactRef):
                emit(ArtifactCreated(task_id=task_id, field=fname, artifact=ref))


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
