"""Checking a workflow: its structure when it is read, then against the registry's tools.

:func:`check_structure` needs no tools: reserved names, references that name an input or a
node that exists, ``$item`` only in foreach nodes, input defaults of their type, no cycles.
:func:`problems` checks against the tools: the plan validator's findings on
:func:`validation_plan` (the workflow as plan IR) plus what is particular to workflows (foreach
sources, list-valued references, ``when`` types, outputs). Every error names the file, the node
and the line.

>>> input_value_problem("list[number]", [1, "2"])
"got '2'; expected a number"
>>> input_value_problem("image", "photo.png", allow_media=False)
"got 'photo.png'; media inputs take no default"
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

from mmagent.artifacts._store import MediaLimits
from mmagent.errors import (
    CycleError,
    PlanLimitError,
    PlanValidationError,
    TypeMismatchError,
    UnknownToolError,
    UnresolvedReferenceError,
    WorkflowError,
)
from mmagent.plan._ir import Plan, Task, parse_ref, strings, topological
from mmagent.plan._validator import MEDIA_TYPES, check_size, collect_errors
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry
from mmagent.workflows import _conditions as conditions
from mmagent.workflows._spec import ITEM, RESERVED, NodeSpec, Workflow, type_phrase

__all__ = ["check_structure", "check_limits", "problems", "validation_plan", "ref_type",
           "input_value_problem", "short_value"]

_DOLLAR_RE = re.compile(r"^\$[A-Za-z_]")
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlist = _REPR.maxdict = 4


# -- structure (no tools) ----------------------------------------------------------------------


def check_structure(wf: Workflow) -> None:
    """What needs no tools: names, references, $item placement, defaults, cycles."""
    for name in wf.nodes:
        if name in RESERVED:
            raise wf.error(WorkflowError, f"got the reserved node name {name!r}; expected "
                           f"another name (not {list(RESERVED)})", "nodes", name, node=name)
    for name, spec in wf.inputs.items():
        if "default" in spec.model_fields_set and spec.default is not None:
            problem = input_value_problem(spec.type, spec.default, allow_media=False)
            if problem:
                raise wf.error(WorkflowError, f"default {problem}", "inputs", name, "default")
    for name, node in wf.nodes.items():
        for arg, value in node.args.items():
            for s in strings(value):
                _check_ref_string(wf, s, name, ("nodes", name, "args", arg), node, arg)
        if isinstance(node.foreach, str):
            _check_ref_string(wf, node.foreach, name, ("nodes", name, "foreach"), None, None)
        if node.when is not None:
            for s in conditions.condition_refs(node.when):
                _check_ref_string(wf, s, name, ("nodes", name, "when"), None, None)
    for out, ref in wf.output_refs().items():
        _check_ref_string(wf, ref, None, ("outputs", out), None, None)
    _check_cycles(wf)


def _check_ref_string(wf: Workflow, s: str, name: str | None, where: tuple[Any, ...],
                      node: NodeSpec | None, arg: str | None) -> None:
    if s == ITEM:
        if node is None or node.foreach is None:
            raise wf.error(UnresolvedReferenceError, f"{ITEM} is used outside the args of a "
                           "foreach node; expected it only where the node has foreach",
                           *where, node=name, task=name, arg=arg)
        return
    ref = parse_ref(s)
    if ref is None:
        if _DOLLAR_RE.match(s):
            raise wf.error(UnresolvedReferenceError, f"got {s!r}, which is not a reference; "
                           "expected $input.<name>, $<node>.<field> or $item", *where,
                           node=name, task=name, arg=arg)
        return
    if ref.is_input:
        if ref.field not in wf.inputs:
            raise wf.error(UnresolvedReferenceError, f"references {ref}, but the workflow has "
                           f"no input {ref.field!r}; expected one of "
                           f"{['$input.' + n for n in wf.inputs]}", *where, node=name,
                           task=name, arg=arg)
        return
    if ref.source not in wf.nodes:
        raise wf.error(UnresolvedReferenceError, f"references {ref}, but there is no node "
                       f"{ref.source!r}; expected one of {sorted(wf.nodes)}", *where,
                       node=name, task=name, arg=arg)


def _check_cycles(wf: Workflow) -> None:
    try:
        topological({n: wf.dependencies(n) & wf.nodes.keys() for n in wf.nodes})
    except CycleError as e:
        cycle = e.details["cycle"]
        first = cycle[0]
        raise wf.error(CycleError, f"nodes {' -> '.join(cycle)} depend on each other in a "
                       "cycle; expected each node to reference only nodes that do not "
                       "need it", "nodes", first, node=first, task=first, cycle=cycle) from None


# -- against the tools ------------------------------------------------------------------------


def check_limits(wf: Workflow, limits: MediaLimits) -> None:
    """Raise :class:`PlanLimitError` for a workflow over ``limits``: more than ``max_tasks``
    nodes, or a literal ``foreach`` list longer than ``max_foreach`` (cheap: counts only)."""
    try:
        check_size(len(wf.nodes), limits.max_tasks, "nodes")
    except PlanLimitError as e:
        raise wf.error(PlanLimitError, e.message, "nodes", **e.details) from None
    for name, node in wf.nodes.items():
        if isinstance(node.foreach, list):
            try:
                check_size(len(node.foreach), limits.max_foreach, "foreach items",
                           "limits.max_foreach")
            except PlanLimitError as e:
                raise wf.error(PlanLimitError, e.message, "nodes", name, "foreach",
                               node=name, **{**e.details, "task": name}) from None


def problems(wf: Workflow, registry: ToolRegistry,
             limits: MediaLimits | None = None) -> list[PlanValidationError]:
    """Everything wrong with ``wf`` against ``registry``'s tools, in file order:
    the validator's findings on :func:`validation_plan` plus what is particular to
    workflows (foreach sources, list-valued references, conditions, outputs).

    A workflow larger than ``limits`` (``max_tasks`` nodes, a literal ``foreach`` list
    longer than ``max_foreach``) gets that one error, found first."""
    limits = limits or MediaLimits()
    try:
        check_limits(wf, limits)
    except PlanLimitError as e:
        return [e]
    errors: list[PlanValidationError] = []
    plan, types = validation_plan(wf, registry)
    for found in collect_errors(plan, registry, types):
        errors.append(_from_validator(wf, found))
    for name, node in wf.nodes.items():
        if node.tool not in registry:
            continue
        errors.extend(_check_foreach(wf, name, node, registry))
        errors.extend(_check_list_refs(wf, name, node, registry))
        if node.when is not None:
            errors.extend(_check_when(wf, name, node, registry))
    for out, ref in wf.output_refs().items():
        err = _check_ref_field(wf, ref, registry, ("outputs", out), None, f"output {out!r}")
        if err:
            errors.append(err)
    return sorted(errors, key=lambda e: wf.line("nodes", e.details["node"])
                  if e.details.get("node") else e.details.get("line", 0))


def validation_plan(wf: Workflow, registry: ToolRegistry | None = None
                    ) -> tuple[Plan, dict[str, str]]:
    """The plan IR the validator checks, and the input types it is checked against.

    Nodes map one to one onto tasks. ``$item`` becomes a reference to a stand-in input
    typed like the items; a whole-argument reference to a foreach node becomes a
    one-element list of it (the node's outputs are lists).
    """
    types = wf.input_types()
    tasks = []
    for name, node in wf.nodes.items():
        if node.foreach is not None and not isinstance(node.foreach, list):
            types[_item_input(name)] = _stand_in_type(wf, name, node, registry)
        fields = registry.tool_class(node.tool).Input.model_fields \
            if registry is not None and node.tool in registry else {}
        args = {}
        for arg, value in node.args.items():
            # a scalar argument fed a foreach node's list is reported by _check_list_refs
            scalar = arg in fields and not port_type(fields[arg].annotation).startswith("list[")
            args[arg] = value if scalar and parse_ref(value) else \
                _for_validation(wf, value, name, node)
        tasks.append(Task(id=name, tool=node.tool, args=args))
    return Plan(tasks=tasks), types


def ref_type(wf: Workflow, ref: Any, registry: ToolRegistry) -> str | None:
    """The type of a reference's value (None when unknown, or ``ref`` is a literal): foreach
    nodes give lists."""
    r = parse_ref(ref)
    if r is None:
        return None
    if r.is_input:
        spec = wf.inputs.get(r.field)
        return spec.type if spec else None
    node = wf.nodes.get(r.source)
    if node is None or node.tool not in registry:
        return None
    fields = registry.tool_class(node.tool).Output.model_fields
    if r.field not in fields:
        return None
    t = port_type(fields[r.field].annotation)
    return f"list[{t}]" if node.foreach is not None else t


def _for_validation(wf: Workflow, value: Any, name: str, node: NodeSpec) -> Any:
    if value == ITEM:
        if isinstance(node.foreach, list):
            return node.foreach[0] if node.foreach else None
        return f"$input.{_item_input(name)}"
    ref = parse_ref(value)
    if ref is not None and not ref.is_input and ref.source in wf.nodes \
            and wf.nodes[ref.source].foreach is not None:
        return [value]
    if isinstance(value, list):  # a foreach node's list is spliced into a list argument
        return [v if parse_ref(v) else _for_validation(wf, v, name, node) for v in value]
    if isinstance(value, dict):
        return {k: _for_validation(wf, v, name, node) for k, v in value.items()}
    return value


def _stand_in_type(wf: Workflow, name: str, node: NodeSpec,
                   registry: ToolRegistry | None) -> str:
    """The type of ``$item``: the item type of the foreach source when known, else what
    the argument expects (the unknown source is reported on its own)."""
    if registry is not None:
        t = ref_type(wf, node.foreach, registry)
        if t and t.startswith("list["):
            return t[5:-1]
        if node.tool in registry:
            fields = registry.tool_class(node.tool).Input.model_fields
            for arg, value in node.args.items():
                if value == ITEM and arg in fields:
                    return port_type(fields[arg].annotation)
    return "json"


def _from_validator(wf: Workflow, e: PlanValidationError) -> PlanValidationError:
    msg = re.sub(r"^task '[^']*': ", "", e.message)
    for name in wf.nodes:
        msg = msg.replace(f"$input.{_item_input(name)}", ITEM)
    msg = re.sub(r", '\$input\.__item_\w*'|'\$input\.__item_\w*'(, )?", "", msg)
    path: tuple[str | None, ...] = (("nodes", e.task, "args", e.arg) if e.arg
                                     else ("nodes", e.task))
    if isinstance(e, UnknownToolError):
        path = ("nodes", e.task, "tool")
    details = {k: v for k, v in e.details.items() if k not in ("task", "arg")}
    return wf.error(type(e), msg, *path, node=e.task, task=e.task, arg=e.arg, **details)


def _check_foreach(wf: Workflow, name: str, node: NodeSpec, registry: ToolRegistry
                   ) -> list[PlanValidationError]:
    if node.foreach is None or isinstance(node.foreach, list):
        return []
    where = ("nodes", name, "foreach")
    err = _check_ref_field(wf, node.foreach, registry, where, name, "foreach")
    if err:
        return [err]
    t = ref_type(wf, node.foreach, registry)
    if t is None:
        return []
    if not t.startswith("list["):
        return [wf.error(TypeMismatchError, f"foreach got {node.foreach} of type {t}; "
                         "expected a list", *where, node=name, task=name, got=t,
                         expected="list")]
    return []


def _check_list_refs(wf: Workflow, name: str, node: NodeSpec, registry: ToolRegistry
                     ) -> list[PlanValidationError]:
    """A whole-argument reference to a foreach node is a list: the argument must be one."""
    fields = registry.tool_class(node.tool).Input.model_fields
    errors = []
    for arg, value in node.args.items():
        ref = parse_ref(value)
        if ref is None or ref.is_input or arg not in fields:
            continue
        src = wf.nodes.get(ref.source)
        if src is None or src.foreach is None:
            continue
        want = port_type(fields[arg].annotation)
        got = ref_type(wf, value, registry)
        if got is not None and not want.startswith("list["):
            errors.append(wf.error(
                TypeMismatchError, f"argument {arg!r} got {value}, a {got} (node "
                f"{ref.source!r} runs once per item); expected {want}",
                "nodes", name, "args", arg, node=name, task=name, arg=arg, got=got,
                expected=want))
    return errors


def _check_when(wf: Workflow, name: str, node: NodeSpec, registry: ToolRegistry
                ) -> list[PlanValidationError]:
    where = ("nodes", name, "when")
    errors = []
    for ref in conditions.condition_refs(node.when):
        err = _check_ref_field(wf, ref, registry, where, name, "when")
        if err:
            errors.append(err)
    for ref in conditions.numeric_refs(node.when):
        t = ref_type(wf, ref, registry)
        if t is not None and t not in ("number", "integer"):
            errors.append(wf.error(TypeMismatchError, f"when compares {ref} of type {t} "
                                   "with a number; expected a number or integer", *where,
                                   node=name, task=name, got=t, expected="number"))
    return errors


def _check_ref_field(wf: Workflow, ref: str, registry: ToolRegistry, where: tuple[Any, ...],
                     node: str | None, what: str) -> PlanValidationError | None:
    r = parse_ref(ref)
    if r is None or r.is_input:
        return None
    src = wf.nodes.get(r.source)
    if src is None or src.tool not in registry:
        return None  # reported at load, or as an unknown tool
    fields = registry.tool_class(src.tool).Output.model_fields
    if r.field not in fields:
        return wf.error(UnresolvedReferenceError, f"{what} references {ref}, but tool "
                        f"{src.tool!r} has no output {r.field!r}; expected one of "
                        f"{sorted(fields)}", *where, node=node, task=node)
    return None


def _item_input(node: str) -> str:
    """The stand-in input that ``$item`` of foreach node ``node`` becomes for the validator."""
    return f"__item_{node}"


# -- values -----------------------------------------------------------------------------------


def short_value(value: Any) -> str:
    """``value``'s repr cut to a few items and characters: errors echo what a caller sent."""
    return _REPR.repr(value)


def input_value_problem(type_: str, value: Any, allow_media: bool = True) -> str | None:
    """Why ``value`` is not a valid ``type_`` (None when it is). Media are checked on ingest."""
    if type_.startswith("list["):
        if not isinstance(value, list):
            return f"got {short_value(value)}; expected {type_phrase(type_)}"
        for v in value:
            p = input_value_problem(type_[5:-1], v, allow_media)
            if p:
                return p
        return None
    if type_ in MEDIA_TYPES:
        return None if allow_media else f"got {short_value(value)}; media inputs take no default"
    ok = {
        "text": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "json": True,
    }[type_]
    return None if ok else f"got {short_value(value)}; expected {type_phrase(type_)}"
