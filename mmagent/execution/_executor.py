"""The executor: runs a validated plan as dataflow. It never plans.

A run segment is the dataflow loop of :mod:`mmagent.execution._scheduler`: it launches a task
the moment the results it references exist (not at the end of a superstep), so independent
branches overlap and uneven branches do not wait for each other. The loop runs the tasks itself,
not as LangGraph tasks: LangGraph replays tasks by call order, which dataflow does not
repeat, so finished tasks are recorded in the run journal and read back from there; and a
LangGraph task costs a future and a thread handoff each, which a chain of cheap tasks would pay
at every step. A segment that may ask for approval runs the loop inside a LangGraph
functional-API entrypoint (compiled once per checkpointer, whatever the plan), whose
checkpointer and ``interrupt`` pause it and carry the answer back; any other segment runs the
loop directly, as nothing would ever read its checkpoints (a killed run resumes from the
journal, on a fresh LangGraph thread). State holds JSON outputs and artifact references, never
media bytes.

Around that loop (each optional, each off in the bare ``Executor(registry, store)``):

- **durable runs** (``runs=RunStore(path)``): the run's plan, inputs and every finished task's
  output are recorded; :meth:`Executor.resume` continues a run killed mid-way, without running
  finished tasks again. LangGraph's ``SqliteSaver`` (same file) checkpoints a run paused for
  approval.
- **approval** (``approval=ApprovalPolicy(...)``): before a chosen tool runs, the entrypoint
  calls LangGraph's ``interrupt``; the run pauses until a yes/no arrives (``approve=`` callback,
  or ``resume(run_id, decision=...)``). A rejected task and what depends on it are skipped.
- **failure policy** (``policy=TaskPolicy(...)``, per tool in ``tool_policies``): retries with
  exponential backoff (tenacity) and a time limit per task. A Python thread cannot be killed: a
  task past its limit is reported failed (``tool.timeout``) and its late result is discarded.
- **the client's functions** (a request's :class:`~mmagent.toolkit.ClientTool`): a task that
  calls one records the call in the run journal and the run pauses ``awaiting_client`` (no
  thread waits); ``answer(run_id, {call_id: text})`` records the client's output, once, from
  any process on the same journal, and after ``resume(run_id)`` the task returns it.
- **cancellation** (``cancel=threading.Event()``): tasks already running finish, nothing new
  starts, the result says ``cancelled``.
- **result cache** (``cache=ResultCache(path)``): deterministic tools' outputs are reused for an
  identical call (tool, version, checkpoint, arguments with input artifacts by content hash);
  a run with ``use_cache=False`` neither reads nor writes it.

In-process model tools (``Tool.worker``) run on a long-lived worker thread of their own, which
gathers concurrent calls into batches (``workers=WorkerPolicy(...)``, per tool in
``tool_workers``; see :mod:`mmagent.execution`); other tools run on the task's own thread.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.func import entrypoint
from langgraph.types import Command
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
    ArtifactCreated,
    ClientCallRequested,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskStarted,
)
from mmagent.execution._approval import ApprovalPolicy, ApprovalRequest, Approve
from mmagent.execution._client_calls import ClientCallPending, answer_calls, asker
from mmagent.execution._result_cache import ResultCache
from mmagent.execution._scheduler import ERROR_KEY, WAIT_KEY, Emit, Scheduler, Segment
from mmagent.execution._workers import BatchResult, ToolWorkers, WorkerPolicy
from mmagent.plan._ir import Plan
from mmagent.plan._ir import Task as PlanTask
from mmagent.plan._validator import check_size, validate
from mmagent.runs._journal import RunStore
from mmagent.runs._status import RunStatus
from mmagent.toolkit._base import Tool, ToolContext
from mmagent.toolkit._client_tools import ClientTool
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["Executor", "ExecutionResult", "TaskFailure", "TaskPolicy"]

logger = logging.getLogger(__name__)

_SCHEDULER = "mmagent_scheduler"
"""The config key carrying a segment's scheduler into the entrypoint (not a str, int, float or
bool, so LangGraph keeps it out of checkpoint metadata)."""


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
    pending_calls: list[dict[str, Any]] = field(default_factory=list)
    """{call_id, task_id, name, arguments} of the client's functions the run waits for while
    ``status == "awaiting_client"``: ``answer(run_id, {call_id: text})``, then ``resume``."""

    @property
    def ok(self) -> bool:
        return not self.failures and not self.skipped and not self.rejected


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
        self._workflows: dict[RunStore, Any] = {}  # compiled entrypoint per checkpointer
        self.workers = ToolWorkers(store, workers, tool_workers)
        """The per-tool worker threads (``workers.batch_sizes(name)``: the batches run)."""
        weakref.finalize(self, self.workers.close)  # idle worker threads end with the executor

    # -- public API ----------------------------------------------------------------------------

    def run(self, plan: Plan, inputs: dict[str, ArtifactRef], emit: Emit | None = None,
            run_id: str | None = None,
            completed: dict[str, dict[str, Any]] | None = None, *,
            approve: Approve | None = None, cancel: threading.Event | None = None,
            meta: dict[str, Any] | None = None, use_cache: bool = True,
            record: bool = True) -> ExecutionResult:
        """Run ``plan`` once it passes :func:`~mmagent.plan.validate` (a bad plan raises
        a :class:`PlanValidationError` and nothing runs). ``completed`` maps task ids to
        outputs already computed (a re-plan keeps them): those tasks are not run again, and
        their outputs feed their dependents.

        ``approve`` answers approval requests in-process; without it a run that needs
        approval returns ``status="awaiting_approval"``. ``meta`` is stored with a durable run
        (e.g. the prompt) and comes back from ``runs.get(run_id).meta``.

        ``use_cache=False`` computes every task and leaves the result cache as it was;
        ``record=False`` keeps the run out of the run store (it cannot be resumed or listed).
        """
        # 1. check the plan first: its size, then everything the validator checks
        check_size(len(plan.tasks), self.store.limits.max_tasks)
        validate(plan, self.registry, {name: ref.kind for name, ref in inputs.items()},
                 done=completed or ())
        emit = emit or (lambda _e: None)
        run_id = run_id or uuid.uuid4().hex
        values = {name: ref.model_dump(mode="json") for name, ref in inputs.items()}
        runs = self.runs if record and self.runs is not None else (
            self._memory_store() if self._needs_journal(plan) else None)
        if runs is not None:
            try:
                runs.create(run_id, plan.model_dump(mode="json"), values, meta)
            except Exception as e:  # sqlite3.IntegrityError: the id is taken
                raise RunError(f"got run id {run_id!r}, which is already recorded; expected a "
                               "new id (continue that run with resume)", run_id=run_id) from e
        run = Segment(run_id, 0, plan, emit, dict(completed or {}), runs, cancel,
                      self.cache if use_cache else None)
        return self._drive(run, {"inputs": values}, approve)

    def resume(self, run_id: str, emit: Emit | None = None, *,
               decision: bool | dict[str, bool] | None = None, approve: Approve | None = None,
               cancel: threading.Event | None = None) -> ExecutionResult:
        """Continue a run that was killed, cancelled, or paused for approval or its client.

        Tasks that finished are not run again. A paused run takes ``decision`` (True/False for
        every waiting task, or {task_id: bool}), else asks ``approve``, else stays paused. A run
        awaiting its client runs its waiting tasks again: those whose call :meth:`answer`
        recorded return the client's output, a call still unanswered pauses it again. Raises
        :class:`UnknownRunError` / :class:`RunFinishedError`.
        """
        emit = emit or (lambda _e: None)
        runs = self._journal(run_id)
        rec = runs.resumable(run_id)
        plan = Plan.model_validate(rec.plan)
        if rec.status == "awaiting_approval":
            run = Segment(run_id, rec.segment, plan, emit, {}, runs, cancel, self.cache)
            if decision is None and approve is not None:
                decision = approve(self._pending(run))
            if decision is None:
                return self._finish(run, None, self._pending(run))
            return self._drive(run, Command(resume=decision), approve)
        segment = runs.next_segment(run_id)  # killed or cancelled: a fresh LangGraph thread
        run = Segment(run_id, segment, plan, emit, {}, runs, cancel, self.cache)
        return self._drive(run, {"inputs": rec.inputs}, approve)

    def answer(self, run_id: str, outputs: dict[str, str]) -> None:
        """Record the client's ``outputs`` ({call_id: text}) of run ``run_id``'s calls, each
        once (:func:`~mmagent.execution._client_calls.answer_calls`); :meth:`resume` then
        continues it."""
        answer_calls(self._journal(run_id), run_id, outputs)

    def _journal(self, run_id: str) -> RunStore:
        runs = self.runs or self._memory_runs
        if runs is None:
            from mmagent.errors import UnknownRunError

            raise UnknownRunError(f"got run id {run_id!r}, but this executor records no runs; "
                                  "expected an executor with a RunStore (config "
                                  "executor.checkpoint: true)", run_id=run_id)
        return runs

    # -- the driver: invoke, answer interrupts, record the status ------------------------------

    def _drive(self, run: Segment, first: Any, approve: Approve | None) -> ExecutionResult:
        needs_ok = {t.id for t in run.plan.tasks if self.approval is not None and
                    self.approval.reason(self.registry.tool_class(t.tool))}
        if not needs_ok and not isinstance(first, Command):
            # Nothing can interrupt this segment, and LangGraph's checkpoints are only read to
            # answer an interrupt (a killed run resumes from the journal, on a fresh thread):
            # the loop runs without the entrypoint, sparing each run its invoke.
            return self._finish(run, self._scheduler(run, needs_ok).run(first["inputs"]), None)
        assert run.runs is not None  # a run that may ask has a store (run(): _memory_store)
        workflow = self._workflow(run.runs)
        payload = first
        while True:
            config: RunnableConfig = {"configurable": {
                "thread_id": f"{run.run_id}:{run.segment}",
                _SCHEDULER: self._scheduler(run, needs_ok)}}
            raw = workflow.invoke(payload, config)
            if "__interrupt__" not in raw:
                return self._finish(run, raw, None)
            request = ApprovalRequest(**raw["__interrupt__"][0].value)
            if approve is None:
                return self._finish(run, None, request)
            payload = Command(resume=approve(request))

    def _finish(self, run: Segment, raw: dict[str, Any] | None,
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
                             "failed" if result.failures else
                             "awaiting_client" if raw.get("awaiting") else "completed")
        if result.status == "awaiting_client":
            result.pending_calls = raw["awaiting"]
        if run.runs is not None:
            run.runs.set_status(run.run_id, result.status)
        return result

    def _pending(self, run: Segment) -> ApprovalRequest:
        assert run.runs is not None
        asked = run.runs.requests(run.run_id, run.segment)
        return self._request(run, asked[-1] if asked else [])

    def _request(self, run: Segment, task_ids: list[str]) -> ApprovalRequest:
        tasks = []
        for tid in task_ids:
            spec = run.plan.task(tid)
            reason = self.approval.reason(self.registry.tool_class(spec.tool)) \
                if self.approval else None
            tasks.append({"task_id": tid, "tool": spec.tool, "reason": reason or "",
                          "args": spec.args})
        return ApprovalRequest(run_id=run.run_id, tasks=tasks)

    def _needs_journal(self, plan: Plan) -> bool:
        """A plan that may pause (approval, the client's functions) needs a journal."""
        classes = [self.registry.tool_class(t.tool) for t in plan.tasks if t.tool in self.registry]
        return any(issubclass(c, ClientTool) or (
            self.approval is not None and self.approval.reason(c)) for c in classes)

    def _memory_store(self) -> RunStore:
        if self._memory_runs is None:
            self._memory_runs = RunStore(None)
        return self._memory_runs

    # -- the graph ---------------------------------------------------------------------------

    def _workflow(self, runs: RunStore):
        """The entrypoint for segments checkpointed in ``runs``: compiled once, as it does not
        depend on the plan (LangGraph disassembles an entrypoint's bytecode at every compile);
        each invoke carries its segment's :class:`Scheduler` in its config."""
        workflow = self._workflows.get(runs)
        if workflow is None:
            @entrypoint(checkpointer=runs.saver)
            def workflow(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
                return config["configurable"][_SCHEDULER].run(state["inputs"])

            self._workflows[runs] = workflow
        return workflow

    def _scheduler(self, run: Segment, needs_ok: set[str]) -> Scheduler:
        def request(task_ids: list[str]) -> ApprovalRequest:
            return self._request(run, task_ids)

        return Scheduler(run, partial(self._call, run), needs_ok, self.max_concurrency, request)

    # -- one task ----------------------------------------------------------------------------

    def _call(self, run: Segment, spec: PlanTask, args: dict[str, Any]) -> dict[str, Any]:
        with span("mmagent.task", {"mmagent.task_id": spec.id, "mmagent.tool": spec.tool,
                                   "mmagent.run_id": run.run_id}) as s:
            out = (self._call_each(run, spec, args) if spec.each is not None
                   else self._call_traced(run, spec, args))
            s.set_attribute("mmagent.cache_hit", bool(out.get("cached")))
            if ERROR_KEY in out:
                fail(s, out[ERROR_KEY]["code"], out[ERROR_KEY]["message"])
            return out

    def _call_each(self, run: Segment, spec: PlanTask, args: dict[str, Any]) -> dict[str, Any]:
        """A task over a list (``each``): the tool once per item, each item's call started,
        finished and cached as a task's is; the task's result, recorded once all items are
        done (a kill before that runs it again), is each output's list over the items.

        The items' calls are made at once (up to ``max_concurrency``), so a model tool on its
        worker gathers them into batches: four frames captioned in one forward pass."""
        each = spec.each
        assert each is not None
        items, t0 = list(args[each]), time.perf_counter()

        def one(item: Any) -> dict[str, Any]:
            return self._call_traced(run, spec, {**args, each: item}, record=False)

        with cf.ThreadPoolExecutor(max(1, min(len(items), self.max_concurrency)),
                                   thread_name_prefix=f"mmagent-{spec.id}-each") as pool:
            # each call in a copy of this context: its spans stay under the task's
            results = list(pool.map(lambda item: contextvars.copy_context().run(one, item),
                                    items))
        outs = []
        for out in results:
            if "out" not in out:  # failed or waits for the client: the task does
                if ERROR_KEY in out and run.runs is not None:
                    run.runs.put_result(run.run_id, spec.id, False, out[ERROR_KEY])
                return out
            outs.append(out["out"])
        names = self.registry.tool_class(spec.tool).Output.model_fields
        data = {name: [o.get(name) for o in outs] for name in names}
        if run.runs is not None:
            run.runs.put_result(run.run_id, spec.id, True, data)
        run.emit(TaskFinished(task_id=spec.id, tool=spec.tool, output=data,
                              seconds=time.perf_counter() - t0))
        return {"out": data}

    def _call_traced(self, run: Segment, spec: PlanTask, args: dict[str, Any],
                     record: bool = True) -> dict[str, Any]:
        task_id = spec.id
        emit, cache = run.emit, run.cache
        runs = run.runs if record else None
        emit(TaskStarted(task_id=task_id, tool=spec.tool))
        t0 = time.perf_counter()
        key = None
        try:
            tool = self.registry.get(spec.tool)
            inp = tool.parse_input(args)
            if cache is not None and getattr(tool, "deterministic", True):
                key = cache.key(tool.name, tool.version, tool.checkpoint, args)
                hit = cache.get(key)
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
        except ClientCallPending as waits:  # not a failure: the run waits for the client
            call = waits.call
            emit(ClientCallRequested(task_id=task_id, tool=call.name, call_id=call.call_id,
                                     arguments=call.arguments))
            return {WAIT_KEY: call.wire()}
        except Exception as e:  # reported as data, so independent branches keep going
            code = e.code if isinstance(e, MMAgentError) else "tool.failed"
            msg = f"task {task_id!r} ({spec.tool}) failed: {e}"
            logger.warning(msg, exc_info=not isinstance(e, MMAgentError))
            error = {"code": code, "message": msg}
            if runs is not None:
                runs.put_result(run.run_id, task_id, False, error)
            emit(TaskFailed(task_id=task_id, tool=spec.tool, code=code, message=msg))
            return {ERROR_KEY: error}
        _emit_artifacts(out, task_id, emit)
        data = out.model_dump(mode="json")
        if key is not None and cache is not None:
            cache.put(key, data, tool=tool.name)
        if runs is not None:  # recorded before TaskFinished: once seen, it survives a kill
            runs.put_result(run.run_id, task_id, True, data)
        emit(TaskFinished(task_id=task_id, tool=spec.tool, output=data,
                          seconds=time.perf_counter() - t0, batch_size=batch))
        return {"out": data}

    def _attempts(self, tool: Tool, inp: Any, run: Segment, task_id: str) -> tuple[Any, int]:
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
                retry=retry_if_exception(lambda e: not isinstance(
                    e, (ToolInputError, TaskTimeoutError, ClientCallPending))),
                before_sleep=before_sleep, reraise=True):
            with attempt:
                return self._attempt(tool, inp, run, task_id, policy.timeout_s)
        raise AssertionError("unreachable")  # tenacity re-raises the last error

    def _attempt(self, tool: Tool, inp: Any, run: Segment, task_id: str,
                 timeout_s: float | None) -> tuple[Any, int]:
        trace.get_current_span().set_attribute("mmagent.device", tool.device())
        if not tool.worker and timeout_s is None:
            return tool.run([inp], self._context(run, task_id, run.emit))[0], 1
        late = threading.Event()  # set past the limit: the call's late events are dropped

        def emit(ev: Any) -> None:
            if not late.is_set():
                run.emit(ev)

        if tool.worker:
            future = self.workers.submit(tool, inp, emit, task_id)
        else:
            future = _on_thread(lambda: BatchResult(
                tool.run([inp], self._context(run, task_id, emit))[0], 1),
                name=f"mmagent-{task_id}")
        try:
            done = future.result(timeout_s)
        except cf.TimeoutError:
            # A thread cannot be killed: past the limit the task is reported failed and
            # whatever the call returns (or reports) later is discarded. A worker that is stuck
            # in it hands the calls queued behind it to a fresh thread.
            late.set()
            if tool.worker:
                self.workers.abandon(tool, future)
            raise TaskTimeoutError(f"tool {tool.name!r} ran longer than its {timeout_s:g} s "
                                   "limit; expected it to finish in time (raise "
                                   "executor.policy.timeout_s)", tool=tool.name,
                                   timeout_s=timeout_s) from None
        return done.output, done.batch_size

    def _context(self, run: Segment, task_id: str, emit: Emit) -> ToolContext:
        ask = asker(run.runs, run.run_id, task_id) if run.runs is not None else None
        return ToolContext(self.store, emit, task_id, ask_client=ask)

    def _artifacts_present(self, output: dict[str, Any]) -> bool:
        for value in output.values():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict) and "id" in v and "kind" in v:
                    try:
                        self.store.path(self.store.get(v["id"]))
                    except InputNotFoundError:
                        return False
        return True


def _on_thread(fn: Callable[[], BatchResult], name: str) -> cf.Future:
    """``fn()`` on a fresh daemon thread, as a future (one the caller may stop waiting for)."""
    future: cf.Future = cf.Future()

    def target() -> None:
        try:
            future.set_result(fn())
        except BaseException as e:  # handed to the waiting thread
            future.set_exception(e)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


def _emit_artifacts(out: Any, task_id: str, emit: Emit) -> None:
    """An ``ArtifactCreated`` per artifact in a tool's output (fresh or served from cache)."""
    for fname in type(out).model_fields:
        value = getattr(out, fname)
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, ArtifactRef):
                emit(ArtifactCreated(task_id=task_id, field=fname, artifact=ref))
