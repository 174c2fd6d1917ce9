"""OpenAI's Responses API shapes (``POST /v1/responses``, the subset mmagent serves), in OpenAI's
order.

Input: ``input`` as a string or a list of messages whose content parts are ``input_text``,
``input_image`` (``image_url``: data URL / artifact link, or ``file_id``), ``input_audio``
(``{data, format}``) and ``input_file`` (``file_id`` of an upload, ``file_data`` as a data URL,
or an allow-listed ``file_url``; image, audio or video). The last user message's text is the
request; ``model`` is ``mmagent`` or ``workflow:<name>``.

Output: one assistant message whose ``output_text`` is the answer with links to the produced
artifacts (each also a ``url_citation`` annotation), and mmagent's plan, outputs and artifacts
in an extra ``mmagent`` field.

>>> ResponseCreateRequest.model_validate({"input": "Describe the photo"}).model
'mmagent'
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from mmagent.serving._protocol import MODEL_ID, Base64Audio, Extensions, Lenient

__all__ = ["InputText", "OutputText", "InputImage", "InputAudio", "InputFile", "InputMessage",
           "ResponseCreateRequest", "UrlCitation", "OutputTextPart", "OutputMessage",
           "ResponseError", "Usage", "ResponseObject", "response_id"]


# -- request -------------------------------------------------------------------------------------


class InputText(Lenient):
    type: Literal["input_text"]
    text: str


class OutputText(Lenient):
    """Earlier assistant turns replayed as input; their text is not part of the request."""

    type: Literal["output_text"]
    text: str = ""


class InputImage(Lenient):
    type: Literal["input_image"]
    detail: str | None = None
    file_id: str | None = None
    image_url: str | None = Field(None, description="data: URL, artifact link or URL")


class InputAudio(Lenient):
    type: Literal["input_audio"]
    input_audio: Base64Audio


class InputFile(Lenient):
    type: Literal["input_file"]
    file_data: str | None = Field(None, description="data:<mime>;base64,<bytes>")
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


InputPart = Annotated[InputText | OutputText | InputImage | InputAudio | InputFile,
                      Field(discriminator="type")]


class InputMessage(Lenient):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputPart]


class ResponseCreateRequest(Lenient):
    """The subset of ``responses.create`` mmagent serves, in OpenAI's order; other fields
    (``temperature``, ``tools``, ...) are accepted and ignored."""

    model: str = MODEL_ID
    input: str | list[InputMessage] = Field(description="the request: text, or messages")
    instructions: str | None = Field(None, description="echoed back; the planner follows "
                                     "its own system prompt")
    metadata: dict[str, str] | None = None
    stream: bool = False
    user: str | None = None
    mmagent: Extensions = Field(default_factory=Extensions, description="mmagent's extensions "
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
    """The tokens the planner's LLM read and wrote for the request, as OpenAI counts them."""

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
