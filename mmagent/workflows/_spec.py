"""Workflows: plans written by hand as YAML, validated like LLM plans, run without the LLM.

A workflow file (``version: 1``) declares typed ``inputs``, ``nodes`` (a tool and its ``args``;
an argument is a literal or a reference ``$input.<name>`` / ``$<node>.<field>``), optional
``when`` conditions and ``foreach`` fan-out, and named ``outputs``::

    # yaml-language-server: $schema=workflow.schema.json
    version: 1
    description: Describe an image and say it aloud.
    inputs:
      image: {type: image, description: the photo}
    nodes:
      caption: {tool: image_caption, args: {image: $input.image}}
      speak:   {tool: text_to_speech, args: {text: $caption.text}}
    outputs:
      description: $caption.text
      speech: $speak.audio

A node with ``foreach: <list>`` runs once per item (``$item`` in its args is the item) and its
outputs become lists. A node whose ``when`` is false does not run, nor do the nodes that need it.

Parsing is strict (unknown keys, duplicate keys, bad references are errors) and every error
names the file, the node and the line. A workflow compiles to the plan IR (:mod:`mmagent.plan`)
and is checked by the same validator as LLM plans (:mod:`mmagent.plan`).

>>> wf = load_workflow("graphs/caption_and_speak.yaml")      # doctest: +SKIP
>>> sorted(wf.inputs), sorted(wf.outputs)                    # doctest: +SKIP
(['image'], ['description', 'speech'])
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from mmagent.artifacts._store import MediaLimits
from mmagent.config import _yaml as safe_yaml
from mmagent.errors import (
    CycleError,
    PlanLimitError,
    PlanValidationError,
    TypeMismatchError,
    UnknownToolError,
    UnresolvedReferenceError,
    WorkflowError,
)
from mmagent.plan._ir import TASK_ID_PATTERN, Plan, Task, parse_ref, topological
from mmagent.plan._validator import MEDIA_TYPES, check_size, collect_errors, validate
from mmagent.tool._base import port_type
from mmagent.tool._registry import ToolRegistry
from mmagent.workflows import _conditions as conditions
from mmagent.workflows._conditions import Condition, RefStr

__all__ = ["Workflow", "InputSpec", "NodeSpec", "OutputSpec", "load_workflow", "parse_workflow",
           "json_schema", "plan_to_workflow", "find_workflows", "resolve_workflow", "ITEM",
           "INPUT_TYPES", "GRAPHS_DIR", "SCHEMA_PATH"]

ITEM = "$item"
"""In the args of a ``foreach`` node: the current item."""
SCALAR_TYPES = ("image", "audio", "video", "text", "number", "integer", "boolean", "json")
INPUT_TYPES = SCALAR_TYPES + tuple(f"list[{t}]" for t in SCALAR_TYPES)
InputType = Literal[
    "image", "audio", "video", "text", "number", "integer", "boolean", "json",
    "list[image]", "list[audio]", "list[video]", "list[text]", "list[number]", "list[integer]",
    "list[boolean]", "list[json]",
]
GRAPHS_DIR = Path(str(resources.files("mmagent.graphs")))
"""The shipped workflows: package data of ``mmagent.graphs`` (the repository's graphs/)."""
SCHEMA_PATH = GRAPHS_DIR / "workflow.schema.json"
RESERVED = ("input", "item")
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_DOLLAR_RE = re.compile(r"^\$[A-Za-z_]")
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
NodeName = Annotated[str, Field(pattern=TASK_ID_PATTERN)]


class InputSpec(BaseModel):
    """A typed input of the workflow. Without ``default`` it is required; ``default: null``
    makes it optional (arguments that are exactly ``$input.<name>`` are then left out, so the
    tool's own default applies)."""

    model_config = ConfigDict(extra="forbid")

    type: InputType = Field(description="image, audio, video (file paths on the command line), "
                            "text, number, integer, boolean, json, or list[<one of those>]")
    description: str = Field("", description="what to give, shown by `mmagent workflow list` "
                             "and the HTTP API")
    default: Any = Field(None, description="value used when the input is not given (not for "
                         "media); null makes the input optional")

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class NodeSpec(BaseModel):
    """One tool call."""

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="name of a registered tool "
                      "(`mmagent tools` lists them)")
    description: str = Field("", description="what this step is for")
    args: dict[Name, Any] = Field(default_factory=dict, description="the tool's arguments: "
                                  "literals, $input.<name>, $<node>.<field>, or $item in a "
                                  "foreach node")
    when: Condition | None = Field(None, description="run only if this holds: a reference "
                                   "(truthy), {all: [...]}, {any: [...]}, {not: ...} or "
                                   "{$ref: {equals|not_equals|in|not_in|contains|gt|ge|lt|le|"
                                   "empty: value}}")
    foreach: RefStr | list[Any] | None = Field(None, description="run once per item of this "
                                               "list ($item in args); the outputs become lists")


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: RefStr = Field(alias="from", description="$<node>.<field> or $input.<name>")
    description: str = Field("", description="what this output is")


class Workflow(BaseModel):
    """A parsed workflow file. Load with :func:`load_workflow`; check against tools with
    :meth:`check`; :meth:`validation_plan` is the plan IR the validator sees."""

    model_config = ConfigDict(extra="forbid", title="mmagent workflow")

    version: Literal[1] = Field(description="format version; 1")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$",
                             description="defaults to the file name without .yaml")
    description: str = Field("", description="what the workflow does")
    inputs: dict[Name, InputSpec] = Field(default_factory=dict)
    nodes: dict[NodeName, NodeSpec] = Field(min_length=1, description="tool calls by name; "
                                            "the order does not matter, references decide it")
    outputs: dict[Name, RefStr | OutputSpec] = Field(min_length=1, description="what the run "
                                                     "delivers: name -> $<node>.<field>")

    _file: str = PrivateAttr("<workflow>")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("outputs", mode="after")
    @classmethod
    def _long_form(cls, v: dict[str, Any]) -> dict[str, OutputSpec]:
        return {k: OutputSpec(from_=o) if isinstance(o, str) else o for k, o in v.items()}

    # -- public helpers ------------------------------------------------------------------------

    @property
    def file(self) -> str:
        return self._file

    def output_refs(self) -> dict[str, str]:
        return {name: o.from_ for name, o in self.outputs.items()}

    def input_types(self) -> dict[str, str]:
        return {name: spec.type for name, spec in self.inputs.items()}

    def line(self, *path: Any) -> int:
        """The line of the deepest known prefix of ``path`` (1-based; 1 when unknown)."""
        for n in range(len(path), -1, -1):
            if path[:n] in self._lines:
                return self._lines[path[:n]]
        return 1

    def error(self, cls: type[PlanValidationError], message: str, *path: Any,
              node: str | None = None, **details: Any) -> PlanValidationError:
        """An error of class ``cls`` naming the file, the line of ``path`` and the node."""
        line = self.line(*path)
        where = f"node {node!r}" if node else ".".join(str(p) for p in path) or "workflow"
        return cls(f"{self._file}:{line}: {where}: {message}", file=self._file, line=line,
                   node=node, **details)

    def check(self, registry: ToolRegistry, limits: MediaLimits | None = None) -> None:
        """Raise the first problem :meth:`problems` finds."""
        errors = self.problems(registry, limits)
        if errors:
            raise errors[0]

    def problems(self, registry: ToolRegistry,
                 limits: MediaLimits | None = None) -> list[PlanValidationError]:
        """Everything wrong with this workflow against ``registry``'s tools, in file order:
        the validator's findings on :meth:`validation_plan` plus what is particular to
        workflows (foreach sources, list-valued references, conditions, outputs).

        A workflow larger than ``limits`` (``max_tasks`` nodes, a literal ``foreach`` list
        longer than ``max_foreach``) gets that one error, found first."""
        limits = limits or MediaLimits()
        try:
            check_size(len(self.nodes), limits.max_tasks, "nodes")
        except PlanLimitError as e:
            return [self.error(PlanLimitError, e.message, "nodes", **e.details)]
        for name, node in self.nodes.items():
            if isinstance(node.foreach, list):
                try:
                    check_size(len(node.foreach), limits.max_foreach, "foreach items",
                               "limits.max_foreach")
                except PlanLimitError as e:
                    return [self.error(PlanLimitError, e.message, "nodes", name, "foreach",
                                       node=name, task=name, **e.details)]
        errors: list[PlanValidationError] = []
        plan, types = self.validation_plan(registry)
        for e in collect_errors(plan, registry, types):
            errors.append(self._from_validator(e))
        for name, node in self.nodes.items():
            if node.tool not in registry:
                continue
            errors.extend(self._check_foreach(name, node, registry))
            errors.extend(self._check_list_refs(name, node, registry))
            if node.when is not None:
                errors.extend(self._check_when(name, node, registry))
        for out, ref in self.output_refs().items():
            err = self._check_ref_field(ref, registry, ("outputs", out), None,
                                        f"output {out!r}")
            if err:
                errors.append(err)
        return sorted(errors, key=lambda e: self.line("nodes", e.details["node"])
                      if e.details.get("node") else e.details.get("line", 0))

    def ref_type(self, ref: str, registry: ToolRegistry) -> str | None:
        """The type of a reference's value (None when unknown): foreach nodes give lists."""
        r = parse_ref(ref)
        if r is None:
            return None
        if r.is_input:
            spec = self.inputs.get(r.field)
            return spec.type if spec else None
        node = self.nodes.get(r.source)
        if node is None or node.tool not in registry:
            return None
        fields = registry.tool_class(node.tool).Output.model_fields
        if r.field not in fields:
            return None
        t = port_type(fields[r.field].annotation)
        return f"list[{t}]" if node.foreach is not None else t

    def validation_plan(self, registry: ToolRegistry | None = None
                        ) -> tuple[Plan, dict[str, str]]:
        """The plan IR the validator checks, and the input types it is checked against.

        Nodes map one to one onto tasks. ``$item`` becomes a reference to a stand-in input
        typed like the items; a whole-argument reference to a foreach node becomes a
        one-element list of it (the node's outputs are lists).
        """
        types = self.input_types()
        tasks = []
        for name, node in self.nodes.items():
            if node.foreach is not None and not isinstance(node.foreach, list):
                types[_item_input(name)] = self._stand_in_type(name, node, registry)
            fields = registry.tool_class(node.tool).Input.model_fields \
                if registry is not None and node.tool in registry else {}
            args = {}
            for arg, value in node.args.items():
                # a scalar argument fed a foreach node's list is reported by _check_list_refs
                scalar = arg in fields and not port_type(fields[arg].annotation).startswith("list[")
                args[arg] = value if scalar and parse_ref(value) else \
                    self._for_validation(value, name, node)
            tasks.append(Task(id=name, tool=node.tool, args=args))
        return Plan(tasks=tasks), types

    def dependencies(self, name: str) -> set[str]:
        """Nodes that ``name`` needs: through its args, its ``when`` and its ``foreach``."""
        return {r.source for r in _node_refs(self.nodes[name]) if not r.is_input}

    def topological_order(self) -> list[str]:
        return topological({n: self.dependencies(n) & self.nodes.keys() for n in self.nodes})

    # -- internals -----------------------------------------------------------------------------

    def _for_validation(self, value: Any, name: str, node: NodeSpec) -> Any:
        if value == ITEM:
            if isinstance(node.foreach, list):
                return node.foreach[0] if node.foreach else None
            return f"$input.{_item_input(name)}"
        ref = parse_ref(value)
        if ref is not None and not ref.is_input and ref.source in self.nodes \
                and self.nodes[ref.source].foreach is not None:
            return [value]
        if isinstance(value, list):  # a foreach node's list is spliced into a list argument
            return [v if parse_ref(v) else self._for_validation(v, name, node) for v in value]
        if isinstance(value, dict):
            return {k: self._for_validation(v, name, node) for k, v in value.items()}
        return value

    def _stand_in_type(self, name: str, node: NodeSpec, registry: ToolRegistry | None) -> str:
        """The type of ``$item``: the item type of the foreach source when known, else what
        the argument expects (the unknown source is reported on its own)."""
        if registry is not None:
            t = self.ref_type(node.foreach, registry)
            if t and t.startswith("list["):
                return t[5:-1]
            if node.tool in registry:
                fields = registry.tool_class(node.tool).Input.model_fields
                for arg, value in node.args.items():
                    if value == ITEM and arg in fields:
                        return port_type(fields[arg].annotation)
        return "json"

    def _from_validator(self, e: PlanValidationError) -> PlanValidationError:
        msg = re.sub(r"^task '[^']*': ", "", e.message)
        for name in self.nodes:
            msg = msg.replace(f"$input.{_item_input(name)}", ITEM)
        msg = re.sub(r", '\$input\.__item_\w*'|'\$input\.__item_\w*'(, )?", "", msg)
        path = ("nodes", e.task, "args", e.arg) if e.arg else ("nodes", e.task)
        if isinstance(e, UnknownToolError):
            path = ("nodes", e.task, "tool")
        details = {k: v for k, v in e.details.items() if k not in ("task", "arg")}
        return self.error(type(e), msg, *path, node=e.task, task=e.task, arg=e.arg, **details)

    def _check_foreach(self, name: str, node: NodeSpec, registry: ToolRegistry
                       ) -> list[PlanValidationError]:
        if node.foreach is None or isinstance(node.foreach, list):
            return []
        where = ("nodes", name, "foreach")
        err = self._check_ref_field(node.foreach, registry, where, name, "foreach")
        if err:
            return [err]
        t = self.ref_type(node.foreach, registry)
        if t is None:
            return []
        if not t.startswith("list["):
            return [self.error(TypeMismatchError, f"foreach got {node.foreach} of type {t}; "
                               "expected a list", *where, node=name, task=name, got=t,
                               expected="list")]
        return []

    def _check_list_refs(self, name: str, node: NodeSpec, registry: ToolRegistry
                         ) -> list[PlanValidationError]:
        """A whole-argument reference to a foreach node is a list: the argument must be one."""
        fields = registry.tool_class(node.tool).Input.model_fields
        errors = []
        for arg, value in node.args.items():
            ref = parse_ref(value)
            if ref is None or ref.is_input or arg not in fields:
                continue
            src = self.nodes.get(ref.source)
            if src is None or src.foreach is None:
                continue
            want = port_type(fields[arg].annotation)
            got = self.ref_type(value, registry)
            if got is not None and not want.startswith("list["):
                errors.append(self.error(
                    TypeMismatchError, f"argument {arg!r} got {value}, a {got} (node "
                    f"{ref.source!r} runs once per item); expected {want}",
                    "nodes", name, "args", arg, node=name, task=name, arg=arg, got=got,
                    expected=want))
        return errors

    def _check_when(self, name: str, node: NodeSpec, registry: ToolRegistry
                    ) -> list[PlanValidationError]:
        where = ("nodes", name, "when")
        errors = []
        for ref in conditions.condition_refs(node.when):
            err = self._check_ref_field(ref, registry, where, name, "when")
            if err:
                errors.append(err)
        for ref in conditions.numeric_refs(node.when):
            t = self.ref_type(ref, registry)
            if t is not None and t not in ("number", "integer"):
                errors.append(self.error(TypeMismatchError, f"when compares {ref} of type {t} "
                                         "with a number; expected a number or integer", *where,
                                         node=name, task=name, got=t, expected="number"))
        return errors

    def _check_ref_field(self, ref: str, registry: ToolRegistry, where: tuple[Any, ...],
                         node: str | None, what: str) -> PlanValidationError | None:
        r = parse_ref(ref)
        if r is None or r.is_input:
            return None
        src = self.nodes.get(r.source)
        if src is None or src.tool not in registry:
            return None  # reported at load, or as an unknown tool
        fields = registry.tool_class(src.tool).Output.model_fields
        if r.field not in fields:
            return self.error(UnresolvedReferenceError, f"{what} references {ref}, but tool "
                              f"{src.tool!r} has no output {r.field!r}; expected one of "
                              f"{sorted(fields)}", *where, node=node, task=node)
        return None


def _item_input(node: str) -> str:
    return f"__item_{node}"


def _node_refs(node: NodeSpec) -> Iterator[Any]:
    for value in _strings(node.args):
        ref = parse_ref(value)
        if ref is not None:
            yield ref
    if node.when is not None:
        for s in conditions.condition_refs(node.when):
            yield parse_ref(s)
    if isinstance(node.foreach, str):
        yield parse_ref(node.foreach)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


# -- loading ---------------------------------------------------------------------------------


def load_workflow(path: str | os.PathLike[str]) -> Workflow:
    """Read, parse and structurally check a workflow file (no tools needed).

    Raises :class:`~mmagent.errors.PlanValidationError` subclasses whose message starts with
    ``<file>:<line>: node '<node>':``. Check against tools with :meth:`Workflow.check`.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        from mmagent.errors import InputNotFoundError

        raise InputNotFoundError(f"could not read workflow file {str(p)!r}: {e.strerror}; "
                                 "expected a readable .yaml file", file=str(p)) from e
    try:
        text = safe_yaml.decode(data, p.name)
    except safe_yaml.YAMLBoundError as e:
        line = e.problem_mark.line + 1
        raise WorkflowError(f"{p}:{line}: workflow: {e.problem}", file=str(p), line=line,
                            node=None) from None
    return parse_workflow(text, file=str(p), default_name=p.stem)


def parse_workflow(text: str, file: str = "<workflow>",
                   default_name: str | None = None) -> Workflow:
    """Parse workflow YAML ``text``; errors name ``file``."""
    raw, lines = _compose(text, file)
    if not isinstance(raw, dict):
        got = "an empty document" if raw is None else f"a {type(raw).__name__}"
        raise WorkflowError(f"{file}:1: workflow: got {got}; expected a mapping with version, "
                            "inputs, nodes and outputs", file=file, line=1, node=None)
    try:
        wf = Workflow.model_validate(raw)
    except ValidationError as e:
        raise _structure_error(e, raw, lines, file) from None
    wf._file = file
    wf._lines = lines
    if wf.name is None and default_name:
        wf.name = default_name
    _check_structure(wf)
    return wf


def _compose(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """YAML to Python, with the line of every key; duplicate keys are errors."""
    try:
        root = safe_yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        context = getattr(e, "context_mark", None)
        line = mark.line + 1 if mark else 1
        node = _node_at_line(text, context.line + 1 if context else line)
        where = f"node {node!r}" if node else "workflow"
        problem = getattr(e, "problem", None) or str(e)
        if isinstance(e, safe_yaml.YAMLBoundError):  # valid YAML, too big: say only that
            raise WorkflowError(f"{file}:{line}: {where}: {problem}", file=file, line=line,
                                node=node) from None
        if context is not None and getattr(e, "context", None):
            problem = f"{e.context} from line {context.line + 1}: {problem}"
        raise WorkflowError(f"{file}:{line}: {where}: not valid YAML ({problem}); expected a "
                            "YAML mapping", file=file, line=line, node=node) from None
    lines: dict[tuple[Any, ...], int] = {}
    loader = yaml.SafeLoader("")

    def convert(node: yaml.Node, path: tuple[Any, ...]) -> Any:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)  # YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for k, v in node.value:
                key = loader.construct_object(k, deep=True)
                kline = k.start_mark.line + 1
                if not isinstance(key, str | int | float | bool):
                    raise WorkflowError(f"{file}:{kline}: workflow: got a complex mapping key; "
                                        "expected a name", file=file, line=kline, node=None)
                if key in out:
                    n = path[1] if len(path) > 1 and path[0] == "nodes" else (
                        key if path == ("nodes",) else None)
                    where = f"node {n!r}" if n else ".".join(map(str, path + (key,)))
                    raise WorkflowError(f"{file}:{kline}: {where}: key {key!r} appears twice "
                                        f"(first on line {lines[path + (key,)]}); expected each "
                                        "key once", file=file, line=kline, node=n)
                lines[path + (key,)] = kline
                out[key] = convert(v, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [convert(v, path + (i,)) for i, v in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    if root is None:
        return None, lines
    return convert(root, ()), lines


def _node_at_line(text: str, line: int) -> str | None:
    """The node whose block holds ``line`` (for YAML that does not parse)."""
    node, in_nodes, indent = None, False, None
    for raw in text.splitlines()[:line]:
        stripped = raw.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(raw) - len(stripped)
        if depth == 0:
            in_nodes, node, indent = stripped.startswith("nodes:"), None, None
            continue
        if in_nodes:
            indent = depth if indent is None else indent
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*:", stripped)
            if depth == indent and m:
                node = m.group(1)
    return node


_EXPECTED_KEYS = {
    (): Workflow, ("inputs", None): InputSpec, ("nodes", None): NodeSpec,
    ("outputs", None): OutputSpec,
}


def _structure_error(e: ValidationError, raw: dict[str, Any],
                     lines: dict[tuple[Any, ...], int], file: str) -> WorkflowError:
    err = min(e.errors(), key=lambda er: _error_rank(er, raw))
    loc = _user_loc(err["loc"])
    node = loc[1] if len(loc) > 1 and loc[0] == "nodes" else None
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
    dotted = ".".join(str(p) for p in (loc[2:] if node else loc)) or "workflow"
    where = f"node {node!r}: {dotted}" if node and len(loc) > 2 else (
        f"node {node!r}" if node else dotted)
    if node and len(loc) >= 3 and loc[2] == "when":
        got = raw["nodes"][node].get("when")
        msg = (f"got {got!r}; expected a condition: a reference ($input.<name> or "
               "$<node>.<field>), {all: [...]}, {any: [...]}, {not: ...}, or {<reference>: "
               f"{{<operator>: value}}}} with operators {list(conditions.COMPARE_OPS)}")
    elif err["type"] == "extra_forbidden":
        parent = loc[:-1]
        shape = (parent[0], None) if len(parent) == 2 else parent
        model = _EXPECTED_KEYS.get(shape)
        keys = sorted(f.alias or n for n, f in model.model_fields.items()) if model else []
        msg = f"unknown key {loc[-1]!r}" + (f"; expected one of {keys}" if keys else "")
        where = f"node {node!r}" if node and len(loc) == 3 else (
            ".".join(map(str, parent)) or "workflow")
    elif err["type"] == "missing":
        msg = f"missing key {loc[-1]!r}"
        where = f"node {node!r}" if node and len(loc) == 3 else (
            ".".join(map(str, loc[:-1])) or "workflow")
    elif "[key]" in map(str, err["loc"]):
        msg = f"got the name {loc[-1]!r}; expected letters, digits and _ (not starting with a " \
              "digit)"
        where = f"node {node!r}" if node else ".".join(map(str, loc[:-1]))
    else:
        msg = f"got {err['input']!r}: {err['msg']}"
        if loc[:1] == ("outputs",) or (node and loc[2:3] == ("foreach",)):
            msg += " (expected a reference: $<node>.<field> or $input.<name>)"
    return WorkflowError(f"{file}:{line}: {where}: {msg}", file=file, line=line, node=node)


def _user_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic error location without union-branch and key markers."""
    out = [p for p in loc if p != "[key]"]
    if out[:1] == ["outputs"] and len(out) > 2:
        del out[2]  # str | OutputSpec
    if out[:1] == ["nodes"] and len(out) > 3 and out[2] in ("foreach", "when"):
        out = out[:3]
    return tuple(out)


def _error_rank(err: dict[str, Any], raw: dict[str, Any]) -> int:
    """Prefer the union branch that matches what was written (a mapping -> the long form)."""
    loc = err["loc"]
    if len(loc) > 2 and loc[0] == "outputs":
        given = raw.get("outputs", {}).get(loc[1])
        return 0 if (loc[2] == "OutputSpec") == isinstance(given, dict) else 1
    if len(loc) > 3 and loc[0] == "nodes" and loc[2] == "foreach":
        given = raw["nodes"][loc[1]].get("foreach")
        return 0 if str(loc[3]).startswith("list") == isinstance(given, list) else 1
    return 0


def _check_structure(wf: Workflow) -> None:
    """What needs no tools: names, references, $item placement, defaults, cycles."""
    for name in wf.nodes:
        if name in RESERVED:
            raise wf.error(WorkflowError, f"got the reserved node name {name!r}; expected "
                           f"another name (not {list(RESERVED)})", "nodes", name, node=name)
    for name, spec in wf.inputs.items():
        if "default" in spec.model_fields_set and spec.default is not None:
            problem = _input_value_problem(spec.type, spec.default, allow_media=False)
            if problem:
                raise wf.error(WorkflowError, f"default {problem}", "inputs", name, "default")
    for name, node in wf.nodes.items():
        for arg, value in node.args.items():
            for s in _strings(value):
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


def find_workflows(extra: list[Path] | tuple[Path, ...] = ()) -> dict[str, Path]:
    """Workflow names (file stems) to files: shipped ``graphs/*.yaml``, then ``extra`` files
    and folders in order (a later one wins a name)."""
    found: dict[str, Path] = {}
    for entry in [GRAPHS_DIR, *map(Path, extra)]:
        entry = entry.expanduser()
        files = sorted([*entry.glob("*.yaml"), *entry.glob("*.yml")]) if entry.is_dir() \
            else [entry]
        for f in files:
            found[f.stem] = f
    return found


def resolve_workflow(workflow: Any, known: dict[str, Path]) -> Workflow:
    """A loaded workflow from a :class:`Workflow`, a name in ``known``, or a file path."""
    from mmagent.errors import WorkflowNotFoundError

    if isinstance(workflow, Workflow):
        return workflow
    text = os.fspath(workflow)
    if text in known:
        return load_workflow(known[text])
    if Path(text).is_file() or text.endswith((".yaml", ".yml")) or os.sep in text:
        return load_workflow(text)
    raise WorkflowNotFoundError(f"got workflow {text!r}, which is neither a known name nor a "
                                f"file; expected one of {sorted(known)} or a path to a .yaml file",
                                workflow=text)


# -- values ----------------------------------------------------------------------------------


def _input_value_problem(type_: str, value: Any, allow_media: bool = True) -> str | None:
    """Why ``value`` is not a valid ``type_`` (None when it is). Media are checked on ingest."""
    if type_.startswith("list["):
        if not isinstance(value, list):
            return f"got {value!r}; expected a list ({type_})"
        for v in value:
            p = _input_value_problem(type_[5:-1], v, allow_media)
            if p:
                return p
        return None
    if type_ in MEDIA_TYPES:
        return None if allow_media else f"got {value!r}; media inputs take no default"
    ok = {
        "text": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "json": True,
    }[type_]
    return None if ok else f"got {value!r}; expected a {type_}"


def coerce_cli_value(type_: str, text: str) -> Any:
    """A ``--input name=value`` string as ``type_`` (lists come from repeating the option)."""
    base = type_[5:-1] if type_.startswith("list[") else type_
    try:
        if base == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if base == "integer":
            return int(text)
        if base == "boolean":
            if text.lower() in ("true", "yes", "1"):
                return True
            if text.lower() in ("false", "no", "0"):
                return False
            raise ValueError(text)
        if base == "json":
            return json.loads(text)
    except ValueError:
        from mmagent.errors import InputError

        raise InputError(f"got {text!r} for an input of type {type_}; expected a {base}"
                         ) from None
    return text


# -- schema and plans ------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The JSON Schema of workflow files (published as ``graphs/workflow.schema.json``)."""
    schema = Workflow.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


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
        doc["nodes"][t.id] = {"tool": t.tool, "args": dict(t.args)}
        if t.tool in registry:
            for f, field in registry.tool_class(t.tool).Output.model_fields.items():
                if port_type(field.annotation) in ("text",) + MEDIA_TYPES:
                    doc["outputs"][f"{t.id}_{f}"] = f"${t.id}.{f}"
    header = ("# Schema: `mmagent workflow schema` prints it (for editor validation).\n"
              "# Saved by `mmagent run --save-plan`; run it again without the LLM with\n"
              "# `mmagent workflow run FILE --input name=value ...`.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
