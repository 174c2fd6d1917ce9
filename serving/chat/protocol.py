"""OpenAI-compatible request and response shapes (the subset mmagent serves), in OpenAI's order.

Requests ignore fields mmagent does not use (``temperature``, ``n``, ...), as OpenAI-compatible
servers do; the response carries mmagent's extras in an ``mmagent`` field that OpenAI clients
keep as an extra attribute.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "TextPart",
    "ImageURLPart",
    "InputAudioPart",
    "AudioURLPart",
    "VideoURLPart",
    "ChatMessage",
    "ChatCompletionRequest",
    "WorkflowRunRequest",
    "MODEL_ID",
    "completion_id",
    "chat_completion",
    "chat_chunk",
]

MODEL_ID = "mmagent"
"""The agent's model id; workflows are ``workflow:<name>``."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Part):
    type: Literal["text"]
    text: str


class _URL(_Part):
    url: str = Field(description="data: URL, link to an uploaded artifact, or http(s) URL")
    detail: str | None = None


class ImageURLPart(_Part):
    type: Literal["image_url"]
    image_url: _URL


class _Audio(_Part):
    data: str = Field(description="base64-encoded audio bytes")
    format: str = Field("wav", description="wav, mp3, flac, ogg")


class InputAudioPart(_Part):
    type: Literal["input_audio"]
    input_audio: _Audio


class VideoURLPart(_Part):
    """An extension (vLLM uses the same shape): a video by data URL, artifact link or URL."""

    type: Literal["video_url"]
    video_url: _URL


class AudioURLPart(_Part):
    """An extension (vLLM uses the same shape): audio by data URL, artifact link or URL."""

    type: Literal["audio_url"]
    audio_url: _URL


ContentPart = TextPart | ImageURLPart | InputAudioPart | AudioURLPart | VideoURLPart


class ChatMessage(_Part):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class _AudioParams(_Part):
    voice: str | None = None
    format: str = "wav"


class _Extras(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: bool = Field(True, description="send plan/step events in the stream")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    modalities: list[Literal["text", "audio"]] | None = None
    audio: _AudioParams | None = None
    stream: bool = False
    user: str | None = None
    mmagent: _Extras = Field(default_factory=_Extras, description="mmagent's extensions "
                             "(pass with the openai package's extra_body)")


class WorkflowRunRequest(BaseModel):
    """``POST /v1/workflows/{name}/runs``: values by input name (media as artifact links or
    data URLs)."""

    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def usage(prompt_tokens: int = 0, completion_tokens: int = 0) -> dict[str, int]:
    """OpenAI's ``usage``: the tokens the planner's LLM read and wrote for the request."""
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def chat_completion(cid: str, model: str, content: str, audio: dict[str, Any] | None,
                    extras: dict[str, Any], tokens: dict[str, int] | None = None
                    ) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if audio is not None:
        message["audio"] = audio
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop",
                     "logprobs": None}],
        "usage": tokens or usage(),
        "mmagent": extras,
    }


def chat_chunk(cid: str, model: str, delta: dict[str, Any] | None = None,
               finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``chat.completion.chunk``; with ``delta=None`` it has no choices (an event carrier)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta,
                                         "finish_reason": finish_reason, "logprobs": None}]
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "choices": choices, **extra}
