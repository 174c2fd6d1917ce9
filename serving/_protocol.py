"""Wire shapes more than one endpoint speaks: model ids, media kinds, the lenient base of
request parts, base64 audio, and mmagent's ``mmagent`` request extensions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import ArtifactKind

__all__ = ["MODEL_ID", "WORKFLOW_PREFIX", "MEDIA_KINDS", "Lenient", "Base64Audio", "Extensions",
           "absent"]

MODEL_ID = "mmagent"
"""The agent's model id; workflows are ``workflow:<name>``."""
WORKFLOW_PREFIX = "workflow:"
MEDIA_KINDS: tuple[ArtifactKind, ...] = ("image", "audio", "video")


class Lenient(BaseModel):
    """Ignores fields mmagent does not use (``temperature``, ``n``, ...), as OpenAI-compatible
    servers do."""

    model_config = ConfigDict(extra="ignore")


class Base64Audio(Lenient):
    """Audio bytes inline: chat's ``input_audio`` and the Responses API's ``input_audio``."""

    data: str = Field(description="base64-encoded audio bytes")
    format: str = Field("wav", description="wav, mp3, flac, ogg")


class Extensions(BaseModel):
    """mmagent's extensions of a request (pass with the openai package's ``extra_body``)."""

    model_config = ConfigDict(extra="forbid")

    events: bool = Field(True, description="send each agent event while streaming")


def absent(value: object) -> bool:
    """For ``Field(exclude_if=absent)``: a field OpenAI leaves out, rather than null, when unset."""
    return value is None
