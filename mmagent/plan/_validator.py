"""Checks a plan before any model runs.

Each failure is its own typed error naming the task and the argument: unknown tool, duplicate
task id, unresolved reference, type mismatch, argument schema violation, cycle. The planner
feeds the messages back to the LLM as repair instructions.

>>> from mmagent.plan._ir import Plan
>>> from mmagent.toolkit._registry import ToolRegistry
>>> from mmagent.tools.image_caption import ImageCaption
>>> reg = ToolRegistry(); reg.register(ImageCaption)
>>> plan = Plan.model_validate({"tasks": [{"id": "t1", "tool": "image_caption",
...                                        "args": {"image": "$input.image9"}}]})
>>> [e.code for e in collect_errors(plan, reg, {"image0": "image"})]
['plan.unresolved_reference']
"""

from __future__ import annotations

import difflib
import functools
import typing
from collections.abc import Collection
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from mmagent.artifacts._store import ArtifactKind
from mmagent.errors import (
    ArgumentSchemaError,
    CycleError,
    DuplicateTaskError,
    PlanLimitError,
    PlanValidationError,
    TypeMismatchError,
    UnknownToolError,
    UnresolvedReferenceError,
)
from mmagent.plan._ir import Plan, Ref, Task, parse_ref
from mmagent.toolkit._base import port_type
from mmagent.toolkit._client_tools import ClientTool
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["validate", "collect_errors", "check_size", "MEDIA_TYPES"]

MEDIA_TYPES: tuple[ArtifactKind, ...] = ("image", "audio", "video")
_EARLIER = "<an earlier stage>"  # the producer of a task that already ran: not a tool name


def validate(plan: Plan, registry: ToolRegistry, inputs: dict[str, str], *,
             done: Collection[str] = ()) -> None:
    """Raise the first problem found (see :func:`collect_errors`)."""
    errors = collect_errors(plan, registry, inputs, done=done)
    if errors:
        raise errors[0]


def check_size(count: int, limit: int, what: str = "tasks", key: str = "limits.max_tasks",
               **details: Any) -> None:
    """Raise :class:`PlanLimitError` when ``count`` exceeds ``limit`` (config ``key``): checked
    first, so an oversized plan costs nothing."""
    if count > limit:
        raise PlanLimitError(f"got {count} {what}; expected at most {limit} ({key})",
                             limit=key, got=count, expected=limit, **details)


def collect_errors(plan: Plan, registry: ToolRegistry, inputs: dict[str, str], *,
                   done: Collection[str] = ()) -> list[PlanValidationError]:
    """Every problem in ``plan``, in task order. ``inputs`` maps input names to their types
    (``{"image0": "image", "prompt": "text"}``); ``done`` names tasks of an earlier stage whose
    outputs the plan may read."""
    errors: list[PlanValidationError] = []
    seen: set[str] = set()
    tools = {**dict.fromkeys(done, _EARLIER), **{t.id: t.tool for t in plan.tasks}}
    mapped = {t.id for t in plan.tasks if t.each is not None}
    for task in plan.tasks:
        if task.id in seen:
            errors.append(DuplicateTaskError(
                f"task {task.id!r}: the id is used twice; expected unique task ids",
                task=task.id))
            continue
        seen.add(task.id)
        if task.id in done:
            continue  # ran already: its output stands, whatever it was given
        if task.tool not in registry:
            hint = difflib.get_close_matches(task.tool, registry.names(), n=1)
            errors.append(UnknownToolError(
                f"task {task.id!r}: got tool {task.tool!r}; expected one of {registry.names()}"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""), task=task.id))
            continue
        errors.extend(_check_args(task, registry, inputs, tools, mapped))
    if not errors:
        try:
            plan.topological_order()
        except CycleError as e:
            errors.append(e)
    return errors


def _check_args(task: Task, registry: ToolRegistry, inputs: dict[str, str],
                tools: dict[str, str], mapped: set[str]) -> list[PlanValidationError]:
    errors: list[PlanValidationError] = []
    fields = registry.tool_class(task.tool).Input.model_fields
    if task.each is not None:
        problem = _each_problem(task, fields, registry)
        if problem:
            return [ArgumentSchemaError(f"task {task.id!r}: {problem}", task=task.id,
                                        arg=task.each)]
    for name in task.args:
        if name not in fields:
            errors.append(ArgumentSchemaError(
                f"task {task.id!r}: tool {task.tool!r} has no argument {name!r}; expected "
                f"arguments among {sorted(fields)}", task=task.id, arg=name))
    for name, field in fields.items():
        if field.is_required() and name not in task.args:
            errors.append(ArgumentSchemaError(
                f"task {task.id!r}: argument {name!r} of tool {task.tool!r} is missing; expected "
                f"a {port_type(field.annotation)} value", task=task.id, arg=name))
    for name, value in task.args.items():
        if name in fields:
            f = fields[name]
            annotation = Annotated[f.annotation, *f.metadata] if f.metadata else f.annotation
            expected = port_type(f.annotation)
            if name == task.each:
                expected, annotation = f"list[{expected}]", list[annotation]  # type: ignore[valid-type]
            errors.extend(_check_value(task, name, value, expected, annotation, registry,
                                       inputs, tools, mapped))
    return errors


def _each_problem(task: Task, fields: dict[str, Any], registry: ToolRegistry) -> str:
    """What is wrong with a task's ``each``, or ""."""
    each = task.each
    if each not in task.args or each not in fields or \
            port_type(fields[each].annotation).startswith("list["):
        return (f"each names {each!r}; expected one of its arguments that takes a single value "
                "(its list is run item by item)")
    if issubclass(registry.tool_class(task.tool), ClientTool):
        return (f"each over the client's function {task.tool!r}; expected a task per call of a "
                "client's function (its call is asked once per task)")
    return ""


def _check_value(task: Task, arg: str, value: Any, expected: str, annotation: Any,
                 registry: ToolRegistry, inputs: dict[str, str], tools: dict[str, str],
                 mapped: set[str]) -> list[PlanValidationError]:
    ref = parse_ref(value)
    if ref is not None:
        return _check_ref(task, arg, ref, expected, registry, inputs, tools, mapped)
    if isinstance(value, list) and expected.startswith("list["):
        inner = expected[5:-1]
        bare = typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated \
            else annotation
        item_ann = (typing.get_args(bare) or (Any,))[0]
        errs: list[PlanValidationError] = []
        for v in value:
            errs.extend(_check_value(task, arg, v, inner, item_ann, registry, inputs, tools,
                                     mapped))
        return errs
    if expected in MEDIA_TYPES:
        return [ArgumentSchemaError(
            f"task {task.id!r}: argument {arg!r} got the literal {value!r}; expected a reference "
            f"to an {expected} ($input.<name> or $<task>.<field>)", task=task.id, arg=arg)]
    try:
        _adapter(annotation).validate_python(value)
    except ValidationError as e:
        msg = e.errors()[0]["msg"]
        return [ArgumentSchemaError(
            f"task {task.id!r}: argument {arg!r} got {value!r}: {msg}; expected a valid "
            f"{expected}", task=task.id, arg=arg)]
    return []


def _adapter(annotation: Any) -> TypeAdapter:
    """A validator for ``annotation``, built once per distinct annotation: building one costs
    more than checking a task's arguments with it."""
    try:
        return _cached_adapter(annotation)
    except TypeError:  # unhashable metadata in an Annotated
        return TypeAdapter(annotation)


@functools.lru_cache(maxsize=1024)
def _cached_adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation)


def _check_ref(task: Task, arg: str, ref: Ref, expected: str, registry: ToolRegistry,
               inputs: dict[str, str], tools: dict[str, str],
               mapped: set[str]) -> list[PlanValidationError]:
    if ref.is_input:
        if ref.field not in inputs:
            return [UnresolvedReferenceError(
                f"task {task.id!r}: argument {arg!r} references {ref}, which is not an input of "
                f"this request; expected one of {['$input.' + n for n in inputs]}",
                task=task.id, arg=arg)]
        actual = inputs[ref.field]
    else:
        if ref.source == task.id:
            return [CycleError(f"task {task.id!r}: argument {arg!r} references the task's own "
                               "output; expected a reference to an earlier task",
                               task=task.id, arg=arg, cycle=[task.id, task.id])]
        if ref.source not in tools:
            return [UnresolvedReferenceError(
                f"task {task.id!r}: argument {arg!r} references {ref}, but there is no task "
                f"{ref.source!r}; expected one of {sorted(tools)}", task=task.id, arg=arg)]
        producer = tools[ref.source]
        if producer == _EARLIER or producer not in registry:
            return []  # ran already / reported as an unknown tool on the producer
        out_fields = registry.tool_class(producer).Output.model_fields
        if ref.field not in out_fields:
            return [UnresolvedReferenceError(
                f"task {task.id!r}: argument {arg!r} references {ref}, but tool {producer!r} "
                f"has no output {ref.field!r}; expected one of {sorted(out_fields)}",
                task=task.id, arg=arg)]
        actual = port_type(out_fields[ref.field].annotation)
        if ref.source in mapped:  # one output per item
            actual = f"list[{actual}]"
    if not _compatible(actual, expected):
        return [TypeMismatchError(
            f"task {task.id!r}: argument {arg!r} got {ref} of type {actual}; expected {expected}",
            task=task.id, arg=arg, got=actual, expected=expected)]
    return []


def _compatible(actual: str, expected: str) -> bool:
    return actual == expected or (actual == "integer" and expected == "number")
