"""The web page at ``/``: plain HTML, JS and CSS shipped as package data (no build step).

The page is static and public; everything it shows comes from the API with the key the user
types (kept in the tab's ``sessionStorage``, sent as ``Authorization: Bearer``). It runs
prompts and workflows through the runs API (``POST /v1/runs``, ``GET /v1/runs/{id}/events``,
``POST /v1/runs/{id}/approve``) so a paused run can be approved from the page, and fills a
workflow's form from ``GET /v1/workflows``.
"""

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from mmagent.serving.chat.service import ChatService

__all__ = ["add_web_routes", "WEB_DIR"]

WEB_DIR = Path(__file__).parent


def add_web_routes(app: FastAPI, service: ChatService, owner_dep: Any) -> None:
    """``GET /`` (the page), ``/web/*`` (its files) and ``GET /v1/workflows``."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

    @app.get("/v1/workflows")
    async def workflows(_who: owner_dep) -> dict[str, Any]:
        """Every workflow with its typed inputs (what a form needs)."""
        from mmagent.workflows import load_workflow

        data = []
        for name in service.workflow_names():
            wf = load_workflow(service.agent.workflows()[name])
            data.append({"name": name, "description": wf.description or "",
                         "inputs": {n: {"type": str(i.type), "required": bool(i.required),
                                        "default": i.default, "description": i.description}
                                    for n, i in wf.inputs.items()}})
        return {"object": "list", "data": data}
