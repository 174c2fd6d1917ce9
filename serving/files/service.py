"""Uploads and downloads: a file in becomes an artifact owned by its key; an artifact out is
the copy the store keeps (with its provenance, if kept). Transport-free; ``routes.py`` adapts
it to HTTP."""

from __future__ import annotations

import time
from pathlib import Path

from mmagent.artifacts import ArtifactRef
from mmagent.serving._agent import AgentService
from mmagent.serving.files.protocol import FileObject

__all__ = ["FileService"]


class FileService:
    """Stores uploads and finds artifacts for their owners."""

    def __init__(self, shared: AgentService) -> None:
        self.shared = shared

    def upload(self, data: bytes, content_type: str, filename: str, purpose: str, owner: str
               ) -> FileObject:
        """Store ``data`` as the kind its content type names, else the kind its header tells;
        only ``owner`` may read it."""
        ref = self.shared.media.from_bytes(data, content_type, owner, source=filename)
        return FileObject(id=ref.id, bytes=ref.size_bytes, created_at=int(time.time()),
                          filename=filename, purpose=purpose, kind=ref.kind, mime=ref.mime)

    def download(self, artifact_id: str, owner: str) -> tuple[ArtifactRef, Path]:
        """The artifact and its file, if ``owner`` may read it (others: not found)."""
        ref = self.shared.media.artifact(artifact_id, None, owner)
        return ref, self.shared.agent.artifact_path(ref)  # the copy carrying its workflow, if any
