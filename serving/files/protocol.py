"""Shapes of ``POST /v1/files`` (OpenAI's file object, plus the artifact's kind and type)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mmagent.artifacts import ArtifactKind

__all__ = ["FileObject"]


class FileObject(BaseModel):
    """An upload; its ``id`` is an artifact id, usable wherever media go (``artifact://<id>``
    or the bare id)."""

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["processed"] = "processed"
    kind: ArtifactKind = Field(description="image, audio or video")
    mime: str
