"""The JSON schema a plan must satisfy, specialised to one request.

Local models decode under this schema, so their output always parses, names only registered
tools, and wires only type-compatible values: the k-th task (id ``t<k>``) may reference request
inputs and the outputs of tasks ``t1..t<k-1>`` of the matching type, which rules out forward
references and cycles by construction. The validator still checks everything (remote models
may ignore the schema).
"""

from __future__ import annotations

from typing import Any

from ..registry import ToolRegistry
from ..tool import port_type
from ..validator import MEDIA_TYPES

__all__ = ["plan_schema"]


def plan_schema(registry: ToolRegistry, inputs: dict[str, str], max_tasks: int = 6,
                tools: list[str] | None = None) -> dict[str, Any]:
    """JSON schema for ``{"tasks": [...]}`` over ``tools`` (default: all registered)."""
    names = tools or registry.names()
    outputs: dict[str, set[str]] = {}  # type -> output field names of any candidate tool
    for n in names:
        for fname, field in registry.tool_class(n).Output.model_fields.items():
            outputs.setdefault(port_type(field.annotation), set()).add(fname)
    positions = []
    for k in range(1, max_tasks + 1):
        variants = [v for n in names if (v := _task_schema(registry, n, k, inputs, outputs))]
        if not variants:
            break
        positions.append({"anyOf": variants} if len(variants) > 1 else variants[0])
    return {
        "type": "object",
        "properties": {
            "tasks": {"type": "array", "prefixItems": positions, "items": False,
                      "minItems": 1, "maxItems": len(positions)},
        },
        "required": ["tasks"],
        "additionalProperties": False,
    }


def _refs(kind: str, k: int, inputs: dict[str, str], outputs: dict[str, set[str]]) -> list[str]:
    refs = [f"$input.{n}" for n, t in inputs.items() if t == kind]
    refs += [f"$t{j}.{f}" for j in range(1, k) for f in sorted(outputs.get(kind, ()))]
    return refs


def _task_schema(registry: ToolRegistry, name: str, k: int, inputs: dict[str, str],
                 outputs: dict[str, set[str]]) -> dict[str, Any] | None:
    model = registry.tool_class(name).Input
    json_props = model.model_json_schema().get("properties", {})
    props: dict[str, Any] = {}
    required: list[str] = []
    for fname, field in model.model_fields.items():
        kind = port_type(field.annotation)
        if kind in MEDIA_TYPES:
            refs = _refs(kind, k, inputs, outputs)
            if not refs:
                if field.is_required():
                    return None  # no value of that type exists yet: the tool cannot go here
                continue
            props[fname] = {"enum": refs}
        elif kind.startswith("list[") and kind[5:-1] in MEDIA_TYPES:
            refs = _refs(kind[5:-1], k, inputs, outputs)
            if not refs:
                if field.is_required():
                    return None
                continue
            props[fname] = {"type": "array", "items": {"enum": refs}, "minItems": 1}
        else:
            literal = _strip(json_props.get(fname, {}))
            refs = _refs(kind, k, inputs, outputs)
            props[fname] = {"anyOf": [{"enum": refs}, literal]} if refs else literal
        if field.is_required():
            required.append(fname)
    return {
        "type": "object",
        "properties": {
            "id": {"const": f"t{k}"},
            "tool": {"const": name},
            "args": {"type": "object", "properties": props, "required": required,
                     "additionalProperties": False},
        },
        "required": ["id", "tool", "args"],
        "additionalProperties": False,
    }


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's pydantic schema without prose and defaults (the grammar needs only shape)."""
    out = {k: v for k, v in schema.items() if k not in ("title", "description", "default")}
    if "anyOf" in out:
        out["anyOf"] = [_strip(s) for s in out["anyOf"]]
    return out or {"type": "string"}
