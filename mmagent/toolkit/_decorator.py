"""``@tool``: a typed plain function as a :class:`~mmagent.toolkit.Tool` (smolagents' ``tool()``).

The signature gives the inputs: each parameter is a port whose type is its type hint (``str``
text, ``float`` number, ``int`` integer, ``bool`` boolean, ``ImageRef`` / ``AudioRef`` /
``VideoRef`` media, lists and ``Literal`` of these; anything else pydantic validates is json)
and whose default is its default. A parameter annotated :class:`ToolContext` receives the run's
context (the artifact store, progress events) and is no port. A port is described by
``Annotated[T, Field(description=..., ge=...)]`` (which carries its bounds too) or by its line
under ``Args:`` in the docstring; the docstring's text before its first section is the tool's
description.

The return type gives the outputs: a pydantic model other than a media reference (its fields;
return an instance or a dict),
a ``TypedDict`` (its keys; return a dict), or any other type: one output, named ``output`` unless
``@tool(output="...")`` names it, described under ``Returns:``.

``@tool`` returns a Tool subclass (``CamelCase`` of the function's name), checked when defined
like any tool; its ``function`` attribute is the plain function. The function runs once per
input of a batch.

>>> from typing import Annotated
>>> from pydantic import Field
>>> @tool(output="text")
... def shout(text: Annotated[str, Field(max_length=100)], times: int = 1) -> str:
...     '''Upper-cases a text and repeats it.
...
...     Args:
...         text: what to shout
...         times: how many times to say it
...
...     Returns:
...         the shout
...     '''
...     return " ".join([text.upper()] * times)
>>> shout.__name__, shout.card()["inputs"]["times"]
('Shout', {'type': 'integer', 'description': 'how many times to say it', 'required': False, \
'default': 1})
>>> shout()(text="hi", times=2).text
'HI HI'
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import ToolExecutionError
from mmagent.toolkit._base import Ports, Tool, ToolContext

__all__ = ["tool", "FunctionTool"]

_SECTIONS = {"args", "arguments", "parameters", "returns", "return", "raises", "example",
             "examples", "note", "notes"}
_ENTRY = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class FunctionTool(Tool):
    """What ``@tool`` makes: ``run`` calls ``function`` once per input."""

    function: ClassVar[Callable[..., Any]]
    context_arg: ClassVar[str | None] = None
    """The parameter that receives the :class:`ToolContext`, if the function takes one."""
    single_output: ClassVar[str | None] = None
    """The output the return value fills, when the function returns one value."""
    category = "utility"

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        outputs = []
        for inp in inputs:
            args = {name: getattr(inp, name) for name in type(inp).model_fields}
            if self.context_arg is not None:
                args[self.context_arg] = ctx
            outputs.append(self._output(type(self).function(**args)))
        return outputs

    def _output(self, value: Any) -> BaseModel:
        if isinstance(value, self.Output):
            return value
        try:
            if self.single_output is not None:
                return self.Output(**{self.single_output: value})
            return self.Output.model_validate(
                value.model_dump() if isinstance(value, BaseModel) else value)
        except ValidationError as e:
            raise ToolExecutionError(
                f"tool {self.name!r}: got {str(value)[:80]!r} from its function; expected "
                f"{list(self.Output.model_fields)} ({e.errors()[0]['msg']})", tool=self.name) from e


def tool(function: Callable[..., Any] | None = None, *, name: str | None = None,
         description: str | None = None, output: str = "output", category: str = "utility",
         deterministic: bool = True, version: str = "1") -> Any:
    """Turn ``function`` into a Tool subclass; use as ``@tool`` or ``@tool(output=...)``.

    ``name`` defaults to the function's name and ``description`` to its docstring; ``output``
    names the single output of a function that returns one value. A function that samples
    without a seed sets ``deterministic=False`` (its results are never cached).
    """
    def wrap(fn: Callable[..., Any]) -> type[FunctionTool]:
        return _tool_class(fn, name=name or fn.__name__, description=description,
                           output=output, category=category, deterministic=deterministic,
                           version=version)

    return wrap if function is None else wrap(function)


def _tool_class(fn: Callable[..., Any], *, name: str, description: str | None, output: str,
                **attrs: Any) -> type[FunctionTool]:
    where = f"tool function {fn.__qualname__}"
    doc = _Docstring(fn.__doc__)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except NameError as e:
        raise TypeError(f"{where}: could not resolve its type hints ({e}); expected types "
                        "defined at module level") from e
    camel = "".join(part.capitalize() for part in name.split("_"))
    fields: dict[str, Any] = {}
    context_arg = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{where}: got parameter {param}; expected named parameters only")
        if param.name not in hints:
            raise TypeError(f"{where}: parameter {param.name!r} has no type hint; expected one "
                            "(str, int, float, bool, ImageRef, AudioRef, VideoRef, list[...])")
        if hints[param.name] is ToolContext:
            context_arg = param.name
            continue
        default = ... if param.default is param.empty else param.default
        fields[param.name] = _field(where, f"parameter {param.name!r}", hints[param.name],
                                    default, doc.args.get(param.name), "Args:")
    if "return" not in hints:
        raise TypeError(f"{where}: expected a return type (the tool's outputs)")
    output_model, single = _outputs(where, camel, hints["return"], output, doc)
    namespace = {
        "__module__": fn.__module__, "__qualname__": camel, "__doc__": fn.__doc__,
        "name": name, "description": description or doc.description,
        "Input": _model(camel, "Input", fields),
        "Output": output_model, "function": staticmethod(fn), "context_arg": context_arg,
        "single_output": single, **attrs,
    }
    return type(camel, (FunctionTool,), namespace)


def _outputs(where: str, camel: str, ret: Any, output: str,
             doc: _Docstring) -> tuple[type[BaseModel], str | None]:
    """The Output model and, for a single returned value, the name of the output it fills."""
    if isinstance(ret, type) and issubclass(ret, BaseModel) and not issubclass(ret, ArtifactRef):
        return ret, None
    if typing.is_typeddict(ret):
        keys = typing.get_type_hints(ret, include_extras=True)
        fields = {k: _field(where, f"output {k!r}", t, ..., doc.returns.get(k), "Returns:")
                  for k, t in keys.items()}
        return _model(camel, "Output", fields), None
    described = doc.returns.get(output) or doc.returns_text or None
    field = _field(where, f"output {output!r}", ret, ..., described, "Returns:")
    return _model(camel, "Output", {output: field}), output


def _model(camel: str, name: str, fields: dict[str, Any]) -> type[BaseModel]:
    """``Input``/``Output`` of the tool class ``camel``, as a nested class would be named."""
    model = create_model(name, __base__=Ports, **fields)
    model.__qualname__ = f"{camel}.{name}"
    return model


def _field(where: str, what: str, hint: Any, default: Any, described: str | None,
           section: str) -> tuple[Any, Any]:
    """A pydantic field for ``hint``: described by its ``Annotated`` Field, else the docstring."""
    annotated = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, FieldInfo)]
    if any(m.description for m in annotated):
        return hint, default
    if not described:
        raise TypeError(f"{where}: {what} has no description; expected Annotated[..., "
                        f"Field(description=...)] or a line under {section} in the docstring")
    return hint, Field(default, description=described)


class _Docstring:
    """A Google-style docstring: the description (text before the first section), the
    ``name: text`` entries under ``Args:`` and ``Returns:``, and the ``Returns:`` text."""

    def __init__(self, doc: str | None) -> None:
        sections: dict[str, list[str]] = {"": []}
        current = ""
        for line in inspect.cleandoc(doc or "").splitlines():
            header = line.strip().rstrip(":").lower()
            if not line.startswith(" ") and line.rstrip().endswith(":") and header in _SECTIONS:
                current = header
                sections[current] = []
            elif line.lstrip().startswith(">>>") and current == "":
                current = "examples"
                sections[current] = []
            else:
                sections[current].append(line)
        self.description = " ".join(" ".join(sections[""]).split())
        self.args = _entries(sections.get("args") or sections.get("arguments")
                             or sections.get("parameters") or [])
        returns = sections.get("returns") or sections.get("return") or []
        self.returns = _entries(returns)
        self.returns_text = " ".join(" ".join(returns).split())


def _entries(lines: list[str]) -> dict[str, str]:
    """``name: text`` lines (continued by deeper-indented lines) as ``{name: text}``."""
    body = [ln for ln in lines if ln.strip()]
    if not body:
        return {}
    indent = min(len(ln) - len(ln.lstrip()) for ln in body)
    out: dict[str, str] = {}
    last = None
    for ln in body:
        match = _ENTRY.match(ln.strip())
        if len(ln) - len(ln.lstrip()) == indent and match:
            last = match.group(1)
            out[last] = match.group(2)
        elif last is not None:
            out[last] += " " + ln.strip()
    return {k: " ".join(v.split()) for k, v in out.items()}
