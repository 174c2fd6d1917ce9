"""The HTTP app: thin FastAPI routes over :class:`~mmagent.serving.chat.service.ChatService`.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``POST /v1/workflows/{name}/runs``,
``POST /v1/files``, ``GET /v1/artifacts/{id}``, ``GET /healthz``, ``GET /metrics``,
``POST /v1/responses`` (``responses.py``), MCP (Streamable HTTP) at ``/mcp``
(``mcp_server.py``), the runs API (``/v1/runs...``, ``runs_routes.py``) and the web page at ``/``
(``web.py``).
Every error leaves in OpenAI's error shape; none takes the server down.
"""


import asyncio
import json
import logging
import threading
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sse_starlette import EventSourceResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from mmagent.artifacts import ArtifactKind
from mmagent.errors import InvalidMediaError, MMAgentError
from mmagent.serving._auth import KeyRing
from mmagent.serving._http_errors import (
    RequestTooLargeError,
    UnknownModelError,
    error_body,
    status_for,
)
from mmagent.serving.chat.protocol import ChatCompletionRequest, WorkflowRunRequest
from mmagent.serving.chat.service import ChatService
from mmagent.serving.mcp.service import McpHttpEndpoint
from mmagent.serving.responses.service import ResponseCreateRequest, ResponsesService
from mmagent.serving.web.routes import add_web_routes

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(service: ChatService) -> FastAPI:
    """The FastAPI app serving ``service`` (embedded, or inside the Ray Serve ingress)."""
    settings = service.settings
    keys = KeyRing(settings)
    app = FastAPI(title="mmagent", version="0.1.0")
    app.state.service = service

    # 1. cross-cutting: body limit, metrics, traces, errors ----------------------------------
    app.add_middleware(_BodyLimit, max_bytes=settings.max_body_bytes)
    # a server span per HTTP request (no-op unless a tracer provider is configured)
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["send", "receive"])

    # plain ASGI, not @app.middleware("http"): Starlette's BaseHTTPMiddleware hides a client's
    # disconnect from request.is_disconnected(), and a run must stop when its client goes away
    app.add_middleware(_Metrics, metrics=service.metrics)

    @app.exception_handler(MMAgentError)
    async def _mmagent_error(_request: Request, e: MMAgentError):
        status, kind = status_for(e)
        if status >= 500:
            logger.error("request failed: %s", e)
        param = e.details.get("param") if isinstance(e.details.get("param"), str) else None
        return JSONResponse(error_body(e.message, kind, e.code, param), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, e: RequestValidationError):
        err = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
        loc = ".".join(str(p) for p in err["loc"] if p != "body")
        return JSONResponse(error_body(f"{loc or 'body'}: {err['msg']}", "invalid_request_error",
                                       "request.invalid", loc or None), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, e: StarletteHTTPException):
        return JSONResponse(error_body(str(e.detail), "invalid_request_error", None),
                            status_code=e.status_code)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, e: Exception):
        logger.exception("unhandled error")
        return JSONResponse(error_body(f"internal error: {type(e).__name__}", "server_error",
                                       "internal"), status_code=500)

    def owner(request: Request) -> str:
        return keys.owner(request.headers.get("authorization"))

    Owner = Annotated[str, Depends(owner)]

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def own_hosts(request: Request) -> set[str]:
        hosts = {request.headers.get("host", "").lower(), request.url.netloc.lower()}
        if settings.public_url:
            from urllib.parse import urlsplit

            hosts.add(urlsplit(settings.public_url).netloc.lower())
        return hosts - {""}

    # 2. routes -------------------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "tools": service.agent.registry.names()}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models(_owner: Owner) -> dict[str, Any]:
        return {"object": "list", "data": service.models()}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatCompletionRequest, request: Request, who: Owner):
        workflow = service.check_model(req.model)
        parsed = await run_in_threadpool(service.parse, req, who, own_hosts(request))
        cancel = threading.Event()  # set when the client goes away: the run stops
        if not req.stream:
            work = asyncio.ensure_future(run_in_threadpool(
                service.completion, req, workflow, parsed, who, base_url(request), cancel))
            while not (await asyncio.wait({work}, timeout=0.25))[0]:
                if await request.is_disconnected():
                    cancel.set()
            return work.result()
        chunks = service.chunks(req, workflow, parsed, who, base_url(request), cancel)

        async def cancelled_on_disconnect():
            try:
                async for chunk in iterate_in_threadpool(chunks):
                    yield chunk
            finally:  # the stream ended, or the client went away
                cancel.set()

        return EventSourceResponse(cancelled_on_disconnect(), ping=15)

    responses = ResponsesService(service)

    @app.post("/v1/responses")
    async def create_response(req: ResponseCreateRequest, request: Request, who: Owner):
        workflow = service.check_model(req.model)
        parsed = await run_in_threadpool(responses.parse, req, who, own_hosts(request))
        if not req.stream:
            return await run_in_threadpool(responses.create, req, workflow, parsed, who,
                                           base_url(request))
        events = responses.events(req, workflow, parsed, who, base_url(request))
        return EventSourceResponse(iterate_in_threadpool(events), ping=15)

    @app.post("/v1/workflows/{name}/runs")
    async def workflow_run(name: str, body: WorkflowRunRequest, request: Request, who: Owner):
        if name not in service.workflow_names():
            raise UnknownModelError(f"got workflow {name!r}; expected one of "
                                    f"{service.workflow_names()}")
        inputs = await run_in_threadpool(service.workflow_run_inputs, name, body.inputs, who,
                                         own_hosts(request))
        if not body.stream:
            return await run_in_threadpool(service.run_workflow, name, inputs, who,
                                           base_url(request))

        def events():
            for event in service.workflow_events(name, inputs, who):
                yield {"event": "mmagent", "data": event.model_dump_json()}
            yield {"data": "[DONE]"}

        return EventSourceResponse(iterate_in_threadpool(events()), ping=15)

    @app.post("/v1/files")
    async def upload(who: Owner, file: Annotated[UploadFile, File()],
                     purpose: Annotated[str, Form()] = "user_data") -> dict[str, Any]:
        data = await file.read()
        ref = await run_in_threadpool(_store_upload, service, data, file.content_type or "",
                                      file.filename or "upload")
        service.owners.add(who, ref.id)
        return {"id": ref.id, "object": "file", "bytes": ref.size_bytes,
                "created_at": int(time.time()), "filename": file.filename or "upload",
                "purpose": purpose, "status": "processed", "kind": ref.kind, "mime": ref.mime}

    @app.get("/v1/artifacts/{artifact_id}")
    async def artifact(artifact_id: str, who: Owner) -> FileResponse:
        ref = service.media.artifact(artifact_id, None, who)
        path = service.agent.artifact_path(ref)  # the copy carrying its workflow, if any
        return FileResponse(path, media_type=ref.mime, filename=f"{ref.id[:12]}{path.suffix}")

    from mmagent.runs import RunQueue
    from mmagent.serving.runs.routes import add_run_routes
    from mmagent.stores import state_database

    app.state.runs = add_run_routes(app, service, RunQueue(state_database(service.agent.config)),
                                    Owner, base_url, own_hosts)
    add_web_routes(app, service, Owner)  # the page at /, its files, GET /v1/workflows
    # first, so that the web page's catch-all at / cannot shadow it
    app.router.routes.insert(0, Route("/mcp", McpHttpEndpoint(service, keys),
                                      methods=["GET", "POST", "DELETE"]))
    return app


def _store_upload(service: ChatService, data: bytes, content_type: str, filename: str):
    """Store an upload as the kind its content type names, else the first kind it decodes as."""
    kinds: list[ArtifactKind] = ["image", "audio", "video"]
    major = content_type.split("/", 1)[0]
    if major in kinds:
        kinds = [major]  # type: ignore[list-item]
    last: InvalidMediaError | None = None
    for kind in kinds:
        try:
            return service.agent.store.put_bytes(data, kind, source=filename)
        except InvalidMediaError as e:
            last = e
    assert last is not None
    if len(kinds) == 1:
        raise last  # the content type named the kind: say what is wrong with it
    raise InvalidMediaError(f"{filename} decodes as neither image, audio nor video; expected a "
                            "media file") from last


class _Metrics:
    """Counts requests and their latency by method, route and status."""

    def __init__(self, app, metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "<unmatched>")  # the router sets it
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - t0)


class _BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, int(declared))
        seen, too_large, started = 0, False, False

        async def limited_receive():
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise RequestTooLargeError(self._message(seen))
            return message

        async def guarded_send(message):
            nonlocal started
            if too_large and not started:
                return  # the app's answer to a body we cut short (e.g. 400); ours is 413
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except RequestTooLargeError:
            pass
        if too_large and not started:
            await self._refuse(send, seen)

    def _message(self, size: int) -> str:
        return (f"got a request body of {size} bytes or more; expected at most {self.max_bytes} "
                "(serving.max_body_bytes)")

    async def _refuse(self, send, size: int) -> None:
        body = json.dumps(error_body(self._message(size), "invalid_request_error",
                                     RequestTooLargeError.code)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
