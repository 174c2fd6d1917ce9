"""What an MCP client sees of mmagent: the tool names, titles, annotations, and their input
and output schemas.

- each registered tool under its own name, its input schema generated from the tool's pydantic
  ``Input`` model, with every media port a string with ``contentMediaType: image/*`` (audio,
  video; a list of them for ``list[image]`` ...);
- each workflow as ``workflow_<name>``, one property per declared input;
- ``run``: the agent (``prompt`` and optional ``images``/``audio``/``video``);
- ``approve``: the answer to a run paused for approval (``run_id``, ``approve``), for clients
  that cannot be asked (no elicitation); those that can are asked "Approve <tool> for <step>?"
  (``APPROVAL_QUESTION``) within the call.

A media string is a ``data:`` URL, an artifact id (``artifact://<id>`` or the bare 64-hex id of
something uploaded with ``POST /v1/files`` or produced earlier with the same key), a link to
``/v1/artifacts/<id>`` on this server, an allow-listed http(s) URL, or (stdio only, where the
client is the local user) a file path.

Every tool declares the ``structured_content`` it returns (``outputSchema``: a tool's
``Output`` model plus ``artifacts``; the agent's and workflows' answer, plan, outputs, failures
and artifacts), a ``title``, and annotations: ``readOnlyHint`` when it stores nothing (no
media out), ``destructiveHint`` false (artifacts are only ever added), ``idempotentHint`` for
deterministic tools, ``openWorldHint`` when a remote MCP server's tool may run.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from pydantic import BaseModel

from mmagent.serving._protocol import MEDIA_KINDS
from mmagent.toolkit import McpTool, Tool, ToolRegistry, port_type

__all__ = ["RUN_TOOL", "APPROVE_TOOL", "APPROVAL_QUESTION", "WORKFLOW_TOOL_PREFIX",
           "HTTP_MEDIA_HELP", "STDIO_MEDIA_HELP",
           "tool_input_schema", "run_schema", "workflow_schema", "tool_output_schema",
           "summary_output_schema", "tool_title", "tool_annotations", "agent_annotations",
           "workflow_annotations", "approve_schema", "approve_annotations"]

RUN_TOOL = "run"
APPROVE_TOOL = "approve"
APPROVAL_QUESTION: dict[str, Any] = {
    "type": "object", "properties": {"approve": {
        "type": "boolean", "title": "Approve", "default": True,
        "description": "run the steps (false, or declining, cancels the run)"}}}
"""The form of an approval asked by elicitation: accepting it approves (unless ``approve`` is
false); declining or cancelling it cancels the run."""
WORKFLOW_TOOL_PREFIX = "workflow_"
HTTP_MEDIA_HELP = ("a data: URL, an artifact id (artifact://<id> or the bare id from "
                   "POST /v1/files), or a link to /v1/artifacts/<id>")
STDIO_MEDIA_HELP = "a file path, a data: URL, or an artifact id (artifact://<id>)"


def tool_input_schema(model: type[BaseModel], media_help: str = HTTP_MEDIA_HELP
                      ) -> dict[str, Any]:
    """The JSON Schema of a tool's ``Input`` with every media port as a string (or a list of
    strings): what an MCP client sends."""
    schema = model.model_json_schema()
    props = schema.setdefault("properties", {})
    for fname, field in model.model_fields.items():
        kind = port_type(field.annotation)
        base = kind[5:-1] if kind.startswith("list[") else kind
        if base not in MEDIA_KINDS:
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


_ARTIFACTS = {"type": "array", "description": "what the call produced, with download links",
              "items": {"type": "object", "properties": {
                  "id": {"type": "string"}, "kind": {"type": "string"},
                  "mime": {"type": "string"}, "url": {"type": "string"}},
                  "required": ["id", "kind", "mime", "url"]}}


def tool_output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a tool call's ``structured_content``: its ``Output``, and the
    artifacts it produced."""
    schema = model.model_json_schema(mode="serialization")
    schema["type"] = "object"
    schema.setdefault("properties", {})["artifacts"] = _ARTIFACTS
    schema["required"] = [*schema.get("required", []), "artifacts"]
    return schema


def summary_output_schema() -> dict[str, Any]:
    """The ``structured_content`` of ``run`` and ``workflow_*`` calls."""
    return {"type": "object", "required": ["answer", "outputs", "failures", "artifacts"],
            "properties": {
                "answer": {"type": "string", "description": "the answer in words, with links"},
                "plan": {"type": ["object", "null"], "description": "the plan that ran"},
                "outputs": {"type": "object", "description": "each task's output, by id"},
                "failures": {"type": "object", "description": "each failed task's error"},
                "artifacts": _ARTIFACTS,
                "status": {"type": "string", "description": "awaiting_approval when paused"},
                "run_id": {"type": "string",
                           "description": "the paused run, for the approve tool"},
                "pending_approval": {"type": "array", "items": {"type": "object"},
                                     "description": "the steps the paused run waits for"}}}


def approve_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["run_id"],
            "properties": {
                "run_id": {"type": "string", "minLength": 1,
                           "description": "the paused run's id, as the paused result names it"},
                "approve": {"type": "boolean", "default": True,
                            "description": "true runs the steps it waits for; false cancels "
                                           "the run"}}}


def approve_annotations() -> types.ToolAnnotations:
    return types.ToolAnnotations(title="Approve a paused run", read_only_hint=False,
                                 destructive_hint=False, idempotent_hint=True,
                                 open_world_hint=False)


def tool_title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _remote(cls: type[Tool]) -> bool:
    return issubclass(cls, McpTool)


def tool_annotations(cls: type[Tool]) -> types.ToolAnnotations:
    media_out = any(port_type(f.annotation).removeprefix("list[").rstrip("]") in MEDIA_KINDS
                    for f in cls.Output.model_fields.values())
    return types.ToolAnnotations(title=tool_title(cls.name), read_only_hint=not media_out,
                                 destructive_hint=False, idempotent_hint=cls.deterministic,
                                 open_world_hint=_remote(cls))


def agent_annotations(registry: ToolRegistry) -> types.ToolAnnotations:
    return types.ToolAnnotations(
        title="Ask the mmagent agent", read_only_hint=False, destructive_hint=False,
        idempotent_hint=False,
        open_world_hint=any(_remote(registry.tool_class(n)) for n in registry.names()))


def workflow_annotations(wf: Any, registry: ToolRegistry) -> types.ToolAnnotations:
    tools = [registry.tool_class(t) for n in wf.nodes.values()
             if isinstance(t := getattr(n, "tool", None), str) and t in registry]
    return types.ToolAnnotations(
        title=f"Workflow {wf.name or ''}".strip(), read_only_hint=False,
        destructive_hint=False, idempotent_hint=all(c.deterministic for c in tools),
        open_world_hint=any(_remote(c) for c in tools))


def run_schema(media_help: str) -> dict[str, Any]:
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


def workflow_schema(wf: Any, media_help: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for name, inp in wf.inputs.items():
        kind = str(inp.type)
        base = kind[5:-1] if kind.startswith("list[") else kind
        desc = getattr(inp, "description", None) or name
        if base in MEDIA_KINDS:
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
