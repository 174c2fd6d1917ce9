"""The MCP server: every tool, every workflow and the agent itself as MCP tools.

Two transports, one :class:`McpBridge`: ``mmagent mcp`` speaks stdio (a local client starts it
as a subprocess), and ``mmagent serve`` answers Streamable HTTP at ``/mcp`` behind the server's
API keys. Built on the official ``mcp`` SDK's low-level ``Server``.

What the MCP tools are:

- each registered tool under its own name, its input schema generated from the tool's pydantic
  ``Input`` model, with every media port a string with ``contentMediaType: image/*`` (audio,
  video; a list of them for ``list[image]`` ...);
- each workflow as ``workflow_<name>``, one property per declared input;
- ``run``: the agent (``prompt`` and optional ``images``/``audio``/``video``), answering with
  the text answer and the artifacts its plan produced.

A media string is a ``data:`` URL, an artifact id (``artifact://<id>`` or the bare 64-hex id of
something uploaded with ``POST /v1/files`` or produced earlier with the same key), a link to
``/v1/artifacts/<id>`` on this server, an allow-listed http(s) URL, or (stdio only, where the
client is the local user) a file path. Produced images and audio come back as MCP image/audio
content, and every artifact as a resource link (``/v1/artifacts/<id>`` over HTTP, a
``file://`` URI over stdio); ``structured_content`` carries the JSON result.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INVALID_PARAMS
from pydantic import BaseModel

from mmagent._messages import for_client
from mmagent.artifacts import ArtifactKind, ArtifactRef
from mmagent.errors import InputError, InputNotFoundError, MMAgentError, UnknownToolError
from mmagent.events import ArtifactCreated
from mmagent.serving._auth import ANONYMOUS, KeyRing
from mmagent.serving._http_errors import AuthError, error_body
from mmagent.serving._request_media import ARTIFACT_PATH_RE
from mmagent.serving.chat.service import ChatService, ParsedRequest, RunSummary
from mmagent.tool import port_type

__all__ = ["McpBridge", "mcp_server", "McpHttpEndpoint", "serve_stdio", "WORKFLOW_TOOL_PREFIX",
           "RUN_TOOL"]

logger = logging.getLogger(__name__)
WORKFLOW_TOOL_PREFIX = "workflow_"
RUN_TOOL = "run"
_MEDIA: tuple[ArtifactKind, ...] = ("image", "audio", "video")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_RESOURCE_NOT_FOUND = -32002  # MCP's code for resources/read of an unknown resource
_INLINE_MAX_BYTES = 4 * 1024 * 1024
"""Images and audio up to this size also come inline (image/audio content); all as links."""
_HTTP_HELP = ("a data: URL, an artifact id (artifact://<id> or the bare id from POST /v1/files), "
              "or a link to /v1/artifacts/<id>")
_STDIO_HELP = "a file path, a data: URL, or an artifact id (artifact://<id>)"


class McpBridge:
    """MCP tool listings and calls over a :class:`ChatService` (transport-free, synchronous).

    ``local_files``: media strings may be file paths and artifacts come back as ``file://``
    links (stdio: the client is the local user). Otherwise links point at the HTTP server.
    """

    def __init__(self, service: ChatService, *, local_files: bool = False) -> None:
        self.service = service
        self.agent = service.agent
        self.local_files = local_files

    # -- listing -------------------------------------------------------------------------------

    def tools(self) -> list[types.Tool]:
        help_ = _STDIO_HELP if self.local_files else _HTTP_HELP
        out = [types.Tool(name=RUN_TOOL, description=(
            "Ask the mmagent agent: an LLM plans the request over the given media, runs the "
            "plan on model tools, and answers with text and the artifacts it produced."),
            input_schema=_run_schema(help_))]
        for name in self.service.workflow_names():
            try:
                wf = self.service._workflow_spec(name)
            except MMAgentError as e:  # one broken file must not hide every tool
                logger.warning("not listing workflow %s over MCP: %s", name, e)
                continue
            out.append(types.Tool(name=WORKFLOW_TOOL_PREFIX + name,
                                  description=f"Workflow {name}: {wf.description}".strip(),
                                  input_schema=_workflow_schema(wf, help_)))
        for name in self.agent.registry.names():
            cls = self.agent.registry.tool_class(name)
            out.append(types.Tool(name=name, description=cls.description,
                                  input_schema=tool_input_schema(cls.Input, help_)))
        return out

    # -- calls ---------------------------------------------------------------------------------

    def call(self, name: str, arguments: dict[str, Any] | None, owner: str = ANONYMOUS,
             base_url: str = "", own_hosts: set[str] | None = None) -> types.CallToolResult:
        """Run one MCP tool call; every error comes back as an ``is_error`` result."""
        args = dict(arguments or {})
        ctx = _Call(self, owner, base_url, own_hosts or set())
        try:
            if name == RUN_TOOL:
                return ctx.run(args)
            if name.startswith(WORKFLOW_TOOL_PREFIX) and \
                    name[len(WORKFLOW_TOOL_PREFIX):] in self.service.workflow_names():
                return ctx.workflow(name[len(WORKFLOW_TOOL_PREFIX):], args)
            if name in self.agent.registry:
                return ctx.tool(name, args)
            raise UnknownToolError(f"got tool {_short(name)}; expected {RUN_TOOL!r}, a workflow_* "
                                   "tool or a registered tool (see tools/list)")
        except MMAgentError as e:
            return _error(f"error[{e.code}]: {e.message}")
        except Exception as e:  # a bad call never takes the server down
            logger.exception("MCP tool %s failed", name)
            return _error(f"error[internal]: {type(e).__name__}")

    def read(self, uri: str, owner: str = ANONYMOUS) -> types.ReadResourceResult:
        """``resources/read`` of an artifact link this server handed out (``/v1/artifacts/<id>``,
        ``artifact://<id>``, or over stdio ``file://``), for the key that may read it."""
        match = ARTIFACT_PATH_RE.search(urlsplit(uri).path) \
            if uri.startswith(("http://", "https://")) else None
        if uri.startswith("artifact://"):
            artifact_id = uri.removeprefix("artifact://")
        elif match:
            artifact_id = match.group(1)
        elif uri.startswith("file://") and self.local_files:
            artifact_id = Path(urlsplit(uri).path).stem
        else:
            raise InputError(f"got resource {_short(uri)}; expected an artifact link from a "
                             "tool result")
        ref = self.service.media.artifact(artifact_id, None, owner)
        blob = base64.b64encode(self.agent.store.read_bytes(ref)).decode()
        return types.ReadResourceResult(contents=[types.BlobResourceContents(
            uri=uri, mime_type=ref.mime, blob=blob)])


class _Call:
    """One call's owner, links and media resolution."""

    def __init__(self, bridge: McpBridge, owner: str, base_url: str, own_hosts: set[str]) -> None:
        self.bridge = bridge
        self.service = bridge.service
        self.store = bridge.agent.store
        self.owner = owner
        self.own_hosts = own_hosts
        self.link: Callable[[str], str] = (self._file_link if bridge.local_files
                                           else self.service._linker(base_url))

    def _file_link(self, artifact_id: str) -> str:
        return self.store.path(self.store.get(artifact_id)).resolve().as_uri()

    # -- the three kinds of tool ---------------------------------------------------------------

    def run(self, args: dict[str, Any]) -> types.CallToolResult:
        _only(args, {"prompt", "images", "audio", "video"}, RUN_TOOL)
        prompt = args.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError(f"got {_short(prompt)} for prompt; expected the request in words")
        parsed = ParsedRequest(prompt=prompt)
        for key, kind in (("images", "image"), ("audio", "audio"), ("video", "video")):
            parsed.media[kind] = [self.media(v, kind, f"{key}[{i}]")  # type: ignore[index]
                                  for i, v in enumerate(_as_list(args.get(key, []), key))]
        summary = RunSummary()
        for event in self.service.events(None, parsed, self.owner):
            summary.add(event, self.link)
        summary.answer = self.service.present(summary.answer, summary.artifacts)
        return self._summary_result(summary)

    def workflow(self, name: str, args: dict[str, Any]) -> types.CallToolResult:
        spec = self.service._workflow_spec(name)
        _only(args, set(spec.inputs), WORKFLOW_TOOL_PREFIX + name)
        values: dict[str, Any] = {}
        for key, value in args.items():
            kind = str(spec.inputs[key].type)
            base = kind[5:-1] if kind.startswith("list[") else kind
            if base in _MEDIA:
                refs = [self.media(v, base, f"{key}[{i}]") for i, v in  # type: ignore[arg-type]
                        enumerate(_as_list(value, key))]
                values[key] = refs if kind.startswith("list[") else _one(refs, key)
            else:
                values[key] = value
        summary = RunSummary()
        for event in self.service._observed(self.bridge.agent.stream_workflow(name, values),
                                            self.owner):
            summary.add(event, self.link)
        summary.answer = self.service.present(summary.answer, summary.artifacts)
        return self._summary_result(summary)

    def tool(self, name: str, args: dict[str, Any]) -> types.CallToolResult:
        """A one-task plan through the executor, so the tool's policies (retries, time limit,
        cache, approval) hold for MCP calls too."""
        from mmagent.plan import Plan, iter_refs

        agent = self.bridge.agent
        for key, value in args.items():
            ref = next(iter_refs(value), None)
            if ref is not None:
                raise InputError(f"got {_short(str(ref))} for {key[:64]}; expected a literal "
                                 "value (references are for plans)", param=key[:64])
        inputs: dict[str, ArtifactRef] = {}
        model = agent.registry.tool_class(name).Input
        for fname, field in model.model_fields.items():
            kind = port_type(field.annotation)
            base = kind[5:-1] if kind.startswith("list[") else kind
            if base in _MEDIA and args.get(fname) is not None:
                refs = []
                for i, v in enumerate(_as_list(args[fname], fname)):
                    inputs[f"{fname}{i}"] = self.media(v, base, f"{fname}[{i}]")  # type: ignore
                    refs.append(f"$input.{fname}{i}")
                args[fname] = refs if kind.startswith("list[") else _one(refs, fname)
        plan = Plan.model_validate({"tasks": [{"id": "t1", "tool": name, "args": args}]})
        artifacts: list[dict[str, Any]] = []

        def emit(event: Any) -> None:
            if isinstance(event, ArtifactCreated):
                self.service.owners.add(self.owner, event.artifact.id)
                a = event.artifact
                artifacts.append({"id": a.id, "kind": a.kind, "mime": a.mime,
                                  "field": event.field, "url": self.link(a.id)})

        result = agent.executor.run(plan, inputs, emit)
        if "t1" in result.failures:
            failure = result.failures["t1"]
            return _error(f"error[{failure.code}]: {failure.message}")
        if result.status != "completed" or "t1" not in result.outputs:
            why = result.skip_reasons.get("t1") or result.status
            return _error(f"error[run.{result.status}]: tool {name} did not run ({why}); "
                          f"run id {result.run_id} (mmagent resume {result.run_id})")
        data = result.outputs["t1"]
        texts = [f"{k}: {v}" if len(data) > 1 else str(v) for k, v in data.items()
                 if isinstance(v, (str, int, float, bool))]
        return self._result("\n".join(texts), artifacts, {**data, "artifacts": artifacts})

    # -- media in and out ----------------------------------------------------------------------

    def media(self, value: Any, kind: ArtifactKind, what: str) -> ArtifactRef:
        if not isinstance(value, str) or not value:
            raise InputError(f"got {_short(value)} for {what}; expected a {kind} as "
                             f"{_STDIO_HELP if self.bridge.local_files else _HTTP_HELP}")
        if _HEX64.match(value):
            value = "artifact://" + value
        if self.bridge.local_files and not value.startswith(("data:", "artifact://", "http://",
                                                              "https://")):
            path = Path(value).expanduser()
            if not path.is_file():
                raise InputError(f"got {_short(value)} for {what}; expected an existing {kind} "
                                 "file, a data: URL or an artifact id")
            ref = self.store.put_file(path, kind)
            self.service.owners.add(self.owner, ref.id)
            return ref
        return self.service.media.from_url(value, kind, self.owner, self.own_hosts)

    def _summary_result(self, summary: RunSummary) -> types.CallToolResult:
        structured = {"answer": summary.answer, **summary.extras()}
        result = self._result(summary.answer, summary.artifacts, structured)
        if summary.failures:  # never report as done what failed
            result.is_error = True
        return result

    def _result(self, text: str, artifacts: list[dict[str, Any]], structured: dict[str, Any]
                ) -> types.CallToolResult:
        content: list[Any] = [types.TextContent(text=text)] if text else []
        for a in artifacts:
            ref = self.store.get(a["id"])
            if ref.kind in ("image", "audio") and ref.size_bytes <= _INLINE_MAX_BYTES:
                data = base64.b64encode(self.store.read_bytes(ref)).decode()
                cls = types.ImageContent if ref.kind == "image" else types.AudioContent
                content.append(cls(data=data, mime_type=ref.mime))
            source = f"{a.get('task') or 'the tool'} ({a.get('field')})"
            content.append(types.ResourceLink(uri=a["url"], name=f"{ref.kind}-{ref.id[:12]}",
                                              mime_type=ref.mime, size=ref.size_bytes,
                                              description=f"{ref.kind} from {source}"))
        return types.CallToolResult(content=content, structured_content=_jsonable(structured))


# -- schemas -------------------------------------------------------------------------------------


def tool_input_schema(model: type[BaseModel], media_help: str = _HTTP_HELP) -> dict[str, Any]:
    """The JSON Schema of a tool's ``Input`` with every media port as a string (or a list of
    strings): what an MCP client sends."""
    schema = model.model_json_schema()
    props = schema.setdefault("properties", {})
    for fname, field in model.model_fields.items():
        kind = port_type(field.annotation)
        base = kind[5:-1] if kind.startswith("list[") else kind
        if base not in _MEDIA:
            continue
        desc = f"{field.description} ({base}: {media_help})"
        item = {"type": "string", "contentMediaType": f"{base}/*", "description": desc}
        props[fname] = {"type": "array", "items": item, "description": desc} \
            if kind.startswith("list[") else item
        if not field.is_required():
            props[fname]["default"] = None if field.default is None else field.default
    defs = schema.pop("$defs", {})
    while defs:  # keep only the definitions something still refers to
        text = json.dumps(schema) + json.dumps(list(defs.values()))
        used = {k: v for k, v in defs.items() if f'"#/$defs/{k}"' in text}
        if len(used) == len(defs):
            break
        defs = used
    if defs:
        schema["$defs"] = defs
    schema["type"] = "object"
    return schema


def _run_schema(media_help: str) -> dict[str, Any]:
    def media(kind: str) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "contentMediaType": f"{kind}/*"},
                "default": [],
                "description": f"{kind} inputs, each {media_help}"}

    return {"type": "object", "additionalProperties": False, "required": ["prompt"],
            "properties": {"prompt": {"type": "string", "minLength": 1,
                                      "description": "the request in words"},
                           "images": media("image"), "audio": media("audio"),
                           "video": media("video")}}


_JSON_TYPES = {"text": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


def _workflow_schema(wf: Any, media_help: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for name, inp in wf.inputs.items():
        kind = str(inp.type)
        base = kind[5:-1] if kind.startswith("list[") else kind
        desc = getattr(inp, "description", None) or name
        if base in _MEDIA:
            item: dict[str, Any] = {"type": "string", "contentMediaType": f"{base}/*",
                                    "description": f"{desc} ({media_help})"}
        elif base in _JSON_TYPES:
            item = {"type": _JSON_TYPES[base], "description": desc}
        else:
            item = {"description": desc}
        prop = {"type": "array", "items": item, "description": desc} \
            if kind.startswith("list[") else item
        default = getattr(inp, "default", None)
        if default is not None:
            prop["default"] = default
        if inp.required:
            required.append(name)
        props[name] = prop
    return {"type": "object", "additionalProperties": False, "properties": props,
            "required": required}


# -- helpers -------------------------------------------------------------------------------------


def _error(message: str) -> types.CallToolResult:
    """An error result, scrubbed as every message an HTTP client sees (``for_client``)."""
    return types.CallToolResult(content=[types.TextContent(text=for_client(message))],
                                is_error=True)


def _only(args: dict[str, Any], allowed: set[str], tool: str) -> None:
    extra = sorted(set(args) - allowed)
    if extra:
        raise InputError(f"got argument {extra[0][:64]!r} for {tool}; expected only "
                         f"{sorted(allowed)}", param=extra[0][:64])


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, list):
        if len(value) > 64:
            raise InputError(f"got {len(value)} items for {what}; expected at most 64")
        return value
    return [value]


def _one(refs: list[ArtifactRef], what: str) -> ArtifactRef:
    if len(refs) != 1:
        raise InputError(f"got {len(refs)} items for {what}; expected one")
    return refs[0]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# -- the MCP server and its transports -----------------------------------------------------------


def mcp_server(bridge: McpBridge, keys: KeyRing | None = None) -> Server:
    """A low-level MCP ``Server`` whose tools are ``bridge``'s. Over HTTP, the caller's key
    (already checked by :class:`McpHttpEndpoint`) decides the owner of media and artifacts."""

    async def list_tools(_ctx, _params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await anyio.to_thread.run_sync(bridge.tools))

    def caller(ctx) -> tuple[str, str, set[str]]:
        """Owner, base URL and own host names of a call; AuthError without a valid key."""
        request = getattr(ctx, "request", None)
        if keys is None:
            return ANONYMOUS, "", set()
        if request is None:  # over HTTP: fail closed, never fall back to anonymous
            raise AuthError("got a call without its HTTP request; expected 'Authorization: "
                            "Bearer <key>'")
        owner = keys.owner(request.headers.get("authorization"))
        hosts = {request.headers.get("host", "").lower(), request.url.netloc.lower()} - {""}
        return owner, str(request.base_url).rstrip("/"), hosts

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            owner, base_url, hosts = caller(ctx)
        except AuthError as e:
            return _error(f"error[{e.code}]: {e.message}")
        return await anyio.to_thread.run_sync(
            lambda: bridge.call(params.name, params.arguments, owner, base_url, hosts))

    async def list_resources(_ctx, _params) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[])  # artifacts come as links in results

    async def read_resource(ctx, params: types.ReadResourceRequestParams
                            ) -> types.ReadResourceResult:
        try:
            owner = caller(ctx)[0]
            return await anyio.to_thread.run_sync(lambda: bridge.read(params.uri, owner))
        except MMAgentError as e:
            raise MCPError(_RESOURCE_NOT_FOUND if isinstance(e, InputNotFoundError) else
                           INVALID_PARAMS, for_client(f"error[{e.code}]: {e.message}")) from None

    return Server("mmagent", version="0.1.0", instructions=(
        "mmagent: multimodal model tools, YAML workflows (workflow_*), and the agent (run)."),
        on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
        on_read_resource=read_resource)


class McpHttpEndpoint:
    """ASGI endpoint for ``/mcp`` (Streamable HTTP): checks the API key (401 in OpenAI's error
    shape otherwise), then hands the request to the SDK's session manager, started on first use
    in the serving event loop. Stateless, with JSON responses, so any replica can answer any
    request."""

    def __init__(self, service: ChatService, keys: KeyRing) -> None:
        self.keys = keys
        self.server = mcp_server(McpBridge(service), keys)
        self.manager = StreamableHTTPSessionManager(
            app=self.server, stateless=True, json_response=True,
            max_request_body_size=service.settings.max_body_bytes,
            # the API key guards this endpoint; Host checks would refuse proxied names
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        self._started: anyio.Event | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        try:
            self.keys.owner((headers.get(b"authorization") or b"").decode("latin-1"))
        except AuthError as e:
            body = json.dumps(error_body(e.message, "invalid_request_error", e.code)).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self._ensure_started()
        await self.manager.handle_request(scope, receive, send)

    async def _ensure_started(self) -> None:
        if self._started is None:
            self._started = anyio.Event()
            import asyncio

            self._task = asyncio.get_running_loop().create_task(self._run())
        await self._started.wait()

    async def _run(self) -> None:
        assert self._started is not None
        try:
            async with self.manager.run():
                self._started.set()
                await anyio.sleep_forever()
        finally:  # should the manager fail to start, requests fail (500) instead of waiting
            self._started.set()


def serve_stdio(config: Any = None, profile: str | None = None) -> None:
    """``mmagent mcp``: serve the MCP tools over stdin/stdout until the client closes them."""
    from mcp.server.stdio import stdio_server

    from mmagent.agent import Agent

    service = ChatService(Agent(config, profile=profile))
    server = mcp_server(McpBridge(service, local_files=True))

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
