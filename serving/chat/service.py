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
import uuid
from collections.abc import Iterator
from typing import Any

from mmagent.errors import InputError, MMAgentError
from mmagent.serving import _function_calls as function_calls
from mmagent.serving._agent import AgentService, ParsedRequest, RunSummary
from mmagent.serving._follow_up import FollowUp, follow_up
from mmagent.serving._follow_up import answer as follow_up_answer
from mmagent.serving._function_calls import fit_schema
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
    FunctionCall,
    FunctionDef,
    ImageURLPart,
    InputAudioPart,
    ModelCard,
    ModelList,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    VideoURLPart,
    completion_id,
)
from mmagent.toolkit import ClientFunction

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
        if _follow_up(req) is not None or _tool_outputs(req):
            return ParsedRequest(prompt="")  # it answers a paused run, whose request is known
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
        """The answer; with ``tools``, the calls of the client's functions the run waits for
        (``finish_reason: tool_calls``; the run is paused durably), and the run goes on, on
        any instance, when a request ends with the tool messages answering them. A follow-up
        to a paused answer ("approve") answers its run (``_follow_up.py``): the answer is the
        run's once it stops."""
        outputs, follow = _tool_outputs(req), _follow_up(req)
        if follow is not None:
            summary = follow_up_answer(self.shared, follow, owner, base_url, cancel)
            message = self._message(req, summary)
            return ChatCompletionResponse(
                model=req.model, usage=_usage(summary), mmagent=summary.extras(),
                choices=[ChatCompletionChoice(message=message, finish_reason="stop")])
        if outputs:
            turn = function_calls.answer(self.shared, outputs, owner, base_url, cancel)
        elif req.tools:
            functions = [ClientFunction(name=t.function.name, description=t.function.description,
                                        parameters=t.function.parameters) for t in req.tools]
            turn = function_calls.start(self.shared, workflow, parsed, owner, base_url,
                                        functions, cancel)
        else:
            turn = None
        if turn is None:
            summary = self.shared.run(workflow, parsed, owner, base_url, cancel,
                                      conversation=True)
        else:
            summary = turn.summary
            if turn.calls:
                calls = [ToolCall(id=c["call_id"], function=FunctionCall(
                    name=c["name"], arguments=function_calls.arguments(c))) for c in turn.calls]
                message = ChatCompletionMessage(content=None, tool_calls=calls)
                return ChatCompletionResponse(
                    model=req.model, usage=_usage(summary), mmagent=summary.extras(),
                    choices=[ChatCompletionChoice(message=message, finish_reason="tool_calls")])
        message = self._message(req, summary)
        finish = "tool_calls" if message.tool_calls else "stop"
        return ChatCompletionResponse(model=req.model,
                                      choices=[ChatCompletionChoice(message=message,
                                                                    finish_reason=finish)],
                                      usage=_usage(summary), mmagent=summary.extras())

    def _message(self, req: ChatCompletionRequest, summary: RunSummary) -> ChatCompletionMessage:
        """The final message: the answer, as JSON when ``response_format`` asks for a schema,
        or as a call of the function ``tool_choice`` names (LangChain's structured output by
        function calling)."""
        forced = _forced_function(req)
        if forced is not None:
            args = fit_schema(self.shared, summary, forced.parameters or {"type": "object"},
                              forced.name)
            return ChatCompletionMessage(content=None, tool_calls=[ToolCall(
                id="call_" + uuid.uuid4().hex[:24],
                function=FunctionCall(name=forced.name, arguments=args))])
        fmt = req.response_format
        if fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None:
            content = fit_schema(self.shared, summary, fmt.json_schema.schema_,
                                 fmt.json_schema.name)
        elif fmt is not None and fmt.type == "json_object":
            content = fit_schema(self.shared, summary, {"type": "object"})
        else:
            content = summary.answer
        return ChatCompletionMessage(content=content, audio=self._audio(req, summary))

    def chunks(self, req: ChatCompletionRequest, workflow: str | None, parsed: ParsedRequest,
               owner: str, base_url: str, cancel: threading.Event | None = None
               ) -> Iterator[dict[str, Any]]:
        """SSE messages (dicts for sse-starlette): chunks, ``event: mmagent`` chunks without
        choices carrying each agent event, and ``[DONE]``. With function calling or structured
        output, the whole message comes in one chunk (no agent events)."""
        if _whole(req):
            yield from self._whole_chunks(req, workflow, parsed, owner, base_url, cancel)
            return
        cid, model = completion_id(), req.model
        yield _sse(ChatCompletionChunk.of(cid, model,
                                          DeltaMessage(role="assistant", content="")))
        summary = RunSummary()
        link = self.shared.linker(base_url)
        try:
            for event in self.shared.events(workflow, parsed, owner, cancel,
                                            conversation=True):
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

    def _whole_chunks(self, req: ChatCompletionRequest, workflow: str | None,
                      parsed: ParsedRequest, owner: str, base_url: str,
                      cancel: threading.Event | None) -> Iterator[dict[str, Any]]:
        try:
            done = self.completion(req, workflow, parsed, owner, base_url, cancel)
        except MMAgentError as e:
            _status, kind = status_for(e)
            yield {"data": json.dumps(error_body(e.message, kind, e.code))}
            return
        choice = done.choices[0]
        msg = choice.message
        calls = [ToolCallDelta(index=i, **c.model_dump()) for i, c in
                 enumerate(msg.tool_calls or [])] or None
        yield _sse(ChatCompletionChunk.of(done.id, done.model,
                                          DeltaMessage(role="assistant", content="")))
        yield _sse(ChatCompletionChunk.of(done.id, done.model, DeltaMessage(
            content=msg.content, audio=msg.audio, tool_calls=calls)))
        yield _sse(ChatCompletionChunk.of(done.id, done.model, DeltaMessage(),
                                          choice.finish_reason, usage=done.usage,
                                          mmagent=done.mmagent))
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


def _whole(req: ChatCompletionRequest) -> bool:
    """Function calling, structured output or a follow-up to a paused run: the answer is
    known only as a whole."""
    return bool(req.tools or _tool_outputs(req) or _follow_up(req) is not None or (
        req.response_format is not None and req.response_format.type != "text"))


def _follow_up(req: ChatCompletionRequest) -> FollowUp | None:
    """The paused run the request's last user message answers (it follows the paused
    assistant message)."""
    if len(req.messages) < 2 or req.messages[-1].role != "user" or \
            req.messages[-2].role != "assistant":
        return None
    return follow_up(req.messages[-2].text(), req.messages[-1].text())


def _tool_outputs(req: ChatCompletionRequest) -> dict[str, str]:
    """The outputs the request's trailing tool messages send, by call id."""
    outputs: dict[str, str] = {}
    for msg in reversed(req.messages):
        if msg.role != "tool":
            break
        if msg.tool_call_id:
            outputs[msg.tool_call_id] = msg.text()
    return dict(reversed(outputs.items()))


def _forced_function(req: ChatCompletionRequest) -> FunctionDef | None:
    """The function ``tool_choice`` names, when it names one of ``tools``."""
    choice = req.tool_choice
    if not (isinstance(choice, dict) and choice.get("type") == "function"):
        return None
    name = (choice.get("function") or {}).get("name")
    return next((t.function for t in req.tools or [] if t.function.name == name), None)


def _usage(summary: RunSummary) -> Usage:
    return Usage.of(summary.prompt_tokens, summary.completion_tokens)


def _sse(chunk: ChatCompletionChunk, event: str | None = None) -> dict[str, str]:
    data = json.dumps(chunk.model_dump(mode="json"))
    return {"data": data} if event is None else {"event": event, "data": data}
