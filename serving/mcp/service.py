"""The MCP server: every tool, every workflow and the agent itself as MCP tools.

Two transports, one :class:`McpBridge`: ``mmagent mcp`` speaks stdio (a local client starts it
as a subprocess, :func:`serve_stdio`), and ``mmagent serve`` answers Streamable HTTP at
``/mcp`` behind the server's API keys (``routes.py``). Built on the official ``mcp`` SDK's
low-level ``Server``; the tools and their schemas are in ``protocol.py``.

Produced images and audio come back as MCP image/audio content, and every artifact as a
resource link (``/v1/artifacts/<id>`` over HTTP, a ``file://`` URI over stdio);
``structured_content`` carries the JSON result.

A call whose run pauses for approval records it as a paused run of the runs API and asks the
client, when it declared form elicitation: "Approve <tool> for <step>?", as an
``input_required`` result the client answers by retrying the call (protocol 2026-07-28 and
later, stateless HTTP included) or as an ``elicitation/create`` request within the call
(earlier versions, where the transport has a way back). Accepted, the run goes on and the call
returns its finished result; declined or cancelled, the run is cancelled. A client that cannot
be asked gets a result naming the run (``run_id``) and the ``approve`` tool, which answers it
the same way.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INVALID_PARAMS
from mcp_types.version import is_version_at_least

from mmagent._messages import for_client
from mmagent.artifacts import ArtifactKind, ArtifactRef
from mmagent.errors import InputError, InputNotFoundError, MMAgentError, RunError, UnknownToolError
from mmagent.events import ArtifactCreated, PlanCreated, TaskFailed, TaskFinished, TaskProgress
from mmagent.serving._agent import AgentService, ParsedRequest, RunSummary, paused_text
from mmagent.serving._auth import ANONYMOUS
from mmagent.serving._http_errors import AuthError
from mmagent.serving._protocol import MEDIA_FIELDS, MEDIA_KINDS
from mmagent.serving._request_media import ARTIFACT_PATH_RE
from mmagent.serving.mcp.protocol import (
    APPROVAL_QUESTION,
    APPROVE_TOOL,
    HTTP_MEDIA_HELP,
    RUN_TOOL,
    STDIO_MEDIA_HELP,
    WORKFLOW_TOOL_PREFIX,
    agent_annotations,
    approve_annotations,
    approve_schema,
    run_schema,
    summary_output_schema,
    tool_annotations,
    tool_input_schema,
    tool_output_schema,
    tool_title,
    workflow_annotations,
    workflow_schema,
)
from mmagent.toolkit import port_type

__all__ = ["McpBridge", "Caller", "Paused", "Report", "mcp_server", "serve_stdio"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_RESOURCE_NOT_FOUND = -32002  # MCP's code for resources/read of an unknown resource
_INLINE_MAX_BYTES = 4 * 1024 * 1024
"""Images and audio up to this size also come inline (image/audio content); all as links."""
Report = Callable[[float, "float | None", str], None]
"""(progress, total, message) -> sends an MCP progress notification."""
Caller = Callable[[Any], tuple[str, str, set[str]]]
"""A request's context -> its owner, base URL and own host names (AuthError to refuse it)."""


@dataclass
class Paused:
    """A call whose run paused for approval: its runs API run, the tasks waiting, and the
    result a client that cannot be asked gets (it names the run and the ``approve`` tool)."""

    run_id: str
    waiting: list[dict[str, Any]]
    result: types.CallToolResult

    def question(self) -> str:
        steps = ", ".join(f"{t['tool']} for {t['task_id']}" for t in self.waiting)
        return f"Approve {steps}? (run {self.run_id}; declining cancels the run)"


class McpBridge:
    """MCP tool listings and calls over an :class:`AgentService` (transport-free, synchronous).

    ``local_files``: media strings may be file paths and artifacts come back as ``file://``
    links (stdio: the client is the local user). Otherwise links point at the HTTP server.
    """

    def __init__(self, shared: AgentService, *, local_files: bool = False) -> None:
        self.shared = shared
        self.agent = shared.agent
        self.local_files = local_files

    # -- listing -------------------------------------------------------------------------------

    def tools(self) -> list[types.Tool]:
        help_ = STDIO_MEDIA_HELP if self.local_files else HTTP_MEDIA_HELP
        out = [types.Tool(name=RUN_TOOL, title="Ask the mmagent agent", description=(
            "Ask the mmagent agent: an LLM plans the request over the given media, runs the "
            "plan on model tools, and answers with text and the artifacts it produced."),
            input_schema=run_schema(help_), output_schema=summary_output_schema(),
            annotations=agent_annotations(self.agent.registry))]
        if self.shared.pauses is not None:
            out.append(types.Tool(name=APPROVE_TOOL, title="Approve a paused run", description=(
                "Approve (or reject) the steps a paused run waits for, by the run id a paused "
                "result names; approved, the run goes on and this answers its finished "
                "result; rejected, the run is cancelled."),
                input_schema=approve_schema(), output_schema=summary_output_schema(),
                annotations=approve_annotations()))
        for name in self.shared.workflow_names():
            try:
                wf = self.shared.workflow(name)
            except MMAgentError as e:  # one broken file must not hide every tool
                logger.warning("not listing workflow %s over MCP: %s", name, e)
                continue
            out.append(types.Tool(name=WORKFLOW_TOOL_PREFIX + name, title=f"Workflow {name}",
                                  description=f"Workflow {name}: {wf.description}".strip(),
                                  input_schema=workflow_schema(wf, help_),
                                  output_schema=summary_output_schema(),
                                  annotations=workflow_annotations(wf, self.agent.registry)))
        for name in self.agent.registry.names():
            cls = self.agent.registry.tool_class(name)
            out.append(types.Tool(name=name, title=tool_title(name),
                                  description=cls.description,
                                  input_schema=tool_input_schema(cls.Input, help_),
                                  output_schema=tool_output_schema(cls.Output),
                                  annotations=tool_annotations(cls)))
        return out

    # -- calls ---------------------------------------------------------------------------------

    def call(self, name: str, arguments: dict[str, Any] | None, owner: str = ANONYMOUS,
             base_url: str = "", own_hosts: set[str] | None = None, *,
             progress: Report | None = None, cancel: threading.Event | None = None
             ) -> types.CallToolResult | Paused:
        """Run one MCP tool call; every error comes back as an ``is_error`` result, a run
        that pauses for approval as :class:`Paused`. ``progress`` hears how far it got (from
        the tasks' ``task_progress`` events); setting ``cancel`` (the client cancelled the
        call) stops it from starting tasks."""
        args = dict(arguments or {})
        ctx = _Call(self, owner, base_url, own_hosts or set(), _Progress(progress), cancel)
        try:
            if name == RUN_TOOL:
                return ctx.run(args)
            if name == APPROVE_TOOL and self.shared.pauses is not None:
                return ctx.approve_tool(args)
            if name.startswith(WORKFLOW_TOOL_PREFIX) and \
                    name[len(WORKFLOW_TOOL_PREFIX):] in self.shared.workflow_names():
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

    def resume(self, name: str, run_id: str, approve: bool, owner: str = ANONYMOUS,
               base_url: str = "", *, cancel: threading.Event | None = None
               ) -> types.CallToolResult | Paused:
        """The answer to a call of ``name`` whose run ``run_id`` paused: approved, the run
        goes on and this is its result once it stops; rejected, the run is cancelled."""
        ctx = _Call(self, owner, base_url, set(), _Progress(None), cancel)
        try:
            return ctx.decide(run_id, approve, name if name in self.agent.registry else None)
        except MMAgentError as e:
            return _error(f"error[{e.code}]: {e.message}")
        except Exception as e:  # a bad call never takes the server down
            logger.exception("MCP approval of %s failed", run_id)
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
        ref = self.shared.media.artifact(artifact_id, None, owner)
        blob = base64.b64encode(self.agent.store.read_bytes(ref)).decode()
        return types.ReadResourceResult(contents=[types.BlobResourceContents(
            uri=uri, mime_type=ref.mime, blob=blob)])


class _Call:
    """One call's owner, links and media resolution."""

    def __init__(self, bridge: McpBridge, owner: str, base_url: str, own_hosts: set[str],
                 progress: _Progress, cancel: threading.Event | None) -> None:
        self.progress = progress
        self.cancel = cancel
        self.bridge = bridge
        self.shared = bridge.shared
        self.store = bridge.agent.store
        self.owner = owner
        self.own_hosts = own_hosts
        self.base_url = bridge.shared.settings.public_url or base_url
        self.link: Callable[[str], str] = (self._file_link if bridge.local_files
                                           else self.shared.linker(base_url))

    def _file_link(self, artifact_id: str) -> str:
        return self.store.path(self.store.get(artifact_id)).resolve().as_uri()

    # -- the three kinds of tool ---------------------------------------------------------------

    def run(self, args: dict[str, Any]) -> types.CallToolResult | Paused:
        _only(args, {"prompt", "images", "audio", "video"}, RUN_TOOL)
        prompt = args.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError(f"got {_short(prompt)} for prompt; expected the request in words")
        parsed = ParsedRequest(prompt=prompt)
        for key, kind in MEDIA_FIELDS:
            parsed.media[kind] = [self.media(v, kind, f"{key}[{i}]")
                                  for i, v in enumerate(_as_list(args.get(key, []), key))]
        pause: dict[str, Any] = {}
        summary = self.shared.summarize(self.progress.tap(self.shared.events(
            None, parsed, self.owner, self.cancel,
            on_paused=lambda rid, w: pause.update(run_id=rid, waiting=w))), self.link)
        return self._summary_result(summary, **pause)

    def workflow(self, name: str, args: dict[str, Any]) -> types.CallToolResult | Paused:
        spec = self.shared.workflow(name)
        _only(args, set(spec.inputs), WORKFLOW_TOOL_PREFIX + name)
        values: dict[str, Any] = {}
        for key, value in args.items():
            kind = str(spec.inputs[key].type)
            base = kind[5:-1] if kind.startswith("list[") else kind
            if base in MEDIA_KINDS:
                refs = [self.media(v, base, f"{key}[{i}]") for i, v in
                        enumerate(_as_list(value, key))]
                values[key] = refs if kind.startswith("list[") else _one(refs, key)
            else:
                values[key] = value
        pause: dict[str, Any] = {}
        summary = self.shared.summarize(self.progress.tap(self.shared.workflow_events(
            name, values, self.owner,
            on_paused=lambda rid, w: pause.update(run_id=rid, waiting=w))), self.link)
        return self._summary_result(summary, **pause)

    def tool(self, name: str, args: dict[str, Any]) -> types.CallToolResult | Paused:
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
            if base in MEDIA_KINDS and args.get(fname) is not None:
                refs = []
                for i, v in enumerate(_as_list(args[fname], fname)):
                    inputs[f"{fname}{i}"] = self.media(v, base, f"{fname}[{i}]")
                    refs.append(f"$input.{fname}{i}")
                args[fname] = refs if kind.startswith("list[") else _one(refs, fname)
        plan = Plan.model_validate({"tasks": [{"id": "t1", "tool": name, "args": args}]})
        artifacts: list[dict[str, Any]] = []

        self.progress.total = 1

        def emit(event: Any) -> None:
            self.progress(event)
            if isinstance(event, ArtifactCreated):
                self.shared.owners.add(self.owner, event.artifact.id)
                a = event.artifact
                artifacts.append({"id": a.id, "kind": a.kind, "mime": a.mime,
                                  "field": event.field, "url": self.link(a.id)})

        result = agent.executor.run(plan, inputs, emit, cancel=self.cancel)
        if "t1" in result.failures:
            failure = result.failures["t1"]
            return _error(f"error[{failure.code}]: {failure.message}")
        if result.status == "awaiting_approval" and self.shared.pauses is not None:
            assert result.pending_approval is not None  # set with the status
            waiting = result.pending_approval.tasks
            run_id = self.shared.pauses.adopt(
                self.owner, {"prompt": f"MCP call of tool {name}"}, result.run_id, waiting,
                RunSummary(plan=plan.model_dump(mode="json")))
            return Paused(run_id, waiting, _error(
                f"error[run.awaiting_approval]: {self._waits(run_id, waiting)}"))
        if result.status != "completed" or "t1" not in result.outputs:
            why = result.skip_reasons.get("t1") or result.status
            return _error(f"error[run.{result.status}]: tool {name} did not run ({why}); "
                          f"run id {result.run_id} (mmagent resume {result.run_id})")
        data = result.outputs["t1"]
        texts = [f"{k}: {v}" if len(data) > 1 else str(v) for k, v in data.items()
                 if isinstance(v, (str, int, float, bool))]
        return self._result("\n".join(texts), artifacts, {**data, "artifacts": artifacts})

    # -- approvals -----------------------------------------------------------------------------

    def approve_tool(self, args: dict[str, Any]) -> types.CallToolResult | Paused:
        _only(args, {"run_id", "approve"}, APPROVE_TOOL)
        run_id, approve = args.get("run_id"), args.get("approve", True)
        if not isinstance(run_id, str) or not run_id:
            raise InputError(f"got {_short(run_id)} for run_id; expected the id of a paused "
                             "run (a paused result names it)", param="run_id")
        if not isinstance(approve, bool):
            raise InputError(f"got {_short(approve)} for approve; expected true or false",
                             param="approve")
        return self.decide(run_id, approve, None)

    def decide(self, run_id: str, approve: bool, tool: str | None
               ) -> types.CallToolResult | Paused:
        """The runs API answers the paused run; its result as the call's: a tool's output
        for a call of ``tool``, else the run's summary."""
        assert self.shared.pauses is not None  # a run paused only where they are kept
        info = self.shared.pauses.decide(run_id, self.owner, approve, self.base_url,
                                            self.cancel)
        summary = RunSummary.of_run(info)
        for a in summary.artifacts:
            a["url"] = self.link(a["id"])
        if info.status == "awaiting_approval":  # approved, it went on and waits again
            waiting = info.pending_approval or []
            return self._summary_result(summary, run_id=run_id, waiting=waiting) \
                if tool is None else Paused(run_id, waiting, _error(
                    f"error[run.awaiting_approval]: {self._waits(run_id, waiting)}"))
        if info.status == "cancelled":
            return _error(f"error[run.cancelled]: run {run_id} was cancelled "
                          f"({'by its client' if approve else 'not approved'}); the steps it "
                          "waited for did not run")
        if info.status not in ("completed", "failed"):
            raise RunError(f"got run {run_id} {info.status} when the call ended; expected it "
                           f"to finish (follow it with GET /v1/runs/{run_id})", run_id=run_id)
        if tool is not None and info.status == "completed" and "t1" in info.outputs:
            data = info.outputs["t1"]
            texts = [f"{k}: {v}" if len(data) > 1 else str(v) for k, v in data.items()
                     if isinstance(v, (str, int, float, bool))]
            return self._result("\n".join(texts), summary.artifacts,
                                {**data, "artifacts": summary.artifacts})
        return self._summary_result(summary)

    def _waits(self, run_id: str, waiting: list[dict[str, Any]]) -> str:
        return (f"{paused_text(run_id, waiting, self.base_url)} Over MCP: call the tool "
                f"{APPROVE_TOOL!r} with {{\"run_id\": \"{run_id}\", \"approve\": true}} "
                "(false rejects it and cancels the run).")

    # -- media in and out ----------------------------------------------------------------------

    def media(self, value: Any, kind: ArtifactKind, what: str) -> ArtifactRef:
        if not isinstance(value, str) or not value:
            raise InputError(f"got {_short(value)} for {what}; expected a {kind} as "
                             f"{STDIO_MEDIA_HELP if self.bridge.local_files else HTTP_MEDIA_HELP}")
        if _HEX64.match(value):
            value = "artifact://" + value
        if self.bridge.local_files and not value.startswith(("data:", "artifact://", "http://",
                                                              "https://")):
            path = Path(value).expanduser()
            if not path.is_file():
                raise InputError(f"got {_short(value)} for {what}; expected an existing {kind} "
                                 "file, a data: URL or an artifact id")
            ref = self.store.put_file(path, kind)
            self.shared.owners.add(self.owner, ref.id)
            return ref
        return self.shared.media.from_url(value, kind, self.owner, self.own_hosts)

    def _summary_result(self, summary: RunSummary, run_id: str | None = None,
                        waiting: list[dict[str, Any]] | None = None
                        ) -> types.CallToolResult | Paused:
        """The result of a run; a :class:`Paused` one (``run_id`` paused, ``waiting``)."""
        answer = summary.answer
        if run_id is not None:
            answer = self._waits(run_id, waiting or [])
        structured = {"answer": answer, **summary.extras()}
        if run_id is not None:
            structured.update(status="awaiting_approval", run_id=run_id,
                              pending_approval=waiting)
        result = self._result(answer, summary.artifacts, structured)
        if summary.failures:  # never report as done what failed
            result.is_error = True
        return result if run_id is None else Paused(run_id, waiting or [], result)

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


class _Progress:
    """A call's events -> MCP progress: tasks done plus the running task's fraction, out of
    the plan's tasks, never going back (MCP's progress only grows)."""

    def __init__(self, report: Report | None) -> None:
        self.report = report
        self.total: float | None = None
        self.done = 0
        self.last = 0.0

    def tap(self, events: Iterable[Any]) -> Iterator[Any]:
        for event in events:
            self(event)
            yield event

    def __call__(self, event: Any) -> None:
        if self.report is None:
            return
        if isinstance(event, PlanCreated):
            self.total = float(len(event.plan.tasks))
            return
        if isinstance(event, TaskProgress):
            value = self.done + min(event.step / max(event.total, 1), 1.0) * 0.99
            message = f"{event.task_id}: {event.message or f'step {event.step}/{event.total}'}"
        elif isinstance(event, (TaskFinished, TaskFailed)):
            self.done += 1
            value = float(self.done)
            message = f"{event.task_id} ({event.tool}) " + (
                "done" if isinstance(event, TaskFinished) else "failed")
        else:
            return
        if value > self.last:
            self.last = value
            try:
                self.report(value, self.total, message)
            except Exception:  # a client gone away must not fail the run
                logger.debug("progress notification not sent", exc_info=True)


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


def _one(refs: list[_T], what: str) -> _T:
    if len(refs) != 1:
        raise InputError(f"got {len(refs)} items for {what}; expected one")
    return refs[0]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _anonymous(_ctx: Any) -> tuple[str, str, set[str]]:
    return ANONYMOUS, "", set()


# -- the MCP server and stdio --------------------------------------------------------------------


def mcp_server(bridge: McpBridge, caller: Caller | None = None) -> Server:
    """A low-level MCP ``Server`` whose tools are ``bridge``'s. ``caller`` says whose a call
    is (over HTTP: the owner of its API key); without it, every call is anonymous (stdio)."""
    caller = caller or _anonymous

    async def list_tools(_ctx, _params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await anyio.to_thread.run_sync(bridge.tools))

    async def call_tool(ctx, params: types.CallToolRequestParams
                        ) -> types.CallToolResult | types.InputRequiredResult:
        try:
            owner, base_url, hosts = caller(ctx)
        except AuthError as e:
            return _error(f"error[{e.code}]: {e.message}")
        cancel = threading.Event()
        loop = anyio.lowlevel.current_token()  # tasks report from the executor's threads

        def report(progress: float, total: float | None, message: str) -> None:
            anyio.from_thread.run(ctx.session.report_progress, progress, total, message,
                                  token=loop)

        async def resume(run_id: str, approve: bool) -> types.CallToolResult | Paused:
            return await anyio.to_thread.run_sync(
                lambda: bridge.resume(params.name, run_id, approve, owner, base_url,
                                      cancel=cancel), abandon_on_cancel=True)

        try:
            answered = _answered(params)
            if answered is not None:  # the client's retry with the answer it was asked for
                outcome = await resume(*answered)
            else:
                outcome = await anyio.to_thread.run_sync(
                    lambda: bridge.call(params.name, params.arguments, owner, base_url, hosts,
                                        progress=report, cancel=cancel), abandon_on_cancel=True)
            return await _settle(ctx, outcome, resume)
        except anyio.get_cancelled_exc_class():  # the client cancelled: no new task starts
            cancel.set()
            raise

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


async def _settle(ctx: Any, outcome: types.CallToolResult | Paused,
                  resume: Callable[[str, bool], Awaitable[types.CallToolResult | Paused]]
                  ) -> types.CallToolResult | types.InputRequiredResult:
    """A call's result once no approval is pending: each pause is asked the way the client
    supports (elicitation in the result or at once), or answered with a result naming the run
    and the ``approve`` tool."""
    while isinstance(outcome, Paused):
        way = _asking(ctx)
        if way == "input_required":  # 2026-07-28+: the client retries with the answer
            return _ask_in_result(outcome)
        if way != "request":  # the result names the run and the approve tool
            return outcome.result
        approve = await _ask_now(ctx, outcome)
        if approve is None:  # no answer came: the client approves it later
            return outcome.result
        outcome = await resume(outcome.run_id, approve)
    return outcome


_ANSWER_KEY = "approval"
"""The key of the approval question in an ``input_required`` result and its answer."""


def _asking(ctx: Any) -> str | None:
    """How this call may ask its client for an approval: ``"input_required"`` (2026-07-28 and
    later: the result asks, the client retries with the answer), ``"request"`` (earlier
    versions: an ``elicitation/create`` request on the call's own channel), or None (the
    client declared no form elicitation, or this transport has no way back to it)."""
    caps = ctx.session.client_capabilities
    asked = caps.elicitation if caps is not None else None
    if asked is None or (asked.form is None and asked.url is not None):  # url-only: no form
        return None
    if is_version_at_least(ctx.protocol_version, "2026-07-28"):
        return "input_required"
    return "request" if ctx.session.can_send_request else None


def _ask_in_result(paused: Paused) -> types.InputRequiredResult:
    """The question as an ``input_required`` result. Its state is the run id only, in the
    clear: any instance reads it, and an answer counts only for the run's own API key."""
    question = types.ElicitRequest(params=types.ElicitRequestFormParams(
        message=paused.question(), requested_schema=APPROVAL_QUESTION))
    return types.InputRequiredResult(input_requests={_ANSWER_KEY: question},
                                     request_state=json.dumps({"run_id": paused.run_id}))


def _answered(params: types.CallToolRequestParams) -> tuple[str, bool] | None:
    """(run id, approved?) from a retry that answers :func:`_ask_in_result`; None for a first
    call. A retry without a usable answer counts as declined: the run is never run unasked."""
    if params.request_state is None:
        return None
    try:
        run_id = json.loads(params.request_state)["run_id"]
    except (ValueError, KeyError, TypeError):
        raise MCPError(INVALID_PARAMS, "got a requestState this server did not send; "
                       "expected the one of its input_required result") from None
    if not isinstance(run_id, str):
        raise MCPError(INVALID_PARAMS, "got a requestState without a run id; expected the "
                       "one of this server's input_required result")
    answer = (params.input_responses or {}).get(_ANSWER_KEY)
    return run_id, isinstance(answer, types.ElicitResult) and _approves(answer)


async def _ask_now(ctx: Any, paused: Paused) -> bool | None:
    """Ask by an ``elicitation/create`` request; None if the client gave no answer."""
    try:
        answer = await ctx.session.elicit_form(paused.question(), APPROVAL_QUESTION,
                                               related_request_id=ctx.request_id)
    except Exception:  # no way back after all, or the client failed: it approves later
        logger.warning("could not ask the MCP client to approve run %s", paused.run_id,
                       exc_info=True)
        return None
    return _approves(answer)


def _approves(answer: types.ElicitResult) -> bool:
    return answer.action == "accept" and (answer.content or {}).get("approve", True) is not False


def serve_stdio(config: Any = None, profile: str | None = None) -> None:
    """``mmagent mcp``: serve the MCP tools over stdin/stdout until the client closes them."""
    from mcp.server.stdio import stdio_server

    from mmagent.agent import Agent
    from mmagent.runs import RunQueue
    from mmagent.serving.runs.service import RunService
    from mmagent.stores import state_database

    shared = AgentService(Agent(config, profile=profile), remote=False)
    # paused runs wait in the runs queue, to be answered by elicitation or the approve tool
    RunService(shared, RunQueue(state_database(shared.agent.config)))
    server = mcp_server(McpBridge(shared, local_files=True))

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
