"""The plan IR: one representation for LLM plans and YAML workflows.

A plan is a list of tasks. Each task has an id, a tool name and arguments; an argument is a
literal or a reference, written as a whole string: ``$input.<name>`` (a request input) or
``$<task>.<field>`` (a field of an earlier task's output). Dependencies follow from references.

>>> p = Plan.model_validate({"tasks": [
...     {"id": "t1", "tool": "image_caption", "args": {"image": "$input.image0"}},
...     {"id": "t2", "tool": "text_to_speech", "args": {"text": "$t1.text"}}]})
>>> p.dependencies("t2")
{'t1'}
>>> [t.id for t in p.topological_order()]
['t1', 't2']
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from mmagent.errors import CycleError

__all__ = ["Task", "Plan", "ResultKind", "Ref", "parse_ref", "checked_ref", "iter_refs", "strings",
           "TASK_ID_PATTERN"]

ResultKind = Literal["text", "image", "audio", "video"]
"""What a plan can deliver to the user."""

TASK_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_REF_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class Ref:
    """A parsed reference. ``source`` is ``"input"`` or a task id."""

    source: str
    field: str

    @property
    def is_input(self) -> bool:
        return self.source == "input"

    def __str__(self) -> str:
        return f"${self.source}.{self.field}"


def parse_ref(value: Any) -> Ref | None:
    """The reference ``value`` spells, or None when it is a literal."""
    if isinstance(value, str):
        m = _REF_RE.match(value)
        if m:
            return Ref(m.group(1), m.group(2))
    return None


def checked_ref(value: str) -> Ref:
    """The reference a checked plan or workflow spells at ``value`` (an argument, an output).

    >>> checked_ref("$caption.text").source
    'caption'
    """
    ref = parse_ref(value)
    if ref is None:
        raise ValueError(f"got {value!r} where a checked reference stands; expected "
                         "$input.<name> or $<task>.<field>")
    return ref


def strings(value: Any) -> Iterator[str]:
    """Every string in a literal, however deeply nested in lists and mappings."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def iter_refs(value: Any) -> Iterator[Ref]:
    """Every reference inside an argument value (lists and dicts are walked)."""
    for s in strings(value):
        ref = parse_ref(s)
        if ref is not None:
            yield ref


class Task(BaseModel):
    """One tool call. With ``each``, the call is made once per item of that argument's list
    (the item in the list's place), and each output is the list of the items' outputs:

    >>> t = Task(id="t2", tool="image_caption", args={"image": "$t1.frames"}, each="image")
    >>> t.model_dump()["each"], "each" in Task(id="t1", tool="x").model_dump()
    ('image', False)
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=TASK_ID_PATTERN, description="unique within the plan, e.g. t1")
    tool: str = Field(description="name of a registered tool")
    args: dict[str, Any] = Field(default_factory=dict,
                                 description="literals or $input.<name> / $<task>.<field>")
    each: str | None = Field(None, description="an argument holding a list: the tool runs once "
                             "per item, and each output becomes the list of the items' outputs")

    @model_serializer(mode="wrap")
    def _without_each(self, handler: Any) -> dict[str, Any]:
        # a task that maps over nothing is written as it always was (journals, caches, files)
        data = handler(self)
        if data.get("each") is None:
            data.pop("each", None)
        return data

    def refs(self) -> Iterator[tuple[str, Ref]]:
        """(argument name, reference) pairs."""
        for name, value in self.args.items():
            for ref in iter_refs(value):
                yield name, ref


class Plan(BaseModel):
    """A DAG of tool calls."""

    model_config = ConfigDict(extra="forbid")

    deliver: list[ResultKind] = Field(
        default_factory=list, description="kinds of result the user asked for; the planner "
        "checks that some task produces each media kind listed")
    tasks: list[Task] = Field(default_factory=list)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def dependencies(self, task_id: str) -> set[str]:
        return {ref.source for _, ref in self.task(task_id).refs() if not ref.is_input}

    def topological_order(self) -> list[Task]:
        """Tasks in an order where every task follows its dependencies (stable for ties).

        Raises :class:`CycleError` naming a task on the cycle.
        """
        by_id = {t.id: t for t in self.tasks}  # not self.dependencies: its lookup is linear
        try:
            order = topological({t.id: {ref.source for _, ref in t.refs() if not ref.is_input}
                                 & by_id.keys() for t in self.tasks})
        except CycleError as e:
            cycle = e.details["cycle"]
            raise CycleError(
                f"tasks {' -> '.join(cycle)} depend on each other in a cycle; expected an "
                "acyclic plan where each task only references earlier results",
                task=cycle[0], cycle=cycle) from None
        return [by_id[i] for i in order]


def topological(deps: dict[str, set[str]]) -> list[str]:
    """Names in an order where each follows its dependencies (stable for ties); the one cycle
    check of plans and workflows. Raises :class:`CycleError` with ``cycle`` in its details.

    >>> topological({"b": {"a"}, "a": set()})
    ['a', 'b']
    >>> topological({"a": {"b"}, "b": {"a"}})
    Traceback (most recent call last):
    ...
    mmagent.errors.CycleError: a -> b -> a depend on each other in a cycle
    """
    # Kahn's algorithm in waves (linear, not a scan of every name per wave): a wave is every name
    # whose last dependency was in the wave before, listed in the order of ``deps``
    index = {n: i for i, n in enumerate(deps)}
    waiting = {n: len(d) for n, d in deps.items()}
    users: dict[str, list[str]] = {}
    for n, d in deps.items():
        for m in d:
            users.setdefault(m, []).append(n)
    order: list[str] = []
    wave = [n for n in deps if not waiting[n]]
    while wave:
        order += wave
        ready = []
        for m in wave:
            for n in users.get(m, ()):
                waiting[n] -= 1
                if not waiting[n]:
                    ready.append(n)
        wave = sorted(ready, key=index.__getitem__)
    if len(order) < len(deps):
        done = set(order)
        stuck = [n for n in deps if n not in done]
        cycle = _find_cycle(stuck, deps)
        raise CycleError(f"{' -> '.join(cycle)} depend on each other in a cycle",
                         task=cycle[0], cycle=cycle)
    return order


def _find_cycle(stuck: list[str], deps: dict[str, set[str]]) -> list[str]:
    start = stuck[0]
    path, seen = [start], {start}
    node = start
    while True:
        node = sorted(d for d in deps[node] if d in stuck)[0]
        if node in seen:
            return path[path.index(node):] + [node]
        path.append(node)
        seen.add(node)
