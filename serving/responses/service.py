"""The Responses API (``POST /v1/responses``) over the same agent as chat completions.

``stream: true`` sends OpenAI's event sequence (``response.created``, ``response.in_progress``,
``response.output_item.added``, ``response.content_part.added``,
``response.output_text.delta``/``.done``, ``response.content_part.done``,
``response.output_item.done``, ``response.completed``), with each agent event as a
``mmagent.event`` in between (unless ``mmagent.events`` is false); a run that fails ends with
``response.failed``. The shapes are in ``protocol.py``.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import time
from collections.abc import Iterator, Sequence
from typing import Any

from mmagent._messages import for_client
from mmagent.artifacts import ArtifactRef
from mmagent.errors import InputError, MMAgentError
from mmagent.serving import _function_calls as function_calls
from mmagent.serving._agent import AgentService, ParsedRequest, RunSummary
from mmagent.serving._follow_up import FollowUp, follow_up
from mmagent.serving._follow_up import answer as follow_up_answer
from mmagent.serving._function_calls import fit_schema
from mmagent.serving._protocol import MEDIA_KINDS
from mmagent.serving._request_media import decode_data_url
from mmagent.serving.responses.protocol import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputFile,
    InputImage,
    InputMessage,
    InputText,
    OutputMessage,
    OutputText,
    OutputTextPart,
    ResponseCreateRequest,
    ResponseError,
    ResponseObject,
    UrlCitation,
    Usage,
    response_id,
)
from mmagent.serving.responses.store import ResponseStore
from mmagent.stores import state_database
from mmagent.toolkit import ClientFunction

__all__ = ["ResponsesService"]

logger = logging.getLogger(__name__)

class ResponsesService:
    """Turns Responses requests into runs of the agent or a workflow."""

    def __init__(self, shared: AgentService) -> None:
        self.shared = shared
        self.stored = ResponseStore(state_database(shared.agent.config))

    def check_model(self, model: str) -> str | None:
        """The workflow name ``model`` picks (None for the agent); UnknownModelError else."""
        return self.shared.check_model(model)

    def parse(self, req: ResponseCreateRequest, owner: str, own_hosts: set[str]
              ) -> ParsedRequest:
        items = [InputMessage(role="user", content=req.input)] \
            if isinstance(req.input, str) else req.input
        if _call_outputs(req) or self.follow_up(req, owner) is not None:
            return ParsedRequest(prompt="")  # it resumes a run, whose request is known
        messages = [m for m in items if isinstance(m, InputMessage)]
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
                    out.media["image"].append(self.shared.media.from_url(url, "image", owner,
                                                                         own_hosts))
                elif isinstance(part, InputAudio):
                    out.media["audio"].append(self.shared.media.from_base64(
                        part.input_audio.data, "audio", owner, f"the input_audio at {where}"))
                elif isinstance(part, InputFile):
                    ref = self._file(part, owner, own_hosts, where)
                    out.media[ref.kind].append(ref)
            if i == len(users) - 1:
                out.prompt = "\n".join(t for t in texts if t.strip())
        return out

    def _file(self, part: InputFile, owner: str, own_hosts: set[str], where: str
              ) -> ArtifactRef:
        media = self.shared.media
        if part.file_id:
            return media.artifact(part.file_id, None, owner)
        if part.file_data:
            mime: str | None
            if part.file_data.startswith("data:"):
                data, mime = decode_data_url(part.file_data), part.file_data[5:].split(";")[0]
            else:
                data, mime = _b64(part.file_data, where), mimetypes.guess_type(
                    part.filename or "")[0]
            return media.from_bytes(data, mime, owner, source=part.filename or where)
        if part.file_url:
            mime = mimetypes.guess_type(part.file_url.split("?")[0])[0] or ""
            kind = next((k for k in MEDIA_KINDS if mime.startswith(k + "/")), None)
            if kind is None:
                raise InputError(f"got file_url {part.file_url[:80]!r} at {where}, whose type "
                                 "is unknown; expected an image, audio or video file name",
                                 param=where)
            return media.from_url(part.file_url, kind, owner, own_hosts)
        raise InputError(f"got an input_file without file_id, file_data or file_url at {where}",
                         param=where)

    # -- answers -------------------------------------------------------------------------------

    def check_stream(self, req: ResponseCreateRequest) -> None:
        """Function calling and structured output answer whole responses, not streams."""
        if req.tools or _call_outputs(req) or (req.text is not None
                                               and req.text.format.type != "text"):
            raise InputError("got stream: true with tools, function_call_output or text.format; "
                             "expected stream: false for function calling and structured output",
                             param="stream")

    def follow_up(self, req: ResponseCreateRequest, owner: str) -> FollowUp | None:
        """The paused run the input ("approve", "reject") answers: the paused response is
        ``previous_response_id`` (``owner``'s), or replayed as the assistant message before it
        (``_follow_up.py``)."""
        items = [InputMessage(role="user", content=req.input)] \
            if isinstance(req.input, str) else req.input
        if not items or not isinstance(items[-1], InputMessage) or items[-1].role != "user":
            return None
        previous = None
        if len(items) >= 2 and isinstance(items[-2], InputMessage) and \
                items[-2].role == "assistant":
            previous = _text(items[-2])
        elif req.previous_response_id is not None:
            body = self.stored.get(req.previous_response_id, owner, param="previous_response_id")
            previous = " ".join(c.get("text", "") for o in body.get("output", [])
                                if o.get("type") == "message" for c in o.get("content", []))
        return follow_up(previous, _text(items[-1]))

    def get(self, rid: str, owner: str) -> dict[str, Any]:
        """A stored response of ``owner`` (UnknownResponseError else)."""
        return self.stored.get(rid, owner)

    def create(self, req: ResponseCreateRequest, workflow: str | None, parsed: ParsedRequest,
               owner: str, base_url: str) -> dict[str, Any]:
        """The response; with ``tools``, ``function_call`` items while the run waits for the
        client (paused durably), whose ``function_call_output`` items (with
        ``previous_response_id``, as OpenAI's clients send them, or without) resume it, on any
        instance."""
        rid, created = response_id(), time.time()
        if req.previous_response_id is not None:
            self.stored.get(req.previous_response_id, owner, param="previous_response_id")
        outputs, follow = _call_outputs(req), self.follow_up(req, owner)
        if follow is not None:
            summary = follow_up_answer(self.shared, follow, owner, base_url)
        elif outputs or req.tools:
            if outputs:
                turn = function_calls.answer(self.shared, outputs, owner, base_url)
            else:
                turn = function_calls.start(self.shared, workflow, parsed, owner, base_url, [
                    ClientFunction(name=t.name, description=t.description or "",
                                   parameters=t.parameters) for t in req.tools or []])
            summary = turn.summary
            if turn.calls:
                return self._keep(req, owner, self._response(
                    req, rid, created, summary, done=True, calls=turn.calls))
        else:
            summary = self.shared.run(workflow, parsed, owner, base_url, conversation=True)
        fmt = req.text.format if req.text is not None else None
        if fmt is not None and fmt.type != "text" and not summary.failures:
            schema = fmt.schema_ if fmt.type == "json_schema" else {"type": "object"}
            summary.answer = fit_schema(self.shared, summary, schema or {"type": "object"},
                                        fmt.name)
        return self._keep(req, owner, self._response(req, rid, created, summary, done=True))

    def _keep(self, req: ResponseCreateRequest, owner: str, body: dict[str, Any]
              ) -> dict[str, Any]:
        if req.store:
            self.stored.put(body["id"], owner, body)
        return body

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
        link = self.shared.linker(base_url)
        try:
            follow = self.follow_up(req, owner)
            if follow is not None:  # the run's answer once it stops; its events are its own
                summary = follow_up_answer(self.shared, follow, owner, base_url)
            for event in () if follow is not None else self.shared.events(
                    workflow, parsed, owner, conversation=True):
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
        summary.answer = self.shared.present(summary.answer, summary.artifacts)
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
        self._keep(req, owner, final)
        yield sse("response.failed" if final["status"] == "failed" else "response.completed",
                  response=final)

    def _response(self, req: ResponseCreateRequest, rid: str, created: float,
                  summary: RunSummary | None, done: bool,
                  calls: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        """A ``response`` object (as JSON): in progress without ``summary``, else final; with
        ``calls``, the function calls the run waits for instead of an answer."""
        resp = ResponseObject(id=rid, created_at=int(created), status="in_progress",
                              instructions=req.instructions, model=req.model, user=req.user,
                              metadata=req.metadata or {}, store=req.store,
                              previous_response_id=req.previous_response_id,
                              tools=[t.model_dump(mode="json") for t in req.tools or []],
                              tool_choice="auto" if req.tools else "none")
        if req.text is not None:
            resp.text = {"format": req.text.format.model_dump(mode="json", by_alias=True,
                                                              exclude_none=True)}
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
            if calls:
                resp.output = [FunctionCallItem(id="fc_" + c["call_id"].removeprefix("call_"),
                                                call_id=c["call_id"], name=c["name"],
                                                arguments=function_calls.arguments(c))
                               for c in calls]
            resp.usage = Usage(input_tokens=summary.prompt_tokens,
                               output_tokens=summary.completion_tokens,
                               total_tokens=summary.prompt_tokens + summary.completion_tokens)
            resp.mmagent = summary.extras()
            if done and resp.status == "completed":
                resp.completed_at = int(time.time())
        return resp.model_dump(mode="json")


def _text(message: InputMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(getattr(p, "text", "") for p in message.content
                   if isinstance(p, (InputText, OutputText)))


def _call_outputs(req: ResponseCreateRequest) -> dict[str, str]:
    """The client's outputs of function calls in the input, by call id."""
    if isinstance(req.input, str):
        return {}
    return {i.call_id: i.text() for i in req.input if isinstance(i, FunctionCallOutputItem)}


def _citations(text: str, artifacts: list[dict[str, Any]]) -> list[UrlCitation]:
    out = []
    for a in artifacts:
        start = text.find(a["url"])
        if start >= 0:
            out.append(UrlCitation(start_index=start, end_index=start + len(a["url"]),
                                   title=f"{a['kind']} ({a['mime']}) from {a['task']}",
                                   url=a["url"]))
    return out


def _b64(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise InputError(f"got file_data at {where} that is neither a data: URL nor valid "
                         "base64; expected data:<mime>;base64,<bytes>", param=where) from None
