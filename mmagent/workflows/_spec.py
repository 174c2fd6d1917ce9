"""The workflow models: what a workflow file holds, as pydantic models (no tools needed).

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

Reading a file is :mod:`mmagent.workflows._parse`; checking it against the tools is
:mod:`mmagent.workflows._check`.

>>> wf = Workflow.model_validate({
...     "version": 1, "inputs": {"image": {"type": "image"}},
...     "nodes": {"caption": {"tool": "image_caption", "args": {"image": "$input.image"}},
...               "speak": {"tool": "text_to_speech", "args": {"text": "$caption.text"}}},
...     "outputs": {"speech": "$speak.audio"}})
>>> wf.topological_order(), wf.dependencies("speak"), wf.output_refs()
(['caption', 'speak'], {'caption'}, {'speech': '$speak.audio'})
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from mmagent.artifacts._described import kind_phrase
from mmagent.errors import PlanValidationError
from mmagent.plan._ir import TASK_ID_PATTERN, Plan, parse_ref, strings, topological
from mmagent.workflows import _conditions as conditions
from mmagent.workflows._conditions import Condition, RefStr

if TYPE_CHECKING:
    from mmagent.artifacts._store import MediaLimits
    from mmagent.toolkit._registry import ToolRegistry

__all__ = ["Workflow", "InputSpec", "NodeSpec", "OutputSpec", "ITEM", "INPUT_TYPES", "RESERVED",
           "node_refs", "strings", "type_phrase"]

ITEM = "$item"
"""In the args of a ``foreach`` node: the current item."""
SCALAR_TYPES = ("image", "audio", "video", "text", "number", "integer", "boolean", "json")
INPUT_TYPES = SCALAR_TYPES + tuple(f"list[{t}]" for t in SCALAR_TYPES)
InputType = Literal[
    "image", "audio", "video", "text", "number", "integer", "boolean", "json",
    "list[image]", "list[audio]", "list[video]", "list[text]", "list[number]", "list[integer]",
    "list[boolean]", "list[json]",
]
_PLURALS = {"image": "images", "audio": "audio files", "video": "videos", "text": "texts",
            "number": "numbers", "integer": "integers", "boolean": "booleans",
            "json": "JSON values"}
RESERVED = ("input", "item")
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
NodeName = Annotated[str, Field(pattern=TASK_ID_PATTERN)]


def type_phrase(type_: str) -> str:
    """What an input of ``type_`` expects, in words: "an image", "a list of numbers"."""
    if type_.startswith("list["):
        return f"a list of {_PLURALS[type_[5:-1]]}"
    if type_ in ("image", "audio", "video"):
        return kind_phrase(type_)
    return {"integer": "an integer", "json": "a JSON value"}.get(type_, f"a {type_}")


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
        # the validator gave every output its long form
        return {name: cast(OutputSpec, o).from_ for name, o in self.outputs.items()}

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
        from mmagent.workflows._check import problems  # _check imports this module

        return problems(self, registry, limits)

    def validation_plan(self, registry: ToolRegistry | None = None
                        ) -> tuple[Plan, dict[str, str]]:
        """The plan IR the validator checks, and the input types it is checked against (see
        :func:`mmagent.workflows._check.validation_plan`)."""
        from mmagent.workflows._check import validation_plan  # _check imports this module

        return validation_plan(self, registry)

    def dependencies(self, name: str) -> set[str]:
        """Nodes that ``name`` needs: through its args, its ``when`` and its ``foreach``."""
        return {r.source for r in node_refs(self.nodes[name]) if not r.is_input}

    def topological_order(self) -> list[str]:
        return topological({n: self.dependencies(n) & self.nodes.keys() for n in self.nodes})


def node_refs(node: NodeSpec) -> Iterator[Any]:
    """The references of a node: in its args, its ``when`` and its ``foreach``."""
    for value in strings(node.args):
        ref = parse_ref(value)
        if ref is not None:
            yield ref
    if node.when is not None:
        for s in conditions.condition_refs(node.when):
            yield parse_ref(s)
    if isinstance(node.foreach, str):
        yield parse_ref(node.foreach)

