"""The SDK entry point: :class:`Agent` plans a request, runs the plan and answers; it also runs
workflows, and resumes, approves and cancels runs.

>>> from mmagent import Agent                                   # doctest: +SKIP
>>> result = Agent().run("What is in this photo? Say it aloud.",  # doctest: +SKIP
...                      images=["examples/photo.png"])
>>> result.answer, [a.path for a in result.artifacts]           # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mmagent._telemetry import TracedBackend, configure, fail, span
from mmagent.agent._ingest import MediaInput, ingest, put_media
from mmagent.agent._responder import LLMResponder, Responder, TemplateResponder, produced_artifacts
from mmagent.agent._result import ProducedArtifact, RunResult, run_fields
from mmagent.artifacts._provenance import (
    ProvenanceExporter,
    ProvenanceTap,
    from_media,
    plan_document,
    workflow_document,
)
from mmagent.artifacts._store import ArtifactRef, ArtifactStore
from mmagent.config._config import Config, PlannerConfig
from mmagent.errors import InputError
from mmagent.events import (
    AnswerReady,
    ApprovalRequested,
    Event,
    PlanCreated,
    RouteChosen,
    RunStarted,
    iterate_events,
)
from mmagent.execution._approval import Approve
from mmagent.execution._executor import ExecutionResult
from mmagent.execution._from_config import make_executor
from mmagent.plan._ir import Plan
from mmagent.planner._backends import ChatBackend
from mmagent.planner._planner import Planner, PlanResult, confirmation_question
from mmagent.planner._replan import run_with_replanning
from mmagent.planner._router import Router
from mmagent.stores import make_artifact_store
from mmagent.toolkit._base import Tool
from mmagent.toolkit._client_tools import ClientFunction, ClientTool, client_tools
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["Agent", "make_backend"]

Decision = bool | dict[str, bool] | Approve | None
"""``approve=`` of :meth:`Agent.resume`: an answer, or a callback that gives one."""


class Agent:
    """Plans multimodal requests with an LLM and runs them on model tools.

    ``config`` is a :class:`Config`, a path to ``mmagent.yaml``, or None (``$MMAGENT_CONFIG``,
    then ``./mmagent.yaml``, then the profile's defaults). ``registry`` and ``planner_backend``
    replace the configured ones (tests, custom set-ups).
    """

    def __init__(self, config: Config | str | os.PathLike[str] | None = None, *,
                 profile: str | None = None, registry: ToolRegistry | None = None,
                 planner_backend: ChatBackend | None = None,
                 use_cache: bool | None = None) -> None:
        if not isinstance(config, Config):
            config = Config.load(config, profile=profile)
        self.config = config
        configure(config.telemetry)
        self.store: ArtifactStore = make_artifact_store(config)
        self.provenance = (ProvenanceExporter(self.store, config.cache_dir / "exports")
                           if config.runtime.embed_provenance else None)
        self.registry = registry or ToolRegistry.discover(
            {name: tc.kwargs() for name, tc in config.tools.items()},
            cache_dir=config.cache_dir, memory_budget_gb=config.runtime.memory_budget_gb)
        self.mcp_connections = []
        """Sessions with the ``mcp_servers`` whose tools joined the registry."""
        if config.mcp_servers:
            from mmagent.toolkit._mcp_client import add_mcp_tools

            self.mcp_connections = add_mcp_tools(self.registry, config.mcp_servers)
        self._backend = planner_backend
        self._own_llm = planner_backend is not None  # the caller's LLM plans what grounding doubts
        self._backend_lock = threading.Lock()
        self.executor = make_executor(config, self.registry, self.store, use_cache=use_cache)
        self._cancels: dict[str, threading.Event] = {}
        self._client_functions: list[ClientFunction] = []
        """The client's functions among this view's tools (recorded with its runs)."""

    # -- public API ----------------------------------------------------------------------------

    def run(self, prompt: str, images: Sequence[MediaInput] = (), audio: Sequence[MediaInput] = (),
            video: Sequence[MediaInput] = (), *, approve: Approve | None = None,
            run_id: str | None = None, cancel: threading.Event | None = None,
            tools: Sequence[type[Tool]] = ()) -> RunResult:
        """Plan and run ``prompt`` over the given media; raises :class:`ToolExecutionError`
        (with ``.result``) if a task failed.

        Tools that need approval (config ``executor.approval``) ask ``approve`` (an
        :class:`ApprovalRequest` in, True/False or {task_id: bool} out); without it the run
        pauses and returns ``status="awaiting_approval"``: continue with :meth:`resume`.
        ``cancel`` (or :meth:`cancel` with ``run_id``) stops a run from starting new tasks.
        ``tools`` join the registry for this request only; a call of a client's function
        (:func:`~mmagent.toolkit.client_tools`) pauses the run, ``status="awaiting_client"``
        with ``pending_calls``: answer them with ``resume(run_id, outputs={call_id: text})``.
        """
        events: list[Any] = []
        inputs = self._ingest(images, audio, video)
        result = self._with_tools(list(tools))._run_inputs(
            prompt, inputs, events.append, approve=approve, run_id=run_id, cancel=cancel)
        result.events = events
        return result.raise_for_failures()

    def stream(self, prompt: str, images: Sequence[MediaInput] = (),
               audio: Sequence[MediaInput] = (), video: Sequence[MediaInput] = (), *,
               approve: Approve | None = None, run_id: str | None = None,
               cancel: threading.Event | None = None,
               tools: Sequence[type[Tool]] = ()) -> Iterator[Event]:
        """Yield events as the request is planned and run; the last one is ``AnswerReady``.

        Task failures arrive as ``TaskFailed`` events; bad input raises before any event.
        ``tools`` join the registry for this request only (a client's functions, see
        :func:`~mmagent.toolkit.client_tools`: a call of one pauses the run).
        """
        inputs = self._ingest(images, audio, video)  # fail fast, in the caller's thread
        agent = self._with_tools(list(tools))
        return iterate_events(lambda emit: agent._run_inputs(
            prompt, inputs, emit, approve=approve, run_id=run_id, cancel=cancel))

    def _with_tools(self, tools: list[type[Tool]]) -> Agent:
        """This agent, or a view of it whose registry (and executor's) adds ``tools``; the
        view shares everything else: store, backend, loaded models, run store, cancels."""
        if not tools:
            return self
        view = copy.copy(self)
        view.registry = self.registry.with_tools(tools)
        view.executor = copy.copy(self.executor)
        view.executor.registry = view.registry
        view._client_functions = [t.function for t in tools if issubclass(t, ClientTool)]
        return view

    def plan(self, prompt: str, images: Sequence[MediaInput] = (),
             audio: Sequence[MediaInput] = (), video: Sequence[MediaInput] = ()) -> Plan:
        """Only plan (no tool runs): what the LLM would schedule for this request."""
        inputs = self._ingest(images, audio, video)
        return self._plan(prompt, inputs).plan

    def learn(self, prompt: str, plan: Plan | str | os.PathLike[str],
              inputs: dict[str, str] | None = None) -> None:
        """Teach the planner: ``plan`` (a :class:`Plan`, or a workflow file such as one saved
        with ``--save-plan``) is how requests like ``prompt`` should be planned. It joins the
        local bank ``<cache_dir>/learned_demos.yaml``, which the planner reads when
        ``planner.learn`` is true. ``inputs`` maps input names to kinds (default: from the
        plan's ``$input.<kind><n>`` references). The plan must validate against the tools."""
        from mmagent.plan._validator import check_size, validate
        from mmagent.planner._learn import learn, learned_bank_path, workflow_plan
        from mmagent.workflows._check import check_limits
        from mmagent.workflows._parse import load_workflow

        if not isinstance(plan, Plan):
            wf = load_workflow(plan)
            check_limits(wf, self.store.limits)  # counts first: a huge plan costs nothing
            plan, inputs = workflow_plan(wf)
        check_size(len(plan.tasks), self.store.limits.max_tasks)
        if inputs is None:
            inputs = {r.field: r.field.rstrip("0123456789") for t in plan.tasks
                      for _a, r in t.refs() if r.is_input}
        validate(plan, self.registry, inputs)
        learn(learned_bank_path(self.config.cache_dir), prompt, plan, inputs)

    def planner(self) -> Planner:
        return Planner.from_config(TracedBackend(self.backend()), self.registry,
                                   self.config.planner, cache_dir=self.config.cache_dir,
                                   capable_llm=True if self._own_llm else None)

    def backend(self) -> ChatBackend:
        with self._backend_lock:
            if self._backend is None:
                self._backend = make_backend(self.config.planner, self.config.cache_dir)
            return self._backend

    def workflows(self) -> dict[str, Path]:
        """Workflow names to files: the shipped ``graphs/*.yaml``, then ``workflows.paths``
        from the config (files, or folders of ``*.yaml``; a later one wins a name)."""
        from mmagent.workflows._library import find_workflows

        return find_workflows(self.config.workflows.paths)

    def run_workflow(self, workflow: str | os.PathLike[str] | Any,
                     inputs: dict[str, Any] | None = None) -> RunResult:
        """Run a workflow (a name from :meth:`workflows`, a path, or a loaded ``Workflow``)
        without the LLM. Media inputs are paths, PIL images or ArtifactRefs. Raises
        :class:`ToolExecutionError` (with ``.result``) if a task failed."""
        events: list[Any] = []
        result = self._run_workflow(self._workflow_run(workflow, inputs or {}), events.append)
        result.events = events
        return result.raise_for_failures()

    def stream_workflow(self, workflow: str | os.PathLike[str] | Any,
                        inputs: dict[str, Any] | None = None, *, run_id: str | None = None,
                        cancel: threading.Event | None = None) -> Iterator[Event]:
        """Yield a workflow run's events; the last one is ``AnswerReady``. A bad workflow or
        bad inputs raise before any event. ``cancel`` stops it from starting new tasks; a
        step that needs approval pauses it (continue with :meth:`resume`)."""
        prepared = self._workflow_run(workflow, inputs or {})
        return iterate_events(lambda emit: self._run_workflow(prepared, emit, run_id=run_id,
                                                              cancel=cancel))

    def resume(self, run_id: str, *, approve: Decision = None,
               outputs: dict[str, str] | None = None,
               cancel: threading.Event | None = None) -> RunResult:
        """Continue run ``run_id`` (killed, cancelled, or paused for approval or its client).

        Finished tasks are not run again. ``approve`` answers a pending approval: True/False,
        {task_id: bool}, or a callback taking an :class:`ApprovalRequest`. ``outputs`` answers
        the calls of the client's functions it waits for ({call_id: text}), each once: the
        resumed tasks return those texts, in this process or any other on the same run store.
        Raises :class:`UnknownRunError` or :class:`RunFinishedError` for ids it cannot
        continue, :class:`UnknownCallError` / :class:`CallAnsweredError` for a call id it did
        not make or that was answered before.
        """
        events: list[Any] = []
        if outputs:
            self.executor.answer(run_id, outputs)
        result = self._resuming(run_id)._resume(run_id, events.append, approve, cancel)
        result.events = events
        return result.raise_for_failures()

    def stream_resume(self, run_id: str, *, approve: Decision = None,
                      outputs: dict[str, str] | None = None,
                      cancel: threading.Event | None = None) -> Iterator[Event]:
        """Like :meth:`resume`, yielding events; the last one is ``AnswerReady``."""
        if outputs:  # fail fast, in the caller's thread
            self.executor.answer(run_id, outputs)
        if self.executor.runs is not None:
            self.executor.runs.resumable(run_id)
        agent = self._resuming(run_id)
        return iterate_events(lambda emit: agent._resume(run_id, emit, approve, cancel))

    def _resuming(self, run_id: str) -> Agent:
        """This agent, or its view with the client's functions run ``run_id`` was given (they
        are recorded with the run, so any process resumes it)."""
        runs = self.executor.runs
        recorded = runs.get(run_id).meta.get("client_functions") \
            if runs is not None and runs.exists(run_id) else None
        if not recorded or self._client_functions:
            return self
        return self._with_tools(client_tools([ClientFunction(**f) for f in recorded]))

    def cancel(self, run_id: str) -> bool:
        """Stop run ``run_id``: one running in this process finishes its running tasks, starts
        no new one and ends ``cancelled``; one paused in the run journal (waiting for approval
        or for its client, started by any process) is ``cancelled`` at once, and its client's
        late answers are refused. False if the run neither runs here nor waits."""
        event = self._cancels.get(run_id)
        if event is not None:
            event.set()
            return True
        runs = self.executor.runs
        return runs is not None and runs.cancel_paused(run_id)

    def artifact_path(self, ref: ArtifactRef) -> Path:
        """The file to hand out for ``ref``: its copy carrying the workflow that made it
        (``runtime.embed_provenance``), else the stored file."""
        copy = self.provenance.latest(ref.id) if self.provenance is not None else None
        return copy or self.store.path(ref)

    # -- internals: one request --------------------------------------------------------------

    def _workflow_run(self, workflow, inputs: dict[str, Any]):
        from mmagent.artifacts._provenance import SUFFIXES
        from mmagent.workflows._library import resolve_workflow
        from mmagent.workflows._run import WorkflowRun

        if isinstance(workflow, (str, os.PathLike)) and \
                Path(workflow).suffix.lower() in SUFFIXES:  # a file that carries its workflow
            workflow, inputs = from_media(workflow, self.store, inputs)
        wf = resolve_workflow(workflow, self.workflows())
        run = WorkflowRun(wf, self.registry, self.executor, self.store,
                          partial(put_media, self.store))
        return run.prepare(inputs)

    def _run_workflow(self, prepared, emit, run_id: str | None = None, approve=None,
                      cancel: threading.Event | None = None) -> RunResult:
        with span("mmagent.run", {"mmagent.workflow": _workflow_name(prepared)}) as s:
            if self.provenance is not None:
                doc = workflow_document(prepared.wf, prepared.values)
                emit = ProvenanceTap(self.provenance, emit, lambda _plan: doc)
            outcome = prepared.execute(emit, run_id=run_id, approve=approve, cancel=cancel)
            result = self._result(outcome.answer, outcome.plan, outcome.execution)
            result.named_outputs = outcome.outputs
            _traced_result(s, result)
        return result

    def _run_inputs(self, prompt: str, inputs: dict[str, ArtifactRef], emit, *,
                    approve: Approve | None = None, run_id: str | None = None,
                    cancel: threading.Event | None = None) -> RunResult:
        if not prompt or not prompt.strip():
            raise InputError("got an empty prompt; expected a request in words")
        if self.provenance is not None:
            emit = ProvenanceTap(self.provenance, emit, lambda plan: plan_document(
                plan, prompt, inputs, self.registry))
        with span("mmagent.run", {"mmagent.inputs": len(inputs)}) as s:
            result = self._run_traced(prompt, inputs, emit, approve, run_id, cancel, s)
            _traced_result(s, result)
        return result

    def _run_traced(self, prompt, inputs, emit, approve, run_id, cancel, s) -> RunResult:
        route = Router(self.registry, self.config.router.mode).decide(prompt, inputs)
        emit(RouteChosen(route=route.route, reason=route.reason))
        s.set_attribute("mmagent.route", route.route)
        planned = (PlanResult(plan=route.plan, attempts=0) if route.plan is not None
                   else self._plan(prompt, inputs))
        emit(PlanCreated(plan=planned.plan, attempts=planned.attempts, cached=planned.cached,
                         prompt_tokens=planned.prompt_tokens,
                         completion_tokens=planned.completion_tokens))
        if planned.outcome != "plan" or planned.needs_confirmation:
            return self._answer_unrun(planned, emit)
        run_id = run_id or uuid.uuid4().hex
        s.set_attribute("mmagent.run_id", run_id)
        emit(RunStarted(run_id=run_id))
        emit, asked = _watch_approvals(emit)
        with self._cancel_handle(run_id, cancel) as event:
            plan, result = run_with_replanning(
                self.executor, self.planner, prompt, inputs, planned.plan, emit,
                self.config.planner.replan_attempts, run_id=run_id,
                timeout_s=self.config.planner.replan_timeout_s, approve=approve,
                cancel=event, meta=self._meta(prompt))
        if asked:
            self._learn_approved(prompt, plan, {n: r.kind for n, r in inputs.items()}, result)
        return self._answer(prompt, plan, result, emit)

    def _meta(self, prompt: str) -> dict[str, Any]:
        """What a run records besides its plan: the prompt, and the client's functions."""
        meta: dict[str, Any] = {"prompt": prompt}
        if self._client_functions:
            meta["client_functions"] = [dataclasses.asdict(f) for f in self._client_functions]
        return meta

    def _learn_approved(self, prompt: str, plan: Plan, inputs: dict[str, str],
                        result: ExecutionResult) -> None:
        """A run someone approved, which then finished with every task done, joins the
        learned bank (``planner.learn``): the next similar request is planned like it."""
        if not (self.config.planner.learn and prompt.strip() and plan.tasks
                and result.status == "completed" and result.ok):
            return
        from mmagent.planner._learn import learn, learned_bank_path

        learn(learned_bank_path(self.config.cache_dir), prompt, plan, inputs)

    def _answer_unrun(self, planned: PlanResult, emit) -> RunResult:
        """No tool runs: the request needs none (the answer is the planner's), or the planner
        is unsure of its plan (the answer says what it would do and asks to confirm)."""
        text = planned.answer if planned.outcome != "plan" else confirmation_question(
            planned.plan, planned.confidence, planned.unused_inputs)
        emit(AnswerReady(text=text))
        return RunResult(answer=text, plan=planned.plan)

    def _plan(self, prompt: str, inputs: dict[str, ArtifactRef]) -> PlanResult:
        with span("mmagent.plan") as s:
            planned = self.planner().plan(prompt, inputs)
            s.set_attribute("mmagent.plan.attempts", planned.attempts)
            s.set_attribute("mmagent.plan.cached", bool(planned.cached))
            s.set_attribute("mmagent.tasks", len(planned.plan.tasks))
            return planned

    def _result(self, answer: str, plan: Plan, result: ExecutionResult) -> RunResult:
        arts = [ProducedArtifact(id=r.id, kind=r.kind, mime=r.mime, task=t,
                                 path=str(self.artifact_path(r)))
                for t, _f, r in produced_artifacts(plan, result)]
        failures = {t: f.message for t, f in result.failures.items()}
        failures.update({t: "skipped: an input it needs failed"
                         for t in getattr(result, "skipped_after_failure", result.skipped)})
        return RunResult(answer=answer, plan=plan, artifacts=arts, outputs=result.outputs,
                         failures=failures, **run_fields(result))

    def _responder(self) -> Responder:
        if self.config.responder == "llm":
            return LLMResponder(TracedBackend(self.backend()), self.store)
        return TemplateResponder(self.store)

    def _ingest(self, images, audio, video) -> dict[str, ArtifactRef]:
        return ingest(self.store, images, audio, video)

    def _answer(self, prompt: str, plan: Plan, result: ExecutionResult, emit) -> RunResult:
        if result.status == "awaiting_approval":
            pending = result.pending_approval
            assert pending is not None  # the executor sets it with the status
            waiting = ", ".join(f"{t['task_id']} ({t['tool']})" for t in pending.tasks)
            text = (f"Paused: {waiting} waits for approval. Continue with "
                    f"`mmagent resume {result.run_id} --approve` (or --reject).")
            emit(AnswerReady(text=text))
            return self._result(text, plan, result)
        if result.status == "awaiting_client":
            calls = ", ".join(f"{c['task_id']} ({c['name']}, call {c['call_id']})"
                              for c in result.pending_calls)
            text = (f"Paused: {calls} waits for the client's output. Continue with "
                    f"Agent.resume({result.run_id!r}, outputs={{call_id: text}}).")
            emit(AnswerReady(text=text))
            return self._result(text, plan, result)
        answer = self._responder().respond(prompt, plan, result)
        text = answer.text
        if result.status == "cancelled":
            text = f"Cancelled (run {result.run_id}). " + text
        emit(AnswerReady(text=text, artifacts=[r.id for r in answer.artifacts]))
        return self._result(text, plan, result)

    @contextlib.contextmanager
    def _cancel_handle(self, run_id: str, cancel: threading.Event | None):
        event = cancel or threading.Event()
        self._cancels[run_id] = event
        try:
            yield event
        finally:
            self._cancels.pop(run_id, None)

    # -- internals: resuming a run -----------------------------------------------------------

    def _resume(self, run_id: str, emit, approve: Decision, cancel) -> RunResult:
        workflow = self._workflow_record(run_id)
        if workflow is not None:
            return self._resume_workflow(*workflow, emit, approve, cancel)
        emit(RunStarted(run_id=run_id, resumed=True))
        emit, asked = _watch_approvals(self._resume_tap(run_id, emit))
        callback = approve if callable(approve) else None
        decision = None if callable(approve) else approve
        with self._cancel_handle(run_id, cancel) as event:
            result = self.executor.resume(run_id, emit, decision=decision, approve=callback,
                                          cancel=event)
        rec = self.executor.runs.get(run_id) if self.executor.runs else None
        prompt = (rec.meta.get("prompt") if rec else None) or ""
        plan = Plan.model_validate(rec.plan) if rec else Plan()
        if rec is not None and (asked or decision is True or (
                isinstance(decision, dict) and decision and all(decision.values()))):
            kinds: dict[str, str] = {n: ArtifactRef.model_validate(v).kind
                                     for n, v in rec.inputs.items()}
            self._learn_approved(prompt, plan, kinds, result)
        return self._answer(prompt, plan, result, emit)

    def _resume_tap(self, run_id: str, emit):
        """A resumed run's artifacts carry its recorded plan, prompt and inputs too."""
        if self.provenance is None or self.executor.runs is None:
            return emit
        try:
            rec = self.executor.runs.get(run_id)
            plan = Plan.model_validate(rec.plan)
            inputs = {n: ArtifactRef.model_validate(v) for n, v in rec.inputs.items()}
            doc = plan_document(plan, rec.meta.get("prompt") or "", inputs, self.registry)
        except Exception:  # an unknown run fails in resume itself, with its own error
            return emit
        tap = ProvenanceTap(self.provenance, emit, lambda _plan: doc)
        tap.plan = plan
        return tap

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

    def _resume_workflow(self, run_id: str, workflow: dict[str, Any], emit,
                         approve: Decision = None,
                         cancel: threading.Event | None = None) -> RunResult:
        """Run the workflow again as the same run: finished tasks are kept, and every stage
        after them runs, as in a run that was never interrupted; ``approve`` answers the
        step it paused on."""
        runs = self.executor.runs
        assert runs is not None  # a workflow run to resume was read from the journal
        runs.resumable(run_id)
        source = workflow["file"] if workflow["file"] != "<workflow>" else workflow["name"]
        inputs = {name: _ref_or_value(v) for name, v in workflow["inputs"].items()}
        prepared = self._workflow_run(source, inputs)
        return self._run_workflow(prepared, emit, run_id=run_id, approve=approve,
                                  cancel=cancel)


def _watch_approvals(emit: Any) -> tuple[Any, list[bool]]:
    """``emit`` passing events on, and a list that holds True once an approval was asked."""
    asked: list[bool] = []

    def watch(event: Event) -> None:
        if isinstance(event, ApprovalRequested) and not asked:
            asked.append(True)
        emit(event)

    return watch, asked


def _ref_or_value(value: Any) -> Any:
    """A recorded input value: artifact reference dicts become :class:`ArtifactRef` again."""
    if isinstance(value, list):
        return [_ref_or_value(v) for v in value]
    if isinstance(value, dict) and value.get("kind") in ("image", "audio", "video"):
        return ArtifactRef.model_validate(value)
    return value


def _workflow_name(prepared: Any) -> str | None:
    wf = getattr(prepared, "wf", None)
    file = getattr(wf, "file", None)
    return getattr(wf, "name", None) or (str(file) if file else None)


def _traced_result(s: Any, result: RunResult) -> None:
    s.set_attribute("mmagent.status", result.status)
    s.set_attribute("mmagent.tasks", len(result.plan.tasks))
    if result.run_id:
        s.set_attribute("mmagent.run_id", result.run_id)
    if result.failures:
        task, message = next(iter(result.failures.items()))
        fail(s, "tool.failed", f"{len(result.failures)} task(s) failed; {task}: {message}")


def make_backend(pc: PlannerConfig, cache_dir: Path | None = None) -> ChatBackend:
    """The chat backend ``planner:`` in the config describes."""
    if pc.backend == "openai":
        from mmagent.planner._openai import OpenAIChatBackend

        return OpenAIChatBackend(pc.model, base_url=pc.base_url, api_key=pc.api_key,
                                 api_key_env=pc.api_key_env, response_format=pc.response_format)
    from mmagent.planner._local import LocalChatBackend, smollm2_checkpoint

    model, gguf = (smollm2_checkpoint() if pc.model == "smollm2" else (pc.model, pc.gguf_file))
    return LocalChatBackend(model, gguf_file=gguf, device=pc.device, dtype=pc.dtype,
                            cache_dir=cache_dir)
