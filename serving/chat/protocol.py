"""OpenAI's chat completion and model list shapes (the subset mmagent serves), in OpenAI's order.

Requests ignore fields mmagent does not use (``temperature``, ``n``, ...), as OpenAI-compatible
servers do; responses carry mmagent's extras in an ``mmagent`` field that OpenAI clients keep
as an extra attribute.

>>> ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": "hi"}]}).model
'mmagent'
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from mmagent.serving._protocol import MODEL_ID, Base64Audio, Extensions, Lenient, absent

__all__ = [
    "TextPart",
    "ImageURLPart",
    "InputAudioPart",
    "AudioURLPart",
    "VideoURLPart",
    "ChatMessage",
    "ChatCompletionRequest",
    "Usage",
    "ChatCompletionAudio",
    "ChatCompletionMessage",
    "ChatCompletionChoice",
    "ChatCompletionResponse",
    "DeltaMessage",
    "ChatCompletionChunkChoice",
    "ChatCompletionChunk",
    "ModelCard",
    "ModelList",
    "completion_id",
]


# -- request -------------------------------------------------------------------------------------


class TextPart(Lenient):
    type: Literal["text"]
    text: str


class _URL(Lenient):
    url: str = Field(description="data: URL, link to an uploaded artifact, or http(s) URL")
    detail: str | None = None


class ImageURLPart(Lenient):
    type: Literal["image_url"]
    image_url: _URL


class InputAudioPart(Lenient):
    type: Literal["input_audio"]
    input_audio: Base64Audio


class VideoURLPart(Lenient):
    """An extension (vLLM uses the same shape): a video by data URL, artifact link or URL."""

    type: Literal["video_url"]
    video_url: _URL


class AudioURLPart(Lenient):
    """An extension (vLLM uses the same shape): audio by data URL, artifact link or URL."""

    type: Literal["audio_url"]
    audio_url: _URL


ContentPart = TextPart | ImageURLPart | InputAudioPart | AudioURLPart | VideoURLPart


class ChatMessage(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class _AudioParams(Lenient):
    voice: str | None = None
    format: str = "wav"


class ChatCompletionRequest(Lenient):
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    modalities: list[Literal["text", "audio"]] | None = None
    audio: _AudioParams | None = None
    stream: bool = False
    user: str | None = None
    mmagent: Extensions = Field(default_factory=Extensions, description="mmagent's extensions "
                                "(pass with the openai package's extra_body)")


# -- response ------------------------------------------------------------------------------------


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def _now() -> int:
    return int(time.time())


class Usage(BaseModel):
    """OpenAI's ``usage``: the tokens the planner's LLM read and wrote for the request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                   total_tokens=prompt_tokens + completion_tokens)


class ChatCompletionAudio(BaseModel):
    """``message.audio``: the last speech the run produced, when audio was asked for."""

    id: str
    data: str = Field(description="base64-encoded audio bytes")
    expires_at: int
    transcript: str
    format: str


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None
    audio: ChatCompletionAudio | None = Field(None, exclude_if=absent)


class ChatCompletionChoice(BaseModel):
    index: int = 0
    message: ChatCompletionMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=_now)
    model: str
    choices: list[ChatCompletionChoice]
    usage: Usage = Field(default_factory=Usage)
    mmagent: dict[str, Any] = Field(default_factory=dict, description="plan, outputs, "
                                    "failures, artifacts (links)")


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = Field(None, exclude_if=absent)
    content: str | None = Field(None, exclude_if=absent)
    audio: ChatCompletionAudio | None = Field(None, exclude_if=absent)


class ChatCompletionChunkChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """A ``chat.completion.chunk``; without choices it carries one agent event
    (``mmagent_event``)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = Field(default_factory=_now)
    model: str
    choices: list[ChatCompletionChunkChoice] = Field(default_factory=list)
    usage: Usage | None = Field(None, exclude_if=absent)
    mmagent: dict[str, Any] | None = Field(None, exclude_if=absent)
    mmagent_event: dict[str, Any] | None = Field(None, exclude_if=absent)

    @classmethod
    def of(cls, cid: str, model: str, delta: DeltaMessage,
           finish_reason: Literal["stop"] | None = None, **extra: Any) -> ChatCompletionChunk:
        return cls(id=cid, model=model, choices=[ChatCompletionChunkChoice(delta=delta,
                                                              finish_reason=finish_reason)],
                   **extra)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "mmagent"


class ModelList(BaseModel):
    """``GET /v1/models``: ``mmagent`` and every workflow as ``workflow:<name>``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
