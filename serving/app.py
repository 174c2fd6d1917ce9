"""The HTTP app: every endpoint's router over its service, behind the middlewares.

Each endpoint is a folder with its ``protocol``, ``service`` and ``routes``: ``chat/``
(``POST /v1/chat/completions``, ``GET /v1/models``), ``responses/`` (``POST /v1/responses``),
``workflows/`` (``GET /v1/workflows``, ``POST /v1/workflows/{name}/runs``), ``files/``
(``POST /v1/files``, ``GET /v1/artifacts/{id}``), ``runs/`` (``/v1/runs...``), ``mcp/``
(``/mcp``), ``web/`` (the page at ``/``) and ``ops/`` (``GET /healthz``, ``GET /metrics``).
This module only assembles them; errors leave in OpenAI's shape (``_http_errors.py``).
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from mmagent.agent import Agent
from mmagent.runs import RunQueue
from mmagent.serving._agent import AgentService
from mmagent.serving._auth import KeyRing
from mmagent.serving._http_errors import EXCEPTION_HANDLERS
from mmagent.serving._middleware import BodyLimit, RequestMetrics
from mmagent.serving.chat import routes as chat_routes
from mmagent.serving.chat.service import ChatService
from mmagent.serving.files import routes as files_routes
from mmagent.serving.files.service import FileService
from mmagent.serving.mcp.routes import mcp_route
from mmagent.serving.ops import routes as ops_routes
from mmagent.serving.responses import routes as responses_routes
from mmagent.serving.responses.service import ResponsesService
from mmagent.serving.runs import routes as runs_routes
from mmagent.serving.runs.service import RunService
from mmagent.serving.web import routes as web_routes
from mmagent.serving.workflows import routes as workflows_routes
from mmagent.serving.workflows.service import WorkflowService
from mmagent.stores import state_database

__all__ = ["create_app"]

_ROUTERS = (ops_routes.router, chat_routes.router, responses_routes.router,
            workflows_routes.router, files_routes.router, runs_routes.router, web_routes.router)


def create_app(agent: Agent) -> FastAPI:
    """The FastAPI app serving ``agent`` (embedded, or inside the Ray Serve ingress)."""
    shared = AgentService(agent)
    keys = KeyRing(shared.settings)
    app = FastAPI(title="mmagent", version="0.1.0", exception_handlers=EXCEPTION_HANDLERS)

    # 1. the services, where the routes find them (``_deps.service``)
    app.state.agent = shared
    app.state.keys = keys
    app.state.chat = ChatService(shared)
    app.state.responses = ResponsesService(shared)
    app.state.workflows = WorkflowService(shared)
    app.state.files = FileService(shared)
    app.state.runs = RunService(shared, RunQueue(state_database(agent.config)))

    # 2. middlewares, innermost first: body limit, a span per request (no-op unless a tracer
    # provider is configured), metrics
    app.add_middleware(BodyLimit, max_bytes=shared.settings.max_body_bytes)
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["send", "receive"])
    app.add_middleware(RequestMetrics, metrics=shared.metrics)

    # 3. the routes
    app.router.routes.append(mcp_route(shared, keys))
    for router in _ROUTERS:
        app.include_router(router)
    app.state.runs.dispatch()  # runs left queued by an earlier instance
    return app
