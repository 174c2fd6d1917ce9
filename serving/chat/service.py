"""Chat completions and the model list over the shared :class:`AgentService`.

:class:`ChatService` turns an OpenAI chat request into the agent's prompt and media (stored
as artifacts owned by the caller's key), runs it on the agent or a workflow, and turns the
events into a chat completion or a stream of chunks. It is transport-free: ``routes.py`` only
adapts HTTP to it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from mmagent.errors import InputError, MMAgentError
from mmagent.serving._agent import AgentService, ParsedRequest, RunSummary
from mmagent.serving._http_errors import error_body, status_for
from mmagent.serving.chat.protocol import (
    AudioURLPart,
    ChatCompletionAudio,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    DeltaMessage,
    ImageURLPart,
    InputAudioPart,
    ModelCard,
    ModelList,
    TextPart,
    Usage,
    VideoURLPart,
    completion_id,
)

__all__ = ["ChatService"]

logger = logging.getLogger(__name__)
_AUDIO_KEPT_S = 24 * 3600
"""How long ``message.audio`` says its clip stays downloadable (``expires_at``)."""


class ChatService:
    """Runs chat requests on the agent (``model: mmagent``) or a workflow
    (``model: workflow:<name>``)."""

    def __init__(self, shared: AgentService) -> None:
        self.shared = shared

    def models(self) -> ModelList:
        return ModelList(data=[ModelCard(id=i) for i in self.shared.model_ids()])

    def check_model(self, model: str) -> str | None:
        """The workflow name ``model`` picks (None for the agent); UnknownModelError else."""
        return self.shared.check_model(model)

    def parse(self, req: ChatCompletionRequest, owner: str, own_hosts: set[str]
              ) -> ParsedRequest:
        """The last user message's text is the prompt; media of every user message are
        stored (validated against the limits) and owned by ``owner``."""
        users = [m for m in req.messages if m.role == "user"]
        if not users:
            raise InputError("got no message with role 'user'; expected at least one",
                             param="messages")
        media = self.shared.media
        out = ParsedRequest(prompt="")
        for i, msg in enumerate(users):
            parts = [TextPart(type="text", text=msg.content)] if isinstance(msg.content, str) \
                else (msg.content or [])
            texts = []
            for part in parts:
                if isinstance(part, TextPart):
                    texts.append(part.text)
                elif isinstance(part, ImageURLPart):
                    out.media["image"].append(media.from_url(part.image_url.url, "image",
                                                             owner, own_hosts))
                elif isinstance(part, VideoURLPart):
                    out.media["video"].append(media.from_url(part.video_url.url, "video",
                                                             owner, own_hosts))
                elif isinstance(part, AudioURLPart):
                    out.media["audio"].append(media.from_url(part.audio_url.url, "audio",
                                                             owner, own_hosts))
                elif isinstance(part, InputAudioPart):
                    out.media["audio"].append(media.from_base64(
                        part.input_audio.data, "audio", owner, "an input_audio part"))
            if i == len(users) - 1:
                out.prompt = "\n".join(t for t in texts if t.strip())
        return out

    def completion(self, req: ChatCompletionRequest, workflow: str | None, parsed: ParsedRequest,
                   owner: str, base_url: str, cancel: threading.Event | None = None
                   ) -> ChatCompletionResponse:
        summary = self.shared.run(workflow, parsed, owner, base_url, cancel)
        message = ChatCompletionMessage(content=summary.answer, audio=self._audio(req, summary))
        return ChatCompletionResponse(model=req.model,
                                      choices=[ChatCompletionChoice(message=message)],
                                      usage=_usage(summary), mmagent=summary.extras())

    def chunks(self, req: ChatCompletionRequest, workflow: str | None, parsed: ParsedRequest,
               owner: str, base_url: str, cancel: threading.Event | None = None
               ) -> Iterator[dict[str, Any]]:
        """SSE messages (dicts for sse-starlette): chunks, ``event: mmagent`` chunks without
        choices carrying each agent event, and ``[DONE]``."""
        cid, model = completion_id(), req.model
        yield _sse(ChatCompletionChunk.of(cid, model,
                                          DeltaMessage(role="assistant", content="")))
        summary = RunSummary()
        link = self.shared.linker(base_url)
        try:
            for event in self.shared.events(workflow, parsed, owner, cancel):
                summary.add(event, link)
                if req.mmagent.events:
                    carrier = ChatCompletionChunk(id=cid, model=model,
                                                  mmagent_event=event.model_dump(mode="json"))
                    yield _sse(carrier, event="mmagent")
        except MMAgentError as e:
            _status, kind = status_for(e)
            yield {"data": json.dumps(error_body(e.message, kind, e.code))}
            return
        except Exception as e:  # the stream is already 200: report in-band, keep serving
            logger.exception("stream failed")
            yield {"data": json.dumps(error_body(f"internal error: {type(e).__name__}",
                                                 "server_error", "internal"))}
            return
        summary.answer = self.shared.present(summary.answer, summary.artifacts)
        yield _sse(ChatCompletionChunk.of(cid, model, DeltaMessage(
            content=summary.answer, audio=self._audio(req, summary))))
        yield _sse(ChatCompletionChunk.of(cid, model, DeltaMessage(), "stop",
                                          usage=_usage(summary), mmagent=summary.extras()))
        yield {"data": "[DONE]"}

    def _audio(self, req: ChatCompletionRequest, summary: RunSummary
               ) -> ChatCompletionAudio | None:
        """OpenAI's ``message.audio`` for the last produced speech, when audio was asked for."""
        if "audio" not in (req.modalities or []):
            return None
        clips = [a for a in summary.artifacts if a["kind"] == "audio"]
        if not clips:
            return None
        agent = self.shared.agent
        ref = agent.store.get(clips[-1]["id"])
        data = agent.artifact_path(ref).read_bytes()  # with its provenance, if kept
        return ChatCompletionAudio(id=ref.id, data=base64.b64encode(data).decode(),
                                   expires_at=int(time.time()) + _AUDIO_KEPT_S,
                                   transcript=summary.answer, format=ref.mime.split("/")[-1])


def _usage(summary: RunSummary) -> Usage:
    return Usage.of(summary.prompt_tokens, summary.completion_tokens)


def _sse(chunk: ChatCompletionChunk, event: str | None = None) -> dict[str, str]:
    data = json.dumps(chunk.model_dump(mode="json"))
    return {"data": data} if event is None else {"event": event, "data": data}
