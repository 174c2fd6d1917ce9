"""What an MCP client sees of mmagent: the tool names and their input schemas.

- each registered tool under its own name, its input schema generated from the tool's pydantic
  ``Input`` model, with every media port a string with ``contentMediaType: image/*`` (audio,
  video; a list of them for ``list[image]`` ...);
- each workflow as ``workflow_<name>``, one property per declared input;
- ``run``: the agent (``prompt`` and optional ``images``/``audio``/``video``).

A media string is a ``data:`` URL, an artifact id (``artifact://<id>`` or the bare 64-hex id of
something uploaded with ``POST /v1/files`` or produced earlier with the same key), a link to
``/v1/artifacts/<id>`` on this server, an allow-listed http(s) URL, or (stdio only, where the
client is the local user) a file path.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from mmagent.serving._protocol import MEDIA_KINDS
from mmagent.toolkit import port_type

__all__ = ["RUN_TOOL", "WORKFLOW_TOOL_PREFIX", "HTTP_MEDIA_HELP", "STDIO_MEDIA_HELP",
           "tool_input_schema", "run_schema", "workflow_schema"]

RUN_TOOL = "run"
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
