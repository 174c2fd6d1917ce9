"""The agent as every endpoint's service shares it: settings, metrics, artifact owners, media
resolution, model ids, runs into events and summaries, and links to what a run produced.

One :class:`AgentService` per app; each endpoint's service (``chat/``, ``responses/``,
``workflows/``, ``files/``, ``runs/``, ``mcp/``) holds one and adds only its own protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mmagent.agent import Agent
from mmagent.artifacts import ArtifactKind, ArtifactRef
from mmagent.errors import MMAgentError
from mmagent.events import AnswerReady, ArtifactCreated, PlanCreated, TaskFailed, TaskFinished
from mmagent.serving._http_errors import UnknownModelError
from mmagent.serving._metrics import Metrics
from mmagent.serving._protocol import MEDIA_KINDS, MODEL_ID, WORKFLOW_PREFIX
from mmagent.serving._request_media import MediaResolver
from mmagent.stores import make_owners
from mmagent.workflows import load_workflow

__all__ = ["AgentService", "ParsedRequest", "RunSummary", "Link"]

Link = Callable[[str], str]
"""Artifact id -> the link a client downloads it from."""


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


class AgentService:
    """One :class:`Agent` behind every endpoint of an app.

    >>> shared = AgentService(Agent("mmagent.yaml"))           # doctest: +SKIP
    >>> shared.check_model("workflow:caption_and_speak")       # doctest: +SKIP
    'caption_and_speak'
    """

    def __init__(self, agent: Agent, metrics: Metrics | None = None) -> None:
        self.agent = agent
        self.settings = agent.config.serving
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
        """A workflow's input values as a client sends them: media inputs as links or data
        URLs (stored, owned by ``owner``), other values as they are."""
        spec = self.workflow(name)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            inp = spec.inputs.get(key)
            kind = str(inp.type) if inp is not None else "json"
            base = kind[5:-1] if kind.startswith("list[") else kind
            if base in MEDIA_KINDS:
                items = value if isinstance(value, list) else [value]
                refs = [self.media.from_url(str(v), base, owner, own_hosts) for v in items]
                values[key] = refs if kind.startswith("list[") else refs[0]
            else:
                values[key] = value
        return values

    # -- runs ----------------------------------------------------------------------------------

    def events(self, workflow: str | None, parsed: ParsedRequest, owner: str,
               cancel: threading.Event | None = None) -> Iterator[Any]:
        """The events of a request to the agent (``workflow`` None) or to a workflow, whose
        inputs the request's prompt and media fill. Setting ``cancel`` (the client went away)
        stops an agent run from starting more tasks."""
        if workflow is None:
            stream = self.agent.stream(parsed.prompt, images=parsed.media["image"],
                                       audio=parsed.media["audio"], video=parsed.media["video"],
                                       cancel=cancel)
            return self.observed(stream, owner)
        return self.workflow_events(workflow, _fill_inputs(self.workflow(workflow), parsed),
                                    owner)

    def workflow_events(self, name: str, inputs: dict[str, Any], owner: str) -> Iterator[Any]:
        return self.observed(self.agent.stream_workflow(name, inputs), owner)

    def observed(self, stream: Iterable[Any], owner: str) -> Iterator[Any]:
        """``stream``'s events, counted in the metrics; what they produce becomes readable by
        ``owner`` as it appears."""
        for event in stream:
            if isinstance(event, ArtifactCreated):
                self.owners.add(owner, event.artifact.id)
            self.metrics.observe_event(event)
            yield event

    def summarize(self, events: Iterable[Any], link: Link) -> RunSummary:
        """The summary of a whole run, its answer with links to what it produced."""
        summary = RunSummary()
        for event in events:
            summary.add(event, link)
        summary.answer = self.present(summary.answer, summary.artifacts)
        return summary

    def run(self, workflow: str | None, parsed: ParsedRequest, owner: str, base_url: str,
            cancel: threading.Event | None = None) -> RunSummary:
        return self.summarize(self.events(workflow, parsed, owner, cancel),
                              self.linker(base_url))

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
