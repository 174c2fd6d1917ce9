"""The web page at ``/``: plain HTML, JS and CSS shipped as package data (no build step).

The page is static and public; everything it shows comes from the API with the key the user
types (kept in the tab's ``sessionStorage``, sent as ``Authorization: Bearer``). It runs
prompts and workflows through the runs API (``POST /v1/runs``, ``GET /v1/runs/{id}/events``,
``POST /v1/runs/{id}/approve``) so a paused run can be approved from the page, and fills a
workflow's form from ``GET /v1/workflows``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["router", "WEB_DIR"]

WEB_DIR = Path(__file__).parent

router = APIRouter()
router.mount("/web", StaticFiles(directory=WEB_DIR), name="web")


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html")
