"""Conversions into workflows and their values: an LLM plan saved as workflow YAML, and the
text of a ``--input name=value`` option as a value of the input's type.

>>> coerce_cli_value("list[number]", "2.5"), coerce_cli_value("boolean", "yes")
(2.5, True)
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from mmagent.errors import WrongKindError
from mmagent.plan._ir import Plan
from mmagent.plan._validator import MEDIA_TYPES, validate
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry
from mmagent.workflows._spec import ITEM

__all__ = ["plan_to_workflow", "coerce_cli_value"]


def plan_to_workflow(plan: Plan, inputs: dict[str, str], registry: ToolRegistry,
                     description: str = "") -> str:
    """YAML for a workflow that runs ``plan`` again without the LLM; a plan the validator
    refuses raises its :class:`~mmagent.errors.PlanValidationError`.

    ``inputs`` maps the request's input names to their kinds (``{"image0": "image"}``). The
    outputs are every text and media field of every task.
    """
    validate(plan, registry, inputs)  # e.g. a duplicate task id would silently drop a node
    used = {r.field for t in plan.tasks for _a, r in t.refs() if r.is_input}
    doc: dict[str, Any] = {"version": 1, "description": description or "A saved plan.",
                           "inputs": {n: {"type": k} for n, k in inputs.items() if n in used},
                           "nodes": {}, "outputs": {}}
    for t in plan.tasks:
        node: dict[str, Any] = {"tool": t.tool, "args": dict(t.args)}
        if t.each is not None:  # a task over a list is a node with foreach over it
            node["foreach"], node["args"][t.each] = t.args[t.each], ITEM
        doc["nodes"][t.id] = node
        if t.tool in registry:
            for f, field in registry.tool_class(t.tool).Output.model_fields.items():
                if port_type(field.annotation) in ("text",) + MEDIA_TYPES:
                    doc["outputs"][f"{t.id}_{f}"] = f"${t.id}.{f}"
    header = ("# Schema: `mmagent workflow schema` prints it (for editor validation).\n"
              "# Saved by `mmagent run --save-plan`; run it again without the LLM with\n"
              "# `mmagent workflow run FILE --input name=value ...`.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def coerce_cli_value(type_: str, text: str) -> Any:
    """A ``--input name=value`` string as ``type_`` (lists come from repeating the option).

    Text that does not read as a number, an integer or a boolean is left as it is: the
    workflow's input check (:func:`~mmagent.workflows.bind_inputs`) refuses it as it refuses
    the same value from any caller, naming the input. Text that is no JSON for a ``json``
    input is refused here (as text it would be a valid JSON string)."""
    base = type_[5:-1] if type_.startswith("list[") else type_
    try:
        if base == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if base == "integer":
            return int(text)
        if base == "boolean":
            return {"true": True, "yes": True, "1": True,
                    "false": False, "no": False, "0": False}.get(text.lower(), text)
        if base == "json":
            return json.loads(text)
    except ValueError:
        if base == "json":
            raise WrongKindError(f"got {text[:40]!r}, which is not JSON; expected a JSON "
                                 "value") from None
    return text
