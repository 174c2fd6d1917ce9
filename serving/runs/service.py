"""The runs API's logic: asynchronous runs with a per-key queue, persisted events, cancel and
approve. Transport-free; ``routes.py`` adapts it to HTTP.

A run is recorded in the :class:`~mmagent.stores.RunQueue` (the state database) as ``queued``,
then taken by a worker thread of whichever server instance has room under the key's limit
(``serving.runs.max_concurrent_per_key``). Every agent event is appended to the run's event
log as it happens, so any instance on the same database can replay and follow it. Cancel and
approval are records too: the run reads its cancel flag before it starts each task, in any
state (planning included); an approved run is queued again with its decision and resumed (from
the executor's checkpoints) by whichever instance takes it, also after the instance that took
it first died. A run of chat or Responses that waits for its client's functions is recorded
here ``awaiting_client``; the client's outputs go to the run journal (each call answered once)
and the run is queued again the same way.

>>> service = RunService(shared, RunQueue(open_database("runs.sqlite")))  # doctest: +SKIP
>>> service.create(RunCreate(prompt="Say hi"), owner, own_hosts=set())          # doctest: +SKIP
{'id': 'run_...', 'status': 'queued'}
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from opentelemetry import propagate, trace
from starlette.concurrency import run_in_threadpool

from mmagent._messages import for_client
from mmagent.artifacts import REF_TYPES, ArtifactRef
from mmagent.errors import (
    CallAnsweredError,
    InputError,
    MMAgentError,
    RunError,
    RunFinishedError,
    UnknownCallError,
)
from mmagent.events import (
    ApprovalRequested,
    Replanned,
    RunStarted,
    TaskFailed,
    TaskFinished,
)
from mmagent.runs import (
    FINAL,
    STOPPED,
    QueuedRun,
    RunApprove,
    RunCreate,
    RunInfo,
    RunQueue,
    RunStatus,
    RunStore,
)
from mmagent.serving._agent import AgentService, RunSummary, calls_text, paused_text
from mmagent.serving._protocol import MEDIA_FIELDS

__all__ = ["RunService"]

logger = logging.getLogger(__name__)
_ARTIFACT_ID = re.compile(r"[0-9a-f]{64}")
_POLL_S = 0.1  # how often an event stream looks for new events, and a worker for a cancel


class RunService:
    """Creates, reports, streams, cancels and approves runs; runs them on worker threads."""

    def __init__(self, shared: AgentService, queue: RunQueue) -> None:
        self.shared = shared
        self.queue = queue
        self.settings = shared.settings.runs
        self._dispatch_lock = threading.Lock()
        self._workers: dict[str, threading.Thread] = {}
        shared.pauses = self

    def adopt(self, owner: str, request: dict[str, Any], agent_run_id: str,
              waiting: list[dict[str, Any]], summary: RunSummary) -> str:
        """Record a paused run of another surface as a paused run of this API, with what it
        did before the pause (its result starts from there when it resumes); its id."""
        run_id = "run_" + uuid.uuid4().hex
        self.queue.adopt(run_id, owner, request, agent_run_id,
                         {**summary.extras(), "answer": paused_text(run_id, waiting),
                          "pending_approval": waiting})
        return run_id

    def adopt_calls(self, owner: str, request: dict[str, Any], agent_run_id: str,
                    calls: list[dict[str, Any]], summary: RunSummary) -> str:
        """Record a run of another surface that waits for its client's function ``calls``
        (``awaiting_client``); its id."""
        run_id = "run_" + uuid.uuid4().hex
        self.queue.adopt(run_id, owner, request, agent_run_id,
                         {**summary.extras(), "answer": calls_text(run_id, calls),
                          "pending_calls": calls}, status="awaiting_client")
        return run_id

    def answer_calls(self, owner: str, outputs: dict[str, str], base_url: str = "",
                     cancel: threading.Event | None = None) -> RunInfo:
        """Answer the function calls an ``owner``'s run waits for ({call_id: text}): the
        outputs are recorded in the run journal, each call once, and the run is queued again
        and resumed by a worker of any instance; this waits until it stops again (it ends, or
        waits for more calls). :class:`UnknownCallError` for a call no run of ``owner`` made,
        :class:`CallAnsweredError` for one answered before, :class:`RunError` for a run that
        no longer waits (cancelled)."""
        journal = self.shared.agent.executor.runs
        if journal is None:
            raise RunError("got outputs of function calls, but this server records no runs; "
                           "expected a server with executor.checkpoint: true")
        calls = [journal.client_call(call_id) for call_id in outputs]
        if len({c.run_id for c in calls}) > 1:
            raise InputError(f"got outputs for calls of {len({c.run_id for c in calls})} runs; "
                             "expected the calls of one answer", param="messages")
        run = self.queue.of_agent_run(calls[0].run_id)
        if run is None or run.owner != owner:  # another key's call reads as unknown
            raise UnknownCallError(f"got an output for function call {calls[0].call_id!r}, "
                                   "which no run of this API key made; expected the id of a "
                                   "call from the last answer", call_id=calls[0].call_id)
        try:
            self.shared.agent.executor.answer(calls[0].run_id, outputs)
        except CallAnsweredError:
            self._queue_answered(run, journal)
            raise
        if self.queue.transition(run.id, ("awaiting_client",), "queued"):
            self.dispatch()
        return self.wait(run.id, owner, base_url, cancel)

    def _queue_answered(self, run: QueuedRun, journal: RunStore) -> None:
        """Queue a run whose calls are all answered but which still waits: the instance that
        recorded the answers died before it queued the run (the answer is not asked again)."""
        agent_run_id = run.agent_run_id
        if agent_run_id is None or journal.get(agent_run_id).status != "awaiting_client" or \
                journal.pending_calls(agent_run_id):
            return
        if self.queue.transition(run.id, ("awaiting_client",), "queued"):
            self.dispatch()

    # -- the verbs -----------------------------------------------------------------------------

    def create(self, req: RunCreate, owner: str, own_hosts: set[str]) -> dict[str, str]:
        """Validate and store the request's media (owned by ``owner``), queue the run, and
        start it if the key has room. Bad input raises here, before anything is queued."""
        request = self._prepare(req, owner, own_hosts)
        request["trace"] = {}
        propagate.inject(request["trace"])  # the run joins this request's trace, wherever it runs
        run_id = "run_" + uuid.uuid4().hex
        self.queue.create(run_id, owner, request)
        self.recover()
        return {"id": run_id, "status": self.queue.get(run_id).status}

    def get(self, run_id: str, owner: str, base_url: str) -> RunInfo:
        self.recover()
        return self._info(self.queue.get(run_id, owner), base_url)

    def list(self, owner: str, base_url: str) -> list[RunInfo]:
        self.recover()
        return [self._info(r, base_url) for r in
                self.queue.list(owner, limit=self.settings.max_listed)]

    def cancel(self, run_id: str, owner: str, base_url: str) -> RunInfo:
        """A queued or paused run is cancelled at once; a running one stops starting tasks
        (those running finish) and ends ``cancelled``. A finished run: RunFinishedError."""
        run = self.queue.get(run_id, owner)
        if self.queue.transition(run_id, ("queued", "awaiting_approval", "awaiting_client"),
                                 "cancelled"):
            journal = self.shared.agent.executor.runs
            if run.status == "awaiting_client" and journal is not None and run.agent_run_id:
                journal.cancel_paused(run.agent_run_id)  # its calls take no answer
            return self.get(run_id, owner, base_url)
        run = self.queue.get(run_id, owner)
        if run.status == "running":
            self.queue.request_cancel(run_id)
            return self.get(run_id, owner, base_url)
        raise RunFinishedError(f"got a cancel for run {run_id}, which already ended "
                               f"({run.status}); expected a queued, running or paused run",
                               run_id=run_id, status=run.status)

    def approve(self, run_id: str, body: RunApprove, owner: str, base_url: str) -> RunInfo:
        """Answer a paused run: it is queued again and resumed with the decision."""
        run = self.queue.get(run_id, owner)
        if isinstance(body.approve, dict) and run.status == "awaiting_approval":
            waiting = {t["task_id"] for t in (run.result or {}).get("pending_approval") or []}
            unknown = sorted(set(body.approve) - waiting)
            if unknown:
                raise InputError(f"got decisions for {[u[:40] for u in unknown[:5]]}; expected "
                                 f"task ids among those waiting: {sorted(waiting)}",
                                 param="approve")
        if run.status != "awaiting_approval" or not self.queue.transition(
                run_id, ("awaiting_approval",), "queued", decision=body.approve):
            raise RunError(f"got an approval for run {run_id}, which is "
                           f"{self.queue.get(run_id).status}; expected a run awaiting approval",
                           run_id=run_id)
        self.dispatch()
        return self.get(run_id, owner, base_url)

    def decide(self, run_id: str, owner: str, approve: bool, base_url: str = "",
               cancel: threading.Event | None = None) -> RunInfo:
        """Answer a paused run as one call (chat, Responses and MCP approve this way):
        approved, it is resumed by a worker and this waits until it stops again (it ends, or
        pauses on another step); rejected, it is cancelled. A run that no longer waits (it was
        answered already) is left as it is: the answer is how it stands once it stops.
        Setting ``cancel`` (the caller went away) cancels the run and stops waiting."""
        run = self.queue.get(run_id, owner)
        if run.status == "awaiting_approval":
            if not approve:
                self.queue.transition(run_id, ("awaiting_approval",), "cancelled")
            elif self.queue.transition(run_id, ("awaiting_approval",), "queued",
                                       decision=True):
                self.dispatch()
        return self.wait(run_id, owner, base_url, cancel)

    def wait(self, run_id: str, owner: str, base_url: str = "",
             cancel: threading.Event | None = None) -> RunInfo:
        """The run once it stops (ends or pauses); with ``cancel`` set, cancelled first."""
        gone = cancel or threading.Event()
        for tick in itertools.count():
            if self.queue.get(run_id, owner).status in STOPPED:
                break
            if gone.wait(_POLL_S):
                if not self.queue.transition(run_id, ("queued",), "cancelled"):
                    self.queue.request_cancel(run_id)
                break
            if tick % 20 == 19:  # the worker's instance may have died: any live one resumes it
                self.recover()
        return self.get(run_id, owner, base_url)

    async def events(self, run_id: str, owner: str, after: int) -> AsyncIterator[dict[str, Any]]:
        """SSE messages: every stored event after number ``after`` (``id`` = its number,
        ``event: mmagent``), following the run until it stops (ends or pauses for approval),
        then ``event: end`` with ``{"status", "error"}``. Reconnect with ``Last-Event-ID``."""
        await run_in_threadpool(self.queue.get, run_id, owner)  # 404 before the stream opens
        last = after
        while True:
            rows = await run_in_threadpool(self.queue.events, run_id, last)
            for seq, data in rows:
                last = seq
                yield {"id": str(seq), "event": "mmagent", "data": data}
            if rows:
                continue
            run = await run_in_threadpool(self.queue.get, run_id)
            if run.status in STOPPED:
                if await run_in_threadpool(self.queue.events, run_id, last):
                    continue  # written between the two reads
                yield {"event": "end", "data": json.dumps({"status": run.status,
                                                           "error": run.error})}
                return
            await asyncio.sleep(_POLL_S)

    # -- the queue -----------------------------------------------------------------------------

    def recover(self) -> None:
        """Queue again runs whose instance died (no heartbeat for ``serving.runs.lease_s``)
        and start what has room. Called on every create, get and list, so any live instance
        picks them up as soon as a client looks."""
        stale = self.queue.requeue_stale(self.settings.lease_s)
        if stale:
            logger.warning("resuming runs of an instance that stopped: %s", ", ".join(stale))
        self.dispatch()

    def dispatch(self) -> None:
        """Start queued runs while their keys have room (any instance may take any run)."""
        with self._dispatch_lock:
            for owner in self.queue.owners_waiting():
                while (run := self.queue.claim(owner,
                                               self.settings.max_concurrent_per_key)) is not None:
                    worker = threading.Thread(target=self._work, args=(run,),
                                              name=f"mmagent-{run.id}", daemon=True)
                    self._workers[run.id] = worker
                    worker.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for this instance's workers (tests, shutdown)."""
        for worker in list(self._workers.values()):
            worker.join(timeout)

    def _work(self, run: QueuedRun) -> None:
        cancel, stop = _StoredCancel(self.queue, run.id), threading.Event()
        threading.Thread(target=self._watch_cancel, args=(run.id, cancel, stop), daemon=True,
                         name=f"mmagent-{run.id}-cancel").start()
        summary = RunSummary(**{k: v for k, v in (run.result or {}).items()
                                if k in RunSummary.__dataclass_fields__})
        seen = _Seen()
        try:
            with _traced(run):
                self._run(run, cancel, summary, seen)
        finally:
            stop.set()
            self._workers.pop(run.id, None)
        self.dispatch()

    def _run(self, run: QueuedRun, cancel: threading.Event, summary: RunSummary,
             seen: _Seen) -> None:
        try:
            for event in self.shared.observed(self._stream(run, cancel), run.owner,
                                              api_run_id=run.id):
                self.queue.append_event(run.id, event.model_dump_json())
                summary.add(event, lambda artifact_id: f"/v1/artifacts/{artifact_id}")
                seen.add(event)
                if isinstance(event, RunStarted) and not event.resumed:
                    self.queue.set_agent_run_id(run.id, event.run_id)
            agent_run_id = seen.agent_run_id or run.agent_run_id
            cancelled = cancel.is_set() or self.queue.cancel_requested(run.id)
            status = seen.status(summary, cancelled, self._recorded_status(agent_run_id))
            pending = seen.pending or (run.result or {}).get("pending_approval")
            result = {"answer": summary.answer, **summary.extras(),
                      "pending_approval": pending if status == "awaiting_approval" else None,
                      "pending_calls": _pending_calls(self.shared.agent.executor.runs,
                                                      agent_run_id)
                      if status == "awaiting_client" else None}
            # a new pause takes a new answer: the last one must not answer its questions
            self.queue.transition(run.id, ("running",), status, result=result,
                                  **({"decision": None} if status == "awaiting_approval"
                                     else {}))
        except MMAgentError as e:
            self.queue.transition(run.id, ("running",), "failed",
                                  error={"code": e.code, "message": for_client(e.message)})
        except Exception as e:  # a worker never takes the server down
            logger.exception("run %s failed", run.id)
            self.queue.transition(run.id, ("running",), "failed",
                                  error={"code": "internal",
                                         "message": f"internal error: {type(e).__name__}"})

    def _recorded_status(self, agent_run_id: str | None) -> str | None:
        """The status the executor recorded for the agent's run (None: not recorded). It, not
        the events seen, says whether a resumed run is still paused."""
        runs = self.shared.agent.executor.runs
        if agent_run_id is None or runs is None or not runs.exists(agent_run_id):
            return None
        return runs.get(agent_run_id).status

    def _stream(self, run: QueuedRun, cancel: threading.Event) -> Iterator[Any]:
        agent, req = self.shared.agent, run.request
        if run.agent_run_id is not None:  # approved after a pause: continue where it stopped
            return agent.stream_resume(run.agent_run_id, approve=run.decision, cancel=cancel)
        if req.get("workflow") is not None:
            inputs = {k: _load_refs(v) for k, v in req["inputs"].items()}
            return agent.stream_workflow(req["workflow"], inputs, run_id=run.id,
                                         cancel=cancel)
        media = {k: [ArtifactRef.model_validate(r) for r in req[k]]
                 for k in ("images", "audio", "video")}
        return agent.stream(req["prompt"], images=media["images"], audio=media["audio"],
                            video=media["video"], run_id=run.id, cancel=cancel)

    def _watch_cancel(self, run_id: str, cancel: threading.Event, stop: threading.Event) -> None:
        """Poll for a cancel; heartbeat a few times per lease so the run is not taken over."""
        beat_every = max(1, int(self.settings.lease_s / 4 / (_POLL_S * 2)))
        ticks = 0
        while not stop.wait(_POLL_S * 2):
            ticks += 1
            try:
                if ticks % beat_every == 0:
                    self.queue.heartbeat(run_id)
                if not cancel.is_set() and self.queue.cancel_requested(run_id):
                    cancel.set()
            except Exception:  # the database is away for a moment: try again
                logger.warning("could not reach the state store for run %s", run_id)

    # -- requests and reports ------------------------------------------------------------------

    def _prepare(self, req: RunCreate, owner: str, own_hosts: set[str]) -> dict[str, Any]:
        if req.workflow is not None:
            self.shared.check_workflow(req.workflow, param="workflow")
            raw = {k: _as_url(v) for k, v in req.inputs.items()}
            inputs = self.shared.workflow_inputs(req.workflow, raw, owner, own_hosts)
            return {"workflow": req.workflow, "inputs": {k: _dump_refs(v)
                                                          for k, v in inputs.items()}}
        if not req.prompt or not req.prompt.strip():
            raise InputError("got an empty prompt; expected a request in words", param="prompt")
        media = self.shared.media
        return {"prompt": req.prompt, **{
            field: [media.from_url(_as_url(u), kind, owner, own_hosts).model_dump(mode="json")
                    for u in getattr(req, field)]
            for field, kind in MEDIA_FIELDS}}

    def _info(self, run: QueuedRun, base_url: str) -> RunInfo:
        result = run.result or {}
        link = self.shared.linker(base_url)
        artifacts = [{**a, "url": link(a["id"])} for a in result.get("artifacts", [])]
        answer = result.get("answer")
        return RunInfo(
            id=run.id, status=run.status, created_at=run.created, updated_at=run.updated,
            workflow=run.request.get("workflow"), prompt=run.request.get("prompt"),
            cancel_requested=run.cancel_requested and run.status not in FINAL,
            answer=self.shared.present(answer, artifacts) if answer else None,
            plan=result.get("plan"), outputs=result.get("outputs") or {},
            failures=result.get("failures") or {}, artifacts=artifacts,
            pending_approval=result.get("pending_approval"),
            pending_calls=result.get("pending_calls"), error=run.error)


class _StoredCancel(threading.Event):
    """A run's cancel as the executor sees it: set here, or recorded by any instance. Read
    from the store each time the executor looks (before it starts a task), so a cancel that
    was accepted is never outrun by work that starts after it, however fast."""

    def __init__(self, queue: RunQueue, run_id: str) -> None:
        super().__init__()
        self._queue, self._run_id = queue, run_id

    def is_set(self) -> bool:
        if not super().is_set():
            try:
                if self._queue.cancel_requested(self._run_id):
                    self.set()
            except Exception:  # the store is away for a moment: the watcher asks again
                logger.warning("could not read the cancel flag of run %s", self._run_id)
        return super().is_set()


class _Seen:
    """What a run's events say about how it ended."""

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] | None = None
        self.failed: set[str] = set()
        self.agent_run_id: str | None = None

    def add(self, event: Any) -> None:
        if isinstance(event, RunStarted):
            self.agent_run_id = self.agent_run_id or event.run_id
        elif isinstance(event, ApprovalRequested):
            self.pending = event.tasks
        elif isinstance(event, TaskFinished):
            self.failed.discard(event.task_id)  # run again (resumed) and done this time
        elif isinstance(event, TaskFailed):
            self.failed.add(event.task_id)
        elif isinstance(event, Replanned):
            # a replaced task's failure is forgiven; one of the new plan (same id or not) is not
            self.failed -= set(event.dropped)

    def status(self, summary: RunSummary, cancelled: bool, recorded: str | None) -> RunStatus:
        """``recorded``: the executor's own status for the run (None if it keeps none)."""
        if self.pending is not None or recorded == "awaiting_approval":
            return "awaiting_approval"  # workers never answer approvals themselves
        if recorded == "awaiting_client":
            return "awaiting_client"
        planned = {t["id"] for t in (summary.plan or {}).get("tasks", [])}
        if recorded == "cancelled" or (
                cancelled and planned - set(summary.outputs) - set(summary.failures)):
            return "cancelled"  # tasks were left unrun
        return "failed" if self.failed else "completed"


def _pending_calls(runs: RunStore | None, agent_run_id: str | None) -> list[dict[str, Any]]:
    """The journal's unanswered calls of the client's functions of ``agent_run_id``."""
    if agent_run_id is None or runs is None:
        return []
    return [c.wire() for c in runs.pending_calls(agent_run_id)]


def _traced(run: QueuedRun):
    """The span of one turn of a run on a worker: a child of the ``POST /v1/runs`` request
    that queued it (its trace context travels in the run's record), linked to it too, so
    tracing back ends see the relation even where they drop late children."""
    parent = propagate.extract(run.request.get("trace") or {})
    origin = trace.get_current_span(parent).get_span_context()
    links = [trace.Link(origin)] if origin.is_valid else []
    return trace.get_tracer("mmagent").start_as_current_span(
        "mmagent.api_run", context=parent, links=links, kind=trace.SpanKind.CONSUMER,
        attributes={"mmagent.api_run_id": run.id})


def _as_url(value: Any) -> Any:
    """A bare file id (from ``POST /v1/files``) as an ``artifact://`` link."""
    if isinstance(value, str) and _ARTIFACT_ID.fullmatch(value):
        return "artifact://" + value
    if isinstance(value, list):
        return [_as_url(v) for v in value]
    return value


def _dump_refs(value: Any) -> Any:
    if isinstance(value, ArtifactRef):
        return {"$artifact": value.model_dump(mode="json")}
    if isinstance(value, list):
        return [_dump_refs(v) for v in value]
    return value


def _load_refs(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$artifact"}:
        data = value["$artifact"]
        return REF_TYPES[data["kind"]].model_validate(data)
    if isinstance(value, list):
        return [_load_refs(v) for v in value]
    return value
