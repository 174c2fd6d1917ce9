"""The HTTP app: thin FastAPI routes over :class:`~mmagent.serving.service.ChatService`.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``POST /v1/workflows/{name}/runs``,
``POST /v1/files``, ``GET /v1/artifacts/{id}``, ``GET /healthz``, ``GET /metrics``,
``POST /v1/responses`` (``responses.py``), and MCP (Streamable HTTP) at ``/mcp``
(``mcp_server.py``).
Every error leaves in OpenAI's error shape; none takes the server down.
"""


import json
import logging
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from sse_starlette import EventSourceResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from mmagent.artifacts import ArtifactKind
from mmagent.errors import InvalidMediaError, MMAgentError

from .auth import KeyRing
from .errors import RequestTooLargeError, UnknownModelError, error_body, status_for
from .mcp_server import McpHttpEndpoint
from .protocol import ChatCompletionRequest, WorkflowRunRequest
from .responses import ResponseCreateRequest, ResponsesService
from .service import ChatService

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(service: ChatService) -> FastAPI:
    """The FastAPI app serving ``service`` (embedded, or inside the Ray Serve ingress)."""
    settings = service.settings
    keys = KeyRing(settings)
    app = FastAPI(title="mmagent", version="0.1.0")
    app.state.service = service

    # 1. cross-cutting: body limit, metrics, errors ------------------------------------------
    app.add_middleware(_BodyLimit, max_bytes=settings.max_body_bytes)

    @app.middleware("http")
    async def _metrics(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "<unmatched>")
        service.metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        service.metrics.latency.labels(request.method, path).observe(time.perf_counter() - t0)
        return response

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
        if not req.stream:
            return await run_in_threadpool(service.completion, req, workflow, parsed, who,
                                           base_url(request))
        chunks = service.chunks(req, workflow, parsed, who, base_url(request))
        return EventSourceResponse(iterate_in_threadpool(chunks), ping=15)

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
            for event in service._observed(service.agent.stream_workflow(name, inputs), who):
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
        return FileResponse(service.agent.store.path(ref), media_type=ref.mime,
                            filename=f"{ref.id[:12]}{service.agent.store.path(ref).suffix}")

    # first, so that no catch-all mount added later (a web page at /) can shadow it
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
    raise InvalidMediaError(f"{filename} decodes as neither image, audio nor video; expected a "
                            "media file") from last


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
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise RequestTooLargeError(self._message(seen))
            return message

        try:
            await self.app(scope, limited_receive, send)
        except RequestTooLargeError:
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
