"""OpenAI's Responses API (``POST /v1/responses``) over the same agent as chat completions.

Input: ``input`` as a string or a list of messages whose content parts are ``input_text``,
``input_image`` (``image_url``: data URL / artifact link, or ``file_id``), ``input_audio``
(``{data, format}``) and ``input_file`` (``file_id`` of an upload, ``file_data`` as a data URL,
or an allow-listed ``file_url``; image, audio or video). The last user message's text is the
request; ``model`` is ``mmagent`` or ``workflow:<name>``.

Output: one assistant message whose ``output_text`` is the answer with links to the produced
artifacts (each also a ``url_citation`` annotation), and mmagent's plan, outputs and artifacts
in an extra ``mmagent`` field. ``stream: true`` sends OpenAI's event sequence
(``response.created``, ``response.in_progress``, ``response.output_item.added``,
``response.content_part.added``, ``response.output_text.delta``/``.done``,
``response.content_part.done``, ``response.output_item.done``, ``response.completed``), with
each agent event as a ``mmagent.event`` in between (unless ``mmagent.events`` is false); a run
that fails ends with ``response.failed``.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mmagent._messages import for_client
from mmagent.artifacts import ArtifactKind, ArtifactRef
from mmagent.errors import InputError, InvalidMediaError, MMAgentError
from mmagent.serving._request_media import decode_data_url
from mmagent.serving.chat.service import ChatService, ParsedRequest, RunSummary

__all__ = ["ResponseCreateRequest", "ResponseObject", "ResponsesService", "response_id"]

logger = logging.getLogger(__name__)


# -- request -------------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InputText(_In):
    type: Literal["input_text"]
    text: str


class OutputText(_In):
    """Earlier assistant turns replayed as input; their text is not part of the request."""

    type: Literal["output_text"]
    text: str = ""


class InputImage(_In):
    type: Literal["input_image"]
    detail: str | None = None
    file_id: str | None = None
    image_url: str | None = Field(None, description="data: URL, artifact link or URL")


class _AudioData(_In):
    data: str = Field(description="base64-encoded audio bytes")
    format: str = Field("wav", description="wav, mp3, ...")


class InputAudio(_In):
    type: Literal["input_audio"]
    input_audio: _AudioData


class InputFile(_In):
    type: Literal["input_file"]
    file_data: str | None = Field(None, description="data:<mime>;base64,<bytes>")
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


InputPart = Annotated[InputText | OutputText | InputImage | InputAudio | InputFile,
                      Field(discriminator="type")]


class InputMessage(_In):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputPart]


class _Extras(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: bool = Field(True, description="send each agent event as a mmagent.event while "
                         "streaming")


class ResponseCreateRequest(BaseModel):
    """The subset of ``responses.create`` mmagent serves, in OpenAI's order; other fields
    (``temperature``, ``tools``, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = "mmagent"
    input: str | list[InputMessage] = Field(description="the request: text, or messages")
    instructions: str | None = Field(None, description="echoed back; the planner follows "
                                     "its own system prompt")
    metadata: dict[str, str] | None = None
    stream: bool = False
    user: str | None = None
    mmagent: _Extras = Field(default_factory=_Extras, description="mmagent's extensions "
                             "(pass with the openai package's extra_body)")


def response_id() -> str:
    return "resp_" + uuid.uuid4().hex


# -- response (OpenAI's field order) -------------------------------------------------------------


class UrlCitation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    start_index: int
    end_index: int
    title: str
    url: str


class OutputTextPart(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[UrlCitation] = Field(default_factory=list)
    logprobs: list[Any] = Field(default_factory=list)


class OutputMessage(BaseModel):
    id: str
    type: Literal["message"] = "message"
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    role: Literal["assistant"] = "assistant"
    content: list[OutputTextPart] = Field(default_factory=list)


class ResponseError(BaseModel):
    code: str
    message: str


class Usage(BaseModel):
    """Tokens of the request's LLM calls as OpenAI counts them; mmagent's events do not carry
    the planner's counts yet, so these stay 0."""

    input_tokens: int = 0
    input_tokens_details: dict[str, int] = Field(
        default_factory=lambda: {"cache_write_tokens": 0, "cached_tokens": 0})
    output_tokens: int = 0
    output_tokens_details: dict[str, int] = Field(
        default_factory=lambda: {"reasoning_tokens": 0})
    total_tokens: int = 0


class ResponseObject(BaseModel):
    """A ``response`` object: OpenAI's fields in OpenAI's order, then ``mmagent``."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["in_progress", "completed", "failed"]
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputMessage] = Field(default_factory=list)
    parallel_tool_calls: bool = False
    previous_response_id: str | None = None
    reasoning: None = None
    store: bool = False
    temperature: float | None = None
    text: dict[str, Any] = Field(default_factory=lambda: {"format": {"type": "text"}})
    tool_choice: str = "none"
    tools: list[Any] = Field(default_factory=list)
    top_p: float | None = None
    truncation: str = "disabled"
    usage: Usage | None = None
    user: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    mmagent: dict[str, Any] | None = Field(None, description="plan, outputs, failures, "
                                           "artifacts (links)")


# -- serving -------------------------------------------------------------------------------------


class ResponsesService:
    """Turns Responses requests into agent runs on a :class:`ChatService`."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat
        self.store = chat.agent.store

    def parse(self, req: ResponseCreateRequest, owner: str, own_hosts: set[str]
              ) -> ParsedRequest:
        messages = [InputMessage(role="user", content=req.input)] \
            if isinstance(req.input, str) else req.input
        users = [m for m in messages if m.role == "user"]
        if not users:
            raise InputError("got no input message with role 'user'; expected at least one",
                             param="input")
        out = ParsedRequest(prompt="")
        for i, msg in enumerate(users):
            parts = [InputText(type="input_text", text=msg.content)] \
                if isinstance(msg.content, str) else msg.content
            texts = []
            for j, part in enumerate(parts):
                where = f"input[{messages.index(msg)}].content[{j}]"
                if isinstance(part, InputText):
                    texts.append(part.text)
                elif isinstance(part, InputImage):
                    url = part.image_url or (f"artifact://{part.file_id}" if part.file_id
                                             else None)
                    if url is None:
                        raise InputError(f"got an input_image without image_url or file_id at "
                                         f"{where}; expected one of them", param=where)
                    out.media["image"].append(self.chat.media.from_url(url, "image", owner,
                                                                       own_hosts))
                elif isinstance(part, InputAudio):
                    out.media["audio"].append(self.chat.media.from_base64(
                        part.input_audio.data, "audio", owner, f"the input_audio at {where}"))
                elif isinstance(part, InputFile):
                    ref = self._file(part, owner, own_hosts, where)
                    out.media[ref.kind].append(ref)
            if i == len(users) - 1:
                out.prompt = "\n".join(t for t in texts if t.strip())
        return out

    def _file(self, part: InputFile, owner: str, own_hosts: set[str], where: str
              ) -> ArtifactRef:
        media = self.chat.media
        if part.file_id:
            return media.artifact(part.file_id, None, owner)
        if part.file_data:
            data = decode_data_url(part.file_data) if part.file_data.startswith("data:") \
                else _b64(part.file_data, where)
            for kind in _kinds(part.file_data[5:].split(";")[0] if part.file_data.startswith(
                    "data:") else mimetypes.guess_type(part.filename or "")[0]):
                try:
                    ref = self.store.put_bytes(data, kind, source=part.filename or where)
                except InvalidMediaError:
                    continue
                self.chat.owners.add(owner, ref.id)
                return ref
            raise InvalidMediaError(f"got an input_file at {where} that decodes as neither "
                                    "image, audio nor video; expected a media file")
        if part.file_url:
            mime = mimetypes.guess_type(part.file_url.split("?")[0])[0] or ""
            kinds = _kinds(mime)
            if len(kinds) != 1:
                raise InputError(f"got file_url {part.file_url[:80]!r} at {where}, whose type "
                                 "is unknown; expected an image, audio or video file name",
                                 param=where)
            return media.from_url(part.file_url, kinds[0], owner, own_hosts)
        raise InputError(f"got an input_file without file_id, file_data or file_url at {where}",
                         param=where)

    # -- answers -------------------------------------------------------------------------------

    def create(self, req: ResponseCreateRequest, workflow: str | None, parsed: ParsedRequest,
               owner: str, base_url: str) -> dict[str, Any]:
        rid, created = response_id(), time.time()
        summary = self.chat.run(workflow, parsed, owner, base_url)
        return self._response(req, rid, created, summary, done=True)

    def events(self, req: ResponseCreateRequest, workflow: str | None, parsed: ParsedRequest,
               owner: str, base_url: str) -> Iterator[dict[str, Any]]:
        """SSE messages (dicts for sse-starlette) in OpenAI's streaming order."""
        rid, created = response_id(), time.time()
        seq = iter(range(1 << 30))

        def sse(kind: str, **body: Any) -> dict[str, Any]:
            return {"event": kind, "data": json.dumps({"type": kind,
                                                       "sequence_number": next(seq), **body})}

        pending = self._response(req, rid, created, None, done=False)
        yield sse("response.created", response=pending)
        yield sse("response.in_progress", response=pending)
        summary = RunSummary()
        link = self.chat._linker(base_url)
        try:
            for event in self.chat.events(workflow, parsed, owner):
                summary.add(event, link)
                if req.mmagent.events:
                    yield sse("mmagent.event", event=event.model_dump(mode="json"))
        except MMAgentError as e:
            yield sse("response.failed", response={**pending, "status": "failed", "error": {
                "code": e.code, "message": for_client(e.message)}})
            return
        except Exception as e:  # the stream is already 200: report in-band, keep serving
            logger.exception("responses stream failed")
            yield sse("response.failed", response={**pending, "status": "failed", "error": {
                "code": "internal", "message": f"internal error: {type(e).__name__}"}})
            return
        summary.answer = self.chat.present(summary.answer, summary.artifacts)
        final = self._response(req, rid, created, summary, done=True)
        message = final["output"][0]
        item = {**message, "status": "in_progress", "content": []}
        text_part = message["content"][0]
        yield sse("response.output_item.added", output_index=0, item=item)
        yield sse("response.content_part.added", item_id=message["id"], output_index=0,
                  content_index=0, part={**text_part, "text": "", "annotations": []})
        yield sse("response.output_text.delta", item_id=message["id"], output_index=0,
                  content_index=0, delta=text_part["text"], logprobs=[])
        yield sse("response.output_text.done", item_id=message["id"], output_index=0,
                  content_index=0, text=text_part["text"], logprobs=[])
        yield sse("response.content_part.done", item_id=message["id"], output_index=0,
                  content_index=0, part=text_part)
        yield sse("response.output_item.done", output_index=0, item=message)
        yield sse("response.failed" if final["status"] == "failed" else "response.completed",
                  response=final)

    def _response(self, req: ResponseCreateRequest, rid: str, created: float,
                  summary: RunSummary | None, done: bool) -> dict[str, Any]:
        """A ``response`` object (as JSON): in progress without ``summary``, else final."""
        resp = ResponseObject(id=rid, created_at=int(created), status="in_progress",
                              instructions=req.instructions, model=req.model, user=req.user,
                              metadata=req.metadata or {})
        if summary is not None:
            resp.status = "completed"
            if summary.failures:  # never report as done what failed
                task, message = next(iter(summary.failures.items()))
                resp.status = "failed"
                resp.error = ResponseError(code="tool.failed",
                                           message=for_client(f"task {task}: {message}"))
            resp.output = [OutputMessage(id="msg_" + rid.removeprefix("resp_"), content=[
                OutputTextPart(text=summary.answer,
                               annotations=_citations(summary.answer, summary.artifacts))])]
            resp.usage = Usage(input_tokens=summary.prompt_tokens,
                               output_tokens=summary.completion_tokens,
                               total_tokens=summary.prompt_tokens + summary.completion_tokens)
            resp.mmagent = summary.extras()
            if done and resp.status == "completed":
                resp.completed_at = int(time.time())
        return resp.model_dump(mode="json")


def _citations(text: str, artifacts: list[dict[str, Any]]) -> list[UrlCitation]:
    out = []
    for a in artifacts:
        start = text.find(a["url"])
        if start >= 0:
            out.append(UrlCitation(start_index=start, end_index=start + len(a["url"]),
                                   title=f"{a['kind']} ({a['mime']}) from {a['task']}",
                                   url=a["url"]))
    return out


def _kinds(mime: str | None) -> list[ArtifactKind]:
    major = (mime or "").split("/", 1)[0]
    if major in ("image", "audio", "video"):
        return [major]  # type: ignore[list-item]
    return ["image", "audio", "video"]


def _b64(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise InputError(f"got file_data at {where} that is neither a data: URL nor valid "
                         "base64; expected data:<mime>;base64,<bytes>", param=where) from None
