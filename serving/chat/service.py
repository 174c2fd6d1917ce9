"""The serving logic behind the HTTP routes: requests in, agent events and answers out.

:class:`ChatService` turns an OpenAI chat request into the agent's prompt and media (stored
as artifacts owned by the caller's key), runs it with ``Agent.stream`` (or a workflow), and
turns the events into a chat completion, a stream of chunks, or a workflow run. It is
transport-free: the FastAPI app (``app.py``) only adapts HTTP to it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mmagent.agent import Agent
from mmagent.artifacts import ArtifactKind, ArtifactRef
from mmagent.config import ServingSettings
from mmagent.errors import InputError, MMAgentError
from mmagent.events import AnswerReady, ArtifactCreated, PlanCreated, TaskFailed, TaskFinished
from mmagent.serving._http_errors import UnknownModelError, error_body, status_for
from mmagent.serving._metrics import Metrics
from mmagent.serving._request_media import MediaResolver
from mmagent.serving.chat.protocol import (
    MODEL_ID,
    AudioURLPart,
    ChatCompletionRequest,
    ImageURLPart,
    InputAudioPart,
    TextPart,
    VideoURLPart,
    chat_chunk,
    chat_completion,
    completion_id,
    usage,
)
from mmagent.stores import make_owners
from mmagent.workflows import load_workflow

__all__ = ["ChatService", "ParsedRequest", "RunSummary", "WORKFLOW_PREFIX"]

logger = logging.getLogger(__name__)
WORKFLOW_PREFIX = "workflow:"
_MEDIA_KINDS: tuple[ArtifactKind, ...] = ("image", "audio", "video")


@dataclass
class ParsedRequest:
    prompt: str
    media: dict[ArtifactKind, list[ArtifactRef]] = field(
        default_factory=lambda: {k: [] for k in _MEDIA_KINDS})


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

    def add(self, event: Any, link) -> None:
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

    def token_usage(self) -> dict[str, int]:
        return usage(self.prompt_tokens, self.completion_tokens)

    def extras(self) -> dict[str, Any]:
        return {"plan": self.plan, "outputs": self.outputs, "failures": self.failures,
                "artifacts": self.artifacts}


class ChatService:
    """Runs chat requests and workflow runs on one :class:`Agent`."""

    def __init__(self, agent: Agent, settings: ServingSettings | None = None,
                 metrics: Metrics | None = None) -> None:
        self.agent = agent
        self.settings = settings or agent.config.serving
        self.metrics = metrics or Metrics()
        self.owners = make_owners(agent.config, agent.store.root)
        self.media = MediaResolver(agent.store, self.owners, self.settings)

    # -- models --------------------------------------------------------------------------------

    def workflow_names(self) -> list[str]:
        return sorted(self.agent.workflows())

    def models(self) -> list[dict[str, Any]]:
        ids = [MODEL_ID] + [WORKFLOW_PREFIX + n for n in self.workflow_names()]
        return [{"id": i, "object": "model", "created": 0, "owned_by": "mmagent"} for i in ids]

    def check_model(self, model: str) -> str | None:
        """The workflow name ``model`` picks (None for the agent); UnknownModelError else."""
        if model == MODEL_ID:
            return None
        if model.startswith(WORKFLOW_PREFIX) and model[len(WORKFLOW_PREFIX):] in \
                self.workflow_names():
            return model[len(WORKFLOW_PREFIX):]
        raise UnknownModelError(f"got model {model!r}; expected one of "
                                f"{[m['id'] for m in self.models()]}", param="model")

    # -- requests ------------------------------------------------------------------------------

    def parse(self, req: ChatCompletionRequest, owner: str, own_hosts: set[str]
              ) -> ParsedRequest:
        """The last user message's text is the prompt; media of every user message are
        stored (validated against the limits) and owned by ``owner``."""
        users = [m for m in req.messages if m.role == "user"]
        if not users:
            raise InputError("got no message with role 'user'; expected at least one",
                             param="messages")
        out = ParsedRequest(prompt="")
        for i, msg in enumerate(users):
            parts = [TextPart(type="text", text=msg.content)] if isinstance(msg.content, str) \
                else (msg.content or [])
            texts = []
            for part in parts:
                if isinstance(part, TextPart):
                    texts.append(part.text)
                elif isinstance(part, ImageURLPart):
                    out.media["image"].append(self.media.from_url(part.image_url.url, "image",
                                                                  owner, own_hosts))
                elif isinstance(part, VideoURLPart):
                    out.media["video"].append(self.media.from_url(part.video_url.url, "video",
                                                                  owner, own_hosts))
                elif isinstance(part, AudioURLPart):
                    out.media["audio"].append(self.media.from_url(part.audio_url.url, "audio",
                                                                  owner, own_hosts))
                elif isinstance(part, InputAudioPart):
                    out.media["audio"].append(self.media.from_base64(
                        part.input_audio.data, "audio", owner, "an input_audio part"))
            if i == len(users) - 1:
                out.prompt = "\n".join(t for t in texts if t.strip())
        return out

    def events(self, workflow: str | None, parsed: ParsedRequest, owner: str,
               cancel: threading.Event | None = None) -> Iterator[Any]:
        """The run's events; produced artifacts become readable by ``owner`` as they appear.
        Setting ``cancel`` (the client went away) stops the run from starting more tasks."""
        if workflow is None:
            stream = self.agent.stream(parsed.prompt, images=parsed.media["image"],
                                       audio=parsed.media["audio"], video=parsed.media["video"],
                                       cancel=cancel)
        else:
            stream = self.agent.stream_workflow(workflow, self.workflow_inputs(workflow, parsed))
        return self._observed(stream, owner)

    def workflow_events(self, name: str, inputs: dict[str, Any], owner: str) -> Iterator[Any]:
        """A workflow run's events (``POST /v1/workflows/{name}/runs`` with ``stream``)."""
        return self._observed(self.agent.stream_workflow(name, inputs), owner)

    def _observed(self, stream: Iterator[Any], owner: str) -> Iterator[Any]:
        for event in stream:
            if isinstance(event, ArtifactCreated):
                self.owners.add(owner, event.artifact.id)
            self.metrics.observe_event(event)
            yield event

    def run(self, workflow: str | None, parsed: ParsedRequest, owner: str, base_url: str,
            cancel: threading.Event | None = None) -> RunSummary:
        summary = RunSummary()
        for event in self.events(workflow, parsed, owner, cancel):
            summary.add(event, self._linker(base_url))
        summary.answer = self.present(summary.answer, summary.artifacts)
        return summary

    # -- chat completions ----------------------------------------------------------------------

    def completion(self, req: ChatCompletionRequest, workflow: str | None, parsed: ParsedRequest,
                   owner: str, base_url: str, cancel: threading.Event | None = None
                   ) -> dict[str, Any]:
        summary = self.run(workflow, parsed, owner, base_url, cancel)
        return chat_completion(completion_id(), req.model, summary.answer,
                               self._audio(req, summary), summary.extras(), summary.token_usage())

    def chunks(self, req: ChatCompletionRequest, workflow: str | None, parsed: ParsedRequest,
               owner: str, base_url: str, cancel: threading.Event | None = None
               ) -> Iterator[dict[str, Any]]:
        """SSE messages (dicts for sse-starlette): chunks, ``event: mmagent`` chunks without
        choices carrying each agent event, and ``[DONE]``."""
        cid, model = completion_id(), req.model
        yield {"data": json.dumps(chat_chunk(cid, model, {"role": "assistant", "content": ""}))}
        summary = RunSummary()
        link = self._linker(base_url)
        try:
            for event in self.events(workflow, parsed, owner, cancel):
                summary.add(event, link)
                if req.mmagent.events:
                    yield {"event": "mmagent", "data": json.dumps(chat_chunk(
                        cid, model, None, mmagent_event=event.model_dump(mode="json")))}
        except MMAgentError as e:
            status, kind = status_for(e)
            yield {"data": json.dumps(error_body(e.message, kind, e.code))}
            return
        except Exception as e:  # the stream is already 200: report in-band, keep serving
            logger.exception("stream failed")
            yield {"data": json.dumps(error_body(f"internal error: {type(e).__name__}",
                                                 "server_error", "internal"))}
            return
        text = self.present(summary.answer, summary.artifacts)
        delta: dict[str, Any] = {"content": text}
        audio = self._audio(req, summary)
        if audio is not None:
            delta["audio"] = audio
        yield {"data": json.dumps(chat_chunk(cid, model, delta))}
        yield {"data": json.dumps(chat_chunk(cid, model, {}, "stop", usage=summary.token_usage(),
                                             mmagent=summary.extras()))}
        yield {"data": "[DONE]"}

    # -- workflows -----------------------------------------------------------------------------

    def workflow_inputs(self, name: str, parsed: ParsedRequest) -> dict[str, Any]:
        """Chat parts onto a workflow's declared inputs, by type and in order: the prompt to
        the first text input that is required or has a default, the n-th image to the n-th
        image input, and so on."""
        spec = self._workflow_spec(name)
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

    def workflow_run_inputs(self, name: str, raw: dict[str, Any], owner: str,
                            own_hosts: set[str]) -> dict[str, Any]:
        """``POST /v1/workflows/{name}/runs`` values: media inputs as links or data URLs."""
        spec = self._workflow_spec(name)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            inp = spec.inputs.get(key)
            kind = str(inp.type) if inp is not None else "json"
            base = kind[5:-1] if kind.startswith("list[") else kind
            if base in _MEDIA_KINDS:
                items = value if isinstance(value, list) else [value]
                refs = [self.media.from_url(str(v), base, owner, own_hosts) for v in items]
                values[key] = refs if kind.startswith("list[") else refs[0]
            else:
                values[key] = value
        return values

    def run_workflow(self, name: str, inputs: dict[str, Any], owner: str, base_url: str
                     ) -> dict[str, Any]:
        summary = RunSummary()
        link = self._linker(base_url)
        for event in self._observed(self.agent.stream_workflow(name, inputs), owner):
            summary.add(event, link)
        return {"id": "run-" + uuid.uuid4().hex[:24], "object": "workflow.run",
                "workflow": name, "created": int(time.time()),
                "answer": self.present(summary.answer, summary.artifacts), **summary.extras()}

    def _workflow_spec(self, name: str):
        return load_workflow(self.agent.workflows()[name])

    # -- presentation --------------------------------------------------------------------------

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

    def _linker(self, base_url: str):
        base = (self.settings.public_url or base_url).rstrip("/")
        return lambda artifact_id: f"{base}/v1/artifacts/{artifact_id}"

    def _audio(self, req: ChatCompletionRequest, summary: RunSummary) -> dict[str, Any] | None:
        """OpenAI's ``message.audio`` for the last produced speech, when audio was asked for."""
        if "audio" not in (req.modalities or []):
            return None
        clips = [a for a in summary.artifacts if a["kind"] == "audio"]
        if not clips:
            return None
        ref = self.agent.store.get(clips[-1]["id"])
        data = self.agent.artifact_path(ref).read_bytes()  # with its provenance, if kept
        return {"id": ref.id, "data": base64.b64encode(data).decode(),
                "expires_at": int(time.time()) + 24 * 3600, "transcript": summary.answer,
                "format": ref.mime.split("/")[-1]}


def _required(spec: Any) -> bool:
    req = getattr(spec, "required", True)
    return bool(req() if callable(req) else req)
