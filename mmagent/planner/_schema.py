"""The JSON schema a plan must satisfy, specialised to one request.

Local models decode under this schema, so their output always parses, names only registered
tools, and wires only type-compatible values: the k-th task (id ``t<k>``) may reference request
inputs and the outputs of tasks ``t1..t<k-1>`` of the matching type, which rules out forward
references and cycles by construction. The validator still checks everything (remote models
may ignore the schema).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from mmagent.plan._ir import ResultKind
from mmagent.plan._validator import MEDIA_TYPES
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["plan_schema", "deliver_schema", "produces", "MAX_LITERAL"]

KINDS: tuple[str, ...] = typing.get_args(ResultKind)
MAX_LITERAL = 240
"""Longest literal string the schema lets a model write into a plan."""


def plan_schema(registry: ToolRegistry, inputs: dict[str, str], max_tasks: int = 6,
                tools: list[str] | None = None, optional_args: bool = True,
                inputs_first: bool = False, deliver: list[str] | None = None,
                start: int = 1, given: dict[str, str] | None = None) -> dict[str, Any]:
    """JSON schema for ``{"deliver": [...], "tasks": [...]}`` over ``tools`` (default: all).

    With ``optional_args=False`` only required arguments are offered (defaults apply). With
    ``inputs_first=True`` and media inputs present, the first task must consume one of them:
    a small model otherwise tends to start from a tool that ignores what the user gave.
    With ``deliver`` given (decided in an earlier call), it is fixed, and when it names media
    kinds the plan's last task must produce one of them.

    A re-plan continues a plan: its tasks are numbered from ``t<start>``, and ``given`` maps
    references to results that exist already (``{"$t1.text": "text"}``) to their types.
    """
    names = tools or registry.names()
    outputs: dict[str, set[str]] = {}  # type -> output field names of any candidate tool
    for n in names:
        for fname, field in registry.tool_class(n).Output.model_fields.items():
            outputs.setdefault(port_type(field.annotation), set()).add(fname)
    positions = []
    refs = _Refs(inputs, outputs, start, given or {})
    for k in range(start, start + max_tasks):
        variants = [v for n in names
                    if (v := _task_schema(registry, n, k, refs, optional_args))]
        if k == start and inputs_first and inputs:
            variants = [v for v in variants if _consumes_input(v)] or variants
        if not variants:
            break
        positions.append(variants)
    media = [k for k in (deliver or []) if k != "text"]
    tasks: dict[str, Any] = {"type": "array", "prefixItems": [_one_of(v) for v in positions],
                             "items": False, "minItems": 1, "maxItems": len(positions)}
    if media:  # one alternative per plan length, its last task producing a delivered kind
        lengths: list[dict[str, Any]] = []
        for size in range(1, len(positions) + 1):
            last = [v for v in positions[size - 1]
                    if produces(registry, v["properties"]["tool"]["const"], media)]
            if last:
                lengths.append({"type": "array", "items": False, "minItems": size,
                                "maxItems": size,
                                "prefixItems": [_one_of(v) for v in positions[:size - 1]]
                                + [_one_of(last)]})
        tasks = _one_of(lengths) if lengths else tasks
    return {
        "type": "object",
        "properties": {
            # first, while the request is fresh: what the user wants back
            "deliver": ({"const": list(deliver)} if deliver else
                        deliver_schema(registry, names)["properties"]["deliver"]),
            "tasks": tasks,
        },
        "required": ["deliver", "tasks"],
        "additionalProperties": False,
    }


def deliver_schema(registry: ToolRegistry, tools: list[str] | None = None) -> dict[str, Any]:
    """Only the ``deliver`` decision (the first of two constrained calls): text, and the media
    kinds some candidate tool can produce."""
    names = tools or registry.names()
    kinds = [k for k in KINDS if k == "text" or any(produces(registry, n, [k]) for n in names)]
    return {"type": "object",
            "properties": {"deliver": {"type": "array", "items": {"enum": kinds},
                                       "minItems": 1, "maxItems": len(kinds)}},
            "required": ["deliver"], "additionalProperties": False}


def _one_of(variants: list[dict[str, Any]]) -> dict[str, Any]:
    return {"anyOf": variants} if len(variants) > 1 else variants[0]


def produces(registry: ToolRegistry, tool: str, kinds: list[str]) -> bool:
    """Whether ``tool`` has an output of one of ``kinds``."""
    return any(port_type(f.annotation) in kinds
               for f in registry.tool_class(tool).Output.model_fields.values())


@dataclass(frozen=True)
class _Refs:
    """What the k-th task may reference: inputs, given results, outputs of earlier new tasks."""

    inputs: dict[str, str]
    outputs: dict[str, set[str]]
    start: int
    given: dict[str, str]

    def __call__(self, kind: str, k: int) -> list[str]:
        refs = [f"$input.{n}" for n, t in self.inputs.items() if t == kind]
        refs += [r for r, t in self.given.items() if t == kind]
        refs += [f"$t{j}.{f}" for j in range(self.start, k)
                 for f in sorted(self.outputs.get(kind, ()))]
        return refs


def _task_schema(registry: ToolRegistry, name: str, k: int, refs_of: _Refs,
                 optional_args: bool) -> dict[str, Any] | None:
    model = registry.tool_class(name).Input
    json_props = model.model_json_schema().get("properties", {})
    props: dict[str, Any] = {}
    required: list[str] = []
    for fname, field in model.model_fields.items():
        if not field.is_required() and not optional_args:
            continue
        kind = port_type(field.annotation)
        if kind in MEDIA_TYPES:
            refs = refs_of(kind, k)
            if not refs:
                if field.is_required():
                    return None  # no value of that type exists yet: the tool cannot go here
                continue
            props[fname] = {"enum": refs}
        elif kind.startswith("list[") and kind[5:-1] in MEDIA_TYPES:
            refs = refs_of(kind[5:-1], k)
            if not refs:
                if field.is_required():
                    return None
                continue
            props[fname] = {"type": "array", "items": {"enum": refs}, "minItems": 1}
        else:
            literal = _strip(json_props.get(fname, {}))
            if literal.get("type") == "string":
                literal = _literal_string(literal)
            refs = refs_of(kind, k)
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


def _consumes_input(task_schema: dict[str, Any]) -> bool:
    args = task_schema["properties"]["args"]
    for name in args["required"]:
        prop = args["properties"][name]
        refs = prop.get("enum") or prop.get("items", {}).get("enum") or []
        if any(r.startswith("$input.") for r in refs):
            return True
    return False


def _literal_string(schema: dict[str, Any]) -> dict[str, Any]:
    """A literal string that cannot pass for a reference (no leading ``$``) and is bounded (a
    weak model may ramble), as one anchored pattern: llguidance takes a pattern or lengths."""
    longest = min(schema.get("maxLength", MAX_LITERAL), MAX_LITERAL)
    shortest = max(schema.get("minLength", 1), 1)
    return {"type": "string", "pattern": rf"^[^$][\s\S]{{{shortest - 1},{longest - 1}}}$"}


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's pydantic schema without prose and defaults (the grammar needs only shape)."""
    out = {k: v for k, v in schema.items() if k not in ("title", "description", "default")}
    if "anyOf" in out:
        out["anyOf"] = [_strip(s) for s in out["anyOf"]]
    return out or {"type": "string"}
