"""``POST /v1/files`` and ``GET /v1/artifacts/{id}``, thin over
:class:`~mmagent.serving.files.service.FileService`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from mmagent.serving._deps import Owner, service
from mmagent.serving.files.protocol import FileObject
from mmagent.serving.files.service import FileService

__all__ = ["router"]

router = APIRouter()
Files = Annotated[FileService, service("files")]


@router.post("/v1/files")
async def upload_file(who: Owner, files: Files, file: Annotated[UploadFile, File()],
                      purpose: Annotated[str, Form()] = "user_data") -> FileObject:
    data = await file.read()
    return await run_in_threadpool(files.upload, data, file.content_type or "",
                                   file.filename or "upload", purpose, who)


@router.get("/v1/artifacts/{artifact_id}")
async def download_artifact(artifact_id: str, who: Owner, files: Files) -> FileResponse:
    ref, path = files.download(artifact_id, who)
    return FileResponse(path, media_type=ref.mime, filename=f"{ref.id[:12]}{path.suffix}")
