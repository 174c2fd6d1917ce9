"""The MCP client: tools of external MCP servers join the registry as planner tools.

``mcp_servers:`` in ``mmagent.yaml`` names servers, each a stdio command (``command``, ``args``,
``env``) or a Streamable HTTP ``url`` (with ``headers``). When an :class:`~mmagent.Agent`
starts, each server is connected once (official ``mcp`` SDK) and each of its tools becomes a
:class:`~mmagent.Tool` named ``<server>_<tool>``, whose card carries the server's
description, so the planner can schedule it like any other tool::

    mcp_servers:
      notes:
        command: python
        args: [notes_server.py]
      search:
        url: https://mcp.example.com/mcp
        headers: {Authorization: "Bearer ${SEARCH_KEY}"}
        media_outputs: [image]

Ports map where they map: JSON Schema ``string`` -> text (with ``contentMediaType: image/...``:
an image port, sent as base64 or a data URL), ``integer``/``number``/``boolean`` -> those,
arrays of them -> ``list[...]``, anything else -> json. Every such tool outputs ``text``
(its text content), the properties of its ``outputSchema`` (from ``structuredContent``), and,
for the kinds listed in ``media_outputs``, ``image``/``audio``: the first image/audio content it
returned, stored as an artifact. A server that is down or whose command fails raises
:class:`McpServerError` naming the server.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import logging
import os
import re
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from mmagent.artifacts._store import ArtifactRef, AudioRef, ImageRef, VideoRef
from mmagent.config._mcp import McpServerConfig
from mmagent.errors import ConfigError, ToolExecutionError, ToolLoadError
from mmagent.toolkit._base import Tool, ToolContext

__all__ = ["McpServerError", "McpConnection", "McpTool", "add_mcp_tools"]

logger = logging.getLogger(__name__)
_NAME_RE = re.compile(r"[^a-z0-9_]+")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class McpServerError(ToolLoadError):
    """An MCP server named in ``mcp_servers`` could not be started, reached or listed."""

    code = "tool.mcp_unavailable"


class McpConnection:
    """One live MCP client session, held by a background event loop thread, callable from any
    thread (the executor's workers)."""

    def __init__(self, name: str, cfg: McpServerConfig) -> None:
        self.name = name
        self.cfg = cfg
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"mcp-{name}")
        self._client: Any = None
        self._stop: asyncio.Event | None = None
        self._holder: Any = None

    def what(self) -> str:
        if self.cfg.url is not None:
            return self.cfg.url
        return " ".join([self.cfg.command or "", *self.cfg.args])[:200]

    def open(self) -> list[Any]:
        """Connect and list the tools (``mcp.types.Tool``); McpServerError if that fails."""
        self._thread.start()
        ready: asyncio.Future = self._loop.create_future()
        self._holder = asyncio.run_coroutine_threadsafe(self._hold(ready), self._loop)
        try:
            tools = asyncio.run_coroutine_threadsafe(_await(ready), self._loop).result(
                timeout=self.cfg.connect_timeout_s)
        except FutureTimeout:
            self.close()
            raise McpServerError(f"mcp_servers.{self.name}: got no answer from {self.what()!r} "
                                 f"within {self.cfg.connect_timeout_s:g} s; expected an MCP "
                                 "server (is it running?)", server=self.name) from None
        except Exception as e:
            self.close()
            raise McpServerError(f"mcp_servers.{self.name}: could not start or reach "
                                 f"{self.what()!r}: {_reason(e)}; expected a running MCP "
                                 "server", server=self.name) from None
        return tools

    async def _hold(self, ready: asyncio.Future) -> None:
        from mcp import Client

        self._stop = asyncio.Event()
        try:
            async with _transport(self.cfg) as transport, \
                    Client(transport, read_timeout_seconds=self.cfg.call_timeout_s) as client:
                self._client = client
                tools = (await client.list_tools()).tools
                ready.set_result(tools)
                await self._stop.wait()
        except BaseException as e:
            if not ready.done():
                ready.set_exception(e if isinstance(e, Exception) else RuntimeError(repr(e)))
            elif not isinstance(e, asyncio.CancelledError):
                logger.warning("MCP server %s closed: %s", self.name, _reason(e))
        finally:
            self._client = None

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """``tools/call`` on the server; the SDK's ``CallToolResult``."""
        if self._client is None:
            raise ToolExecutionError(f"MCP server {self.name!r} is not connected (it closed "
                                     "or was never reached)")
        fut = asyncio.run_coroutine_threadsafe(self._client.call_tool(tool, arguments),
                                               self._loop)
        try:
            return fut.result(timeout=self.cfg.call_timeout_s + 5)
        except FutureTimeout:
            fut.cancel()
            raise ToolExecutionError(f"MCP tool {tool!r} of server {self.name!r} gave no answer "
                                     f"within {self.cfg.call_timeout_s:g} s "
                                     f"(mcp_servers.{self.name}.call_timeout_s)") from None
        except Exception as e:
            raise ToolExecutionError(f"MCP tool {tool!r} of server {self.name!r} failed: "
                                     f"{_reason(e)}") from None

    def close(self) -> None:
        """End the session (a stdio server's process exits) and stop the thread."""
        if not self._thread.is_alive():
            return
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._holder is not None:
            try:
                self._holder.result(timeout=10)
            except Exception:  # already reported, or it did not end in time
                self._holder.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


_OPEN: list[McpConnection] = []


@atexit.register
def _close_all() -> None:
    for conn in list(_OPEN):
        conn.close()


async def _await(fut: asyncio.Future) -> Any:
    return await fut


def _transport(cfg: McpServerConfig):
    from contextlib import asynccontextmanager

    from mcp import StdioServerParameters
    from mcp.client.streamable_http import streamable_http_client

    if cfg.command is not None:
        @asynccontextmanager
        async def stdio():
            yield StdioServerParameters(
                command=cfg.command, args=cfg.args, cwd=cfg.cwd,
                # the SDK merges these over a minimal environment (PATH, HOME, ...): the
                # server does not see our keys unless the config passes them on
                env={k: _expand(v) for k, v in cfg.env.items()} or None)
        return stdio()

    @asynccontextmanager
    async def http():
        import httpx2

        client = httpx2.AsyncClient(headers={k: _expand(v) for k, v in cfg.headers.items()},
                                    timeout=httpx2.Timeout(cfg.call_timeout_s,
                                                           connect=cfg.connect_timeout_s))
        async with client:
            yield streamable_http_client(cfg.url, http_client=client)
    return http()


def _expand(value: str) -> str:
    return _ENV_RE.sub(lambda m: os.environ.get(m.group(1), ""), value)


def _reason(e: BaseException) -> str:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}"[:300] if text else type(e).__name__


# -- tools -----------------------------------------------------------------------------------------


class McpTool(Tool):
    """A tool of an MCP server. Subclasses are made per remote tool by :func:`add_mcp_tools`."""

    category = "utility"
    deterministic = False  # a remote service: its answers are not cached
    remote_name: str = ""
    connection: McpConnection
    media_outputs: tuple[str, ...] = ()
    media_inputs: dict[str, str] = {}
    """Media input ports and how the server takes them: "base64" or "data_url"."""

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        outs = []
        for inp in inputs:
            args = inp.model_dump(mode="json", exclude_none=True)
            for fname, encoding in self.media_inputs.items():
                value = getattr(inp, fname)
                if value is not None:
                    args[fname] = [_encode(ctx, v, encoding) for v in value] \
                        if isinstance(value, list) else _encode(ctx, value, encoding)
            result = self.connection.call(self.remote_name, args)
            texts = [c.text for c in result.content if c.type == "text"]
            if result.is_error:
                raise ToolExecutionError(f"MCP tool {self.remote_name!r} of server "
                                         f"{self.connection.name!r} answered with an error: "
                                         f"{' '.join(texts)[:500] or 'no message'}")
            values: dict[str, Any] = {"text": "\n".join(texts)}
            structured = result.structured_content if isinstance(result.structured_content,
                                                                 dict) else {}
            for fname in self.Output.model_fields:
                if fname in structured and fname not in ("text", "image", "audio"):
                    values[fname] = structured[fname]
            for kind in self.media_outputs:
                part = next((c for c in result.content if c.type == kind), None)
                if part is not None:
                    values[kind] = ctx.store.put_bytes(
                        base64.b64decode(part.data), kind,  # type: ignore[arg-type]
                        source=f"{kind} content of MCP tool {self.remote_name}")
            outs.append(self.Output.model_validate(values))
        return outs


_MEDIA_REFS: dict[str, type[ArtifactRef]] = {"image": ImageRef, "audio": AudioRef,
                                             "video": VideoRef}
_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float,
                               "boolean": bool}


def _annotation(schema: dict[str, Any]) -> Any:
    t = schema.get("type")
    if isinstance(t, list):  # ["string", "null"]
        rest = [x for x in t if x != "null"]
        t = rest[0] if len(rest) == 1 else None
    enum = schema.get("enum")
    if enum and all(isinstance(v, str) for v in enum):
        return Literal[tuple(enum)]  # type: ignore[valid-type]
    media = _MEDIA_REFS.get(str(schema.get("contentMediaType", "")).split("/")[0])
    if t == "string" and media is not None:  # media the server takes as base64 / a data URL
        return media
    if t in _JSON_TYPES:
        return _JSON_TYPES[t]
    if t == "array" and isinstance(schema.get("items"), dict):
        inner = _annotation(schema["items"])
        return list[inner] if inner is not Any else list[Any]
    if t == "object":
        return dict[str, Any]
    return Any


def _encode(ctx: ToolContext, ref: ArtifactRef, encoding: str) -> str:
    data = base64.b64encode(ctx.store.read_bytes(ref)).decode()
    return data if encoding == "base64" else f"data:{ref.mime};base64,{data}"


def _media_inputs(schema: dict[str, Any] | None) -> dict[str, str]:
    """Input properties that carry media: name -> "base64" or "data_url"."""
    out = {}
    for pname, prop in ((schema or {}).get("properties") or {}).items():
        item = prop.get("items", prop) if isinstance(prop, dict) else {}
        if isinstance(item, dict) and str(item.get("contentMediaType", "")).split("/")[0] \
                in _MEDIA_REFS:
            out[pname] = "base64" if item.get("contentEncoding") == "base64" else "data_url"
    return out


def _fields(schema: dict[str, Any] | None, all_optional: bool) -> dict[str, Any]:
    props = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    fields: dict[str, Any] = {}
    for pname, prop in props.items():
        if not isinstance(prop, dict) or not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", pname) \
                or pname.startswith("model_"):
            if pname in required and not all_optional:
                raise ValueError(f"required property {pname[:64]!r} is no plain identifier, so "
                                 "no port can carry it")
            continue
        ann = _annotation(prop)
        desc = (prop.get("description") or prop.get("title") or pname).strip()
        if pname in required and not all_optional:
            fields[pname] = (ann, Field(description=desc))
        else:
            fields[pname] = (ann | None if ann is not Any else Any,
                             Field(prop.get("default"), description=desc))
    return fields


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


def tool_class(conn: McpConnection, remote: Any, name: str) -> type[McpTool]:
    """A :class:`McpTool` subclass for one remote tool (``mcp.types.Tool``)."""
    cfg = conn.cfg
    Input = create_model(f"{name}_Input", __base__=_Forbid,
                         **_fields(remote.input_schema, all_optional=False))
    out_fields = {k: v for k, v in _fields(remote.output_schema, all_optional=True).items()
                  if k not in ("text", "image", "audio")}
    out_fields["text"] = (str, Field("", description="the text the tool answered"))
    if "image" in cfg.media_outputs:
        out_fields["image"] = (ImageRef | None, Field(None, description="the first image the "
                                                      "tool returned"))
    if "audio" in cfg.media_outputs:
        out_fields["audio"] = (AudioRef | None, Field(None, description="the first audio clip "
                                                      "the tool returned"))
    Output = create_model(f"{name}_Output", __base__=_Forbid, **out_fields)
    description = (remote.description or remote.title or remote.name).strip()
    return type(f"Mcp_{name}", (McpTool,), {
        "name": name, "description": f"{description} (MCP server {conn.name})",
        "Input": Input, "Output": Output, "remote_name": remote.name, "connection": conn,
        "media_outputs": tuple(cfg.media_outputs),
        "media_inputs": {k: v for k, v in _media_inputs(remote.input_schema).items()
                         if k in Input.model_fields}, "__module__": __name__})


def add_mcp_tools(registry: Any, servers: dict[str, McpServerConfig]) -> list[McpConnection]:
    """Connect to each server and register its tools as ``<server>_<tool>``; raises
    :class:`McpServerError` naming the first server that cannot be reached."""
    conns = []
    for server, cfg in servers.items():
        conn = McpConnection(server, cfg)
        tools = conn.open()
        _OPEN.append(conn)
        conns.append(conn)
        for remote in tools:
            if cfg.tools is not None and remote.name not in cfg.tools:
                continue
            name = _NAME_RE.sub("_", f"{server}_{remote.name}".lower()).strip("_")
            if not re.match(r"^[a-z]", name):
                name = "mcp_" + name
            if name in registry:
                conn.close()
                raise ConfigError(f"mcp_servers.{server}: got tool {remote.name!r}, named "
                                  f"{name!r} here, which is already a registered tool; expected "
                                  f"distinct names (rename the server or list its tools)",
                                  key=f"mcp_servers.{server}")
            try:
                cls = tool_class(conn, remote, name)
            except (TypeError, ValueError, NameError) as e:  # like a broken plug-in: skip it
                logger.warning("skipping tool %s of MCP server %s: %s", remote.name, server, e)
                continue
            registry.register(cls)
        logger.info("MCP server %s: %d tools", server, len(tools))
    return conns
