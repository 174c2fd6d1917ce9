"""The agent as every endpoint's service shares it: settings, metrics, artifact owners, media
resolution, model ids, runs into events and summaries, and links to what a run produced.

One :class:`AgentService` per app; each endpoint's service (``chat/``, ``responses/``,
``workflows/``, ``files/``, ``runs/``, ``mcp/``) holds one and adds only its own protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mmagent.agent import Agent
from mmagent.artifacts import ArtifactKind, ArtifactRef, kind_phrase
from mmagent.errors import InputError, MMAgentError, WrongKindError
from mmagent.events import (
    AnswerReady,
    ApprovalRequested,
    ArtifactCreated,
    ClientCallRequested,
    PlanCreated,
    ReplanFailed,
    Replanned,
    RunStarted,
    TaskFailed,
    TaskFinished,
)
from mmagent.runs import RunInfo
from mmagent.serving._http_errors import UnknownModelError
from mmagent.serving._metrics import Metrics
from mmagent.serving._protocol import MEDIA_KINDS, MODEL_ID, WORKFLOW_PREFIX
from mmagent.serving._request_media import MediaResolver
from mmagent.stores import make_owners
from mmagent.toolkit import Tool
from mmagent.workflows import bind_inputs, load_workflow, short_value

__all__ = ["AgentService", "Pauses", "ParsedRequest", "RunSummary", "Link", "OnPaused",
           "REPLY_HINT", "paused_text", "calls_text", "wire_call"]

Link = Callable[[str], str]
"""Artifact id -> the link a client downloads it from."""
OnPaused = Callable[[str, list[dict[str, Any]]], None]
"""(API run id, the tasks waiting) of a run that paused for approval."""


REPLY_HINT = ' Or reply "approve" in this conversation ("reject" cancels it).'
"""How a paused answer of chat completions and the Responses API is also approved
(``_follow_up.py``)."""


def paused_text(run_id: str, waiting: list[dict[str, Any]], base_url: str = "",
                conversation: bool = False) -> str:
    """The answer of a run paused for approval, for an HTTP client: how to approve it
    (``base_url``: the server's, for clients that see no relative paths; ``conversation``:
    an answer of chat or Responses, which a follow-up request approves too)."""
    tasks = ", ".join(f"{t['task_id']} ({t['tool']})" for t in waiting)
    url = f"{base_url.rstrip('/')}/v1/runs/{run_id}"
    return (f"Paused: {tasks} waits for approval (run {run_id}). Approve it with "
            f"POST {url}/approve and the body {{\"approve\": true}} "
            f"({{\"approve\": false}} rejects it); follow it at GET {url}."
            + (REPLY_HINT if conversation else ""))


@dataclass
class ParsedRequest:
    """A request in the agent's terms: the prompt and the stored media, by kind."""

    prompt: str
    media: dict[ArtifactKind, list[ArtifactRef]] = field(
        default_factory=lambda: {k: [] for k in MEDIA_KINDS})


@dataclass
class RunSummary:
    """What a run's events add up to (the JSON a client rebuilds a ``RunResult`` from)."""

    answer: str = ""
    plan: dict[str, Any] | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, event: Any, link: Link) -> None:
        if isinstance(event, PlanCreated):
            self.plan = event.plan.model_dump(mode="json")
            self.prompt_tokens += event.prompt_tokens
            self.completion_tokens += event.completion_tokens
        elif isinstance(event, Replanned | ReplanFailed):  # a re-plan's LLM calls count too
            self.prompt_tokens += event.prompt_tokens
            self.completion_tokens += event.completion_tokens
        elif isinstance(event, TaskFinished):
            self.outputs[event.task_id] = event.output
        elif isinstance(event, TaskFailed):
            self.failures[event.task_id] = event.message
        elif isinstance(event, ArtifactCreated):
            a = event.artifact
            self.artifacts.append({"id": a.id, "kind": a.kind, "mime": a.mime,
                                   "task": event.task_id, "field": event.field,
                                   "url": link(a.id)})
        elif isinstance(event, AnswerReady):
            self.answer = event.text

    def extras(self) -> dict[str, Any]:
        return {"plan": self.plan, "outputs": self.outputs, "failures": self.failures,
                "artifacts": self.artifacts}

    @classmethod
    def of_run(cls, info: RunInfo) -> RunSummary:
        """The summary of a runs API run as it stands."""
        return cls(answer=info.answer or "", plan=info.plan, outputs=dict(info.outputs),
                   failures=dict(info.failures), artifacts=list(info.artifacts))


class Pauses(Protocol):
    """Paused runs as the runs API keeps them (its service): other surfaces record their paused
    runs there and answer them through it, so any instance resumes them, exactly once."""

    def adopt(self, owner: str, request: dict[str, Any], agent_run_id: str,
              waiting: list[dict[str, Any]], summary: RunSummary) -> str:
        """Record a paused run (what it did so far: ``summary``); its API run id."""
        ...

    def adopt_calls(self, owner: str, request: dict[str, Any], agent_run_id: str,
                    calls: list[dict[str, Any]], summary: RunSummary) -> str:
        """Record a run that waits for its client's function ``calls``; its API run id."""
        ...

    def answer_calls(self, owner: str, outputs: dict[str, str], base_url: str = "",
                     cancel: threading.Event | None = None) -> RunInfo:
        """Answer the calls ``owner``'s paused run waits for ({call_id: text}, each once) and
        wait until the resumed run stops again (it ends, or waits for more calls)."""
        ...

    def decide(self, run_id: str, owner: str, approve: bool, base_url: str = "",
               cancel: threading.Event | None = None) -> RunInfo:
        """Answer ``owner``'s paused run and wait until it stops again: approved, it resumes
        (and ends, or pauses on another step); rejected, it is cancelled. A run no longer
        waiting is not resumed again: the answer is how it stands."""
        ...


class AgentService:
    """One :class:`Agent` behind every endpoint of an app.

    >>> shared = AgentService(Agent("mmagent.yaml"))           # doctest: +SKIP
    >>> shared.check_model("workflow:caption_and_speak")       # doctest: +SKIP
    'caption_and_speak'
    """

    def __init__(self, agent: Agent, metrics: Metrics | None = None, *,
                 remote: bool = True) -> None:
        self.agent = agent
        self.pauses: Pauses | None = None
        """Where paused runs of chat, Responses and MCP are recorded and answered (the runs
        service sets itself here)."""
        self.settings = agent.config.serving
        if remote:  # callers over the network name no server path outside allowed_roots
            agent.registry.restrict_paths(self.settings.allowed_roots)
        self.metrics = metrics or Metrics()
        self.owners = make_owners(agent.config, agent.store.root)
        self.media = MediaResolver(agent.store, self.owners, self.settings)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "tools": self.agent.registry.names()}

    # -- models and workflows ------------------------------------------------------------------

    def workflow_names(self) -> list[str]:
        return sorted(self.agent.workflows())

    def workflow(self, name: str) -> Any:
        """The spec of workflow ``name`` (one of :meth:`workflow_names`)."""
        return load_workflow(self.agent.workflows()[name])

    def model_ids(self) -> list[str]:
        return [MODEL_ID] + [WORKFLOW_PREFIX + n for n in self.workflow_names()]

    def check_model(self, model: str) -> str | None:
        """The workflow name ``model`` picks (None for the agent); UnknownModelError else."""
        if model == MODEL_ID:
            return None
        if model.startswith(WORKFLOW_PREFIX) and model[len(WORKFLOW_PREFIX):] in \
                self.workflow_names():
            return model[len(WORKFLOW_PREFIX):]
        raise UnknownModelError(f"got model {model!r}; expected one of {self.model_ids()}",
                                param="model")

    def check_workflow(self, name: str, param: str | None = None) -> None:
        if name not in self.workflow_names():
            raise UnknownModelError(f"got workflow {name[:200]!r}; expected one of "
                                    f"{self.workflow_names()}", param=param)

    def workflow_inputs(self, name: str, raw: dict[str, Any], owner: str,
                        own_hosts: set[str]) -> dict[str, Any]:
        """A workflow's input values as a client sends them, checked as a run checks them
        before anything runs (the workflow against the tools, then the inputs against the
        workflow: :func:`~mmagent.workflows.bind_inputs`), so that no run is started that can
        only fail; media (links or data URLs) stored, owned by ``owner``."""

        def put(value: Any, kind: ArtifactKind) -> ArtifactRef:
            if not isinstance(value, str):
                raise WrongKindError(f"got {short_value(value)}; expected {kind_phrase(kind)} "
                                     "as a data: URL, an artifact link or an http(s) URL")
            return self.media.from_url(value, kind, owner, own_hosts)

        spec = self.workflow(name)
        spec.check(self.agent.registry, self.agent.store.limits)
        return bind_inputs(spec, raw, put)

    # -- runs ----------------------------------------------------------------------------------

    def events(self, workflow: str | None, parsed: ParsedRequest, owner: str,
               cancel: threading.Event | None = None,
               tools: Sequence[type[Tool]] = (), on_paused: OnPaused | None = None,
               conversation: bool = False) -> Iterator[Any]:
        """The events of a request to the agent (``workflow`` None) or to a workflow, whose
        inputs the request's prompt and media fill. Setting ``cancel`` (the client went away)
        stops an agent run from starting more tasks. ``tools`` (the client's functions) join
        the agent's tools for this request. ``on_paused`` hears of a pause, ``conversation``
        says how a paused answer reads (:meth:`observed`)."""
        if workflow is None:
            stream = self.agent.stream(parsed.prompt, images=parsed.media["image"],
                                       audio=parsed.media["audio"], video=parsed.media["video"],
                                       cancel=cancel, tools=tools)
            return self.observed(stream, owner, request={"prompt": parsed.prompt},
                                 on_paused=on_paused, conversation=conversation)
        if tools:
            raise InputError(f"got tools for workflow {workflow!r}; expected tools only with "
                             f"model {MODEL_ID!r} (a workflow's steps are fixed)", param="tools")
        return self.workflow_events(workflow, _fill_inputs(self.workflow(workflow), parsed),
                                    owner, on_paused=on_paused, conversation=conversation)

    def workflow_events(self, name: str, inputs: dict[str, Any], owner: str,
                        on_paused: OnPaused | None = None, conversation: bool = False
                        ) -> Iterator[Any]:
        return self.observed(self.agent.stream_workflow(name, inputs), owner,
                             request={"workflow": name, "inputs": {}}, on_paused=on_paused,
                             conversation=conversation)

    def observed(self, stream: Iterable[Any], owner: str, *, api_run_id: str | None = None,
                 request: dict[str, Any] | None = None, on_paused: OnPaused | None = None,
                 conversation: bool = False) -> Iterator[Any]:
        """``stream``'s events, counted in the metrics; what they produce becomes readable by
        ``owner`` as it appears.

        A run that pauses for approval (serving never answers approvals itself) ends with an
        answer that says how to approve it over HTTP: ``POST /v1/runs/{id}/approve``. A run of
        the runs API (``api_run_id``) is that id; one of another surface is first recorded as a
        paused run of the runs API (:attr:`pauses`, with ``request`` as its request and
        what it did so far), so the same call resumes it, on any instance; ``on_paused``
        hears the id. The answer of a ``conversation`` (chat, Responses) says that replying
        "approve" approves it too. A run that waits for its client's functions is recorded
        the same way (``awaiting_client``), so a tool message answers it on any instance."""
        agent_run_id, waiting, calls = None, None, []
        so_far = RunSummary()  # what the runs API record starts from, if the run pauses
        for event in stream:
            so_far.add(event, _relative_link)
            if isinstance(event, ArtifactCreated):
                self.owners.add(owner, event.artifact.id)
            elif isinstance(event, RunStarted):
                agent_run_id = agent_run_id or event.run_id
            elif isinstance(event, ApprovalRequested):
                waiting = event.tasks
            elif isinstance(event, ClientCallRequested):
                calls.append(wire_call(event))
            elif isinstance(event, AnswerReady) and (waiting is not None or calls) and \
                    agent_run_id is not None:
                run_id = api_run_id if api_run_id is not None else self._record_pause(
                    owner, request or {}, agent_run_id, waiting, calls, so_far)
                if run_id is not None and waiting is not None:
                    event = event.model_copy(update={"text": paused_text(
                        run_id, waiting, conversation=conversation)})
                    if on_paused is not None:
                        on_paused(run_id, waiting)
                elif run_id is not None:
                    event = event.model_copy(update={"text": calls_text(run_id, calls)})
            self.metrics.observe_event(event)
            yield event

    def _record_pause(self, owner: str, request: dict[str, Any], agent_run_id: str,
                      waiting: list[dict[str, Any]] | None, calls: list[dict[str, Any]],
                      so_far: RunSummary) -> str | None:
        """Record a run waiting for approval (``waiting``), or else for its client's ``calls``,
        in :attr:`pauses`; its runs API id, None without them."""
        if self.pauses is None:
            return None
        if waiting is not None:
            return self.pauses.adopt(owner, request, agent_run_id, waiting, so_far)
        return self.pauses.adopt_calls(owner, request, agent_run_id, calls, so_far)

    def summarize(self, events: Iterable[Any], link: Link) -> RunSummary:
        """The summary of a whole run, its answer with links to what it produced."""
        summary = RunSummary()
        for event in events:
            summary.add(event, link)
        summary.answer = self.present(summary.answer, summary.artifacts)
        return summary

    def run(self, workflow: str | None, parsed: ParsedRequest, owner: str, base_url: str,
            cancel: threading.Event | None = None, conversation: bool = False) -> RunSummary:
        return self.summarize(self.events(workflow, parsed, owner, cancel,
                                          conversation=conversation), self.linker(base_url))

    # -- links ---------------------------------------------------------------------------------

    def linker(self, base_url: str) -> Link:
        base = (self.settings.public_url or base_url).rstrip("/")
        return lambda artifact_id: f"{base}/v1/artifacts/{artifact_id}"

    def present(self, answer: str, artifacts: list[dict[str, Any]]) -> str:
        """The answer with ``artifact://`` citations turned into download links (and no
        server-side paths)."""
        for a in artifacts:
            ref = ArtifactRef(id=a["id"], kind=a["kind"], mime=a["mime"])
            try:
                answer = answer.replace(f" saved at {self.agent.store.path(ref)}", "")
            except MMAgentError:
                pass
            answer = answer.replace(f"artifact://{a['id']}", a["url"])
        return answer


def calls_text(run_id: str, calls: list[dict[str, Any]]) -> str:
    """The answer of a run that waits for its client's functions (an OpenAI client sees the
    calls themselves: ``tool_calls``, ``function_call`` items)."""
    waiting = ", ".join(f"{c['task_id']} ({c['name']}, call {c['call_id']})" for c in calls)
    return (f"Paused: {waiting} waits for the client's output (run {run_id}). Answer with a "
            "tool message (chat) or a function_call_output item (Responses) naming the call "
            f"id; cancel it with POST /v1/runs/{run_id}/cancel.")


def wire_call(event: ClientCallRequested) -> dict[str, Any]:
    """{call_id, task_id, name, arguments}: the call a client is asked to run."""
    return {"call_id": event.call_id, "task_id": event.task_id, "name": event.tool,
            "arguments": event.arguments}


def _relative_link(artifact_id: str) -> str:
    return f"/v1/artifacts/{artifact_id}"


def _fill_inputs(spec: Any, parsed: ParsedRequest) -> dict[str, Any]:
    """A request's parts onto a workflow's declared inputs, by type and in order: the prompt
    to the first text input that is required or has a default, the n-th image to the n-th
    image input, and so on."""
    queues: dict[str, list[Any]] = {k: list(v) for k, v in parsed.media.items()}
    queues["text"] = [parsed.prompt] if parsed.prompt else []
    values: dict[str, Any] = {}
    for input_name, inp in spec.inputs.items():
        kind = str(inp.type)
        if kind == "text" and not _required(inp) and getattr(inp, "default", None) is None:
            continue  # the prompt is a question or request, not an option such as a voice
        if kind.startswith("list[") and kind[5:-1] in queues:
            values[input_name], queues[kind[5:-1]] = queues[kind[5:-1]], []
        elif queues.get(kind):
            values[input_name] = queues[kind].pop(0)
    return values


def _required(spec: Any) -> bool:
    req = getattr(spec, "required", True)
    return bool(req() if callable(req) else req)
