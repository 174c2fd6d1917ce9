"""A workflow's inputs as a caller gives them, checked against the inputs it declares before
anything runs or is stored for a run: the one check behind ``Agent.run_workflow`` (and so
``mmagent workflow run``) and every HTTP endpoint that starts a workflow.

1. names: an input the workflow does not declare is :class:`UnknownInputError`; a required
   one not given is :class:`MissingInputError` (all of them named, with what each expects);
2. values: a value of another type, or media of another kind, is :class:`WrongKindError`;
   media are stored by the caller's ``put`` (a path, a data URL, an upload's id), whose errors
   say what the bytes were and are prefixed with the input they were given for.

>>> from mmagent.workflows import parse_workflow
>>> wf = parse_workflow('''
... version: 1
... inputs: {image: {type: image, description: the photo}, speak: {type: boolean, default: true}}
... nodes: {caption: {tool: image_caption, args: {image: $input.image}}}
... outputs: {text: $caption.text}''', default_name="caption")
>>> try:
...     bind_inputs(wf, {"speak": False}, put=None)  # names are checked before anything is put
... except MissingInputError as e:
...     print(e.code, e)
input.missing got no input 'image' for workflow 'caption'; expected an image (the photo)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mmagent.artifacts._store import ArtifactKind, ArtifactRef
from mmagent.errors import InputError, MissingInputError, UnknownInputError, WrongKindError
from mmagent.workflows._check import input_value_problem, short_value
from mmagent.workflows._spec import InputSpec, Workflow, type_phrase

__all__ = ["bind_inputs", "Put"]

Put = Callable[[Any, ArtifactKind], ArtifactRef]
"""Stores one media value (a path, a URL, an upload's id...) as the kind given."""
_MEDIA: tuple[ArtifactKind, ...] = ("image", "audio", "video")
_MOST_NAMED = 5  # unknown names echoed back: a request may send thousands


def bind_inputs(wf: Workflow, given: Mapping[str, Any], put: Put) -> dict[str, Any]:
    """``given`` checked against ``wf``'s inputs, media stored by ``put``: name -> value
    (an :class:`ArtifactRef`, or a list of them, for media). An optional input not given (or
    given as None) is left out. Names are checked before any value, values in the order
    given; nothing is stored when a name is wrong."""
    name = wf.name or wf.file
    unknown = sorted(set(given) - set(wf.inputs))
    if unknown:
        raise UnknownInputError(
            f"got {_names(unknown)} for workflow {name!r}, which it does not declare; "
            f"expected {_declared(wf)}", workflow=name,
            inputs=[n[:40] for n in unknown[:_MOST_NAMED]])
    missing = [n for n, spec in wf.inputs.items() if spec.required and given.get(n) is None]
    if missing:
        raise MissingInputError(
            f"got no {_names(missing, ' or ')} for workflow {name!r}; expected "
            + (_expects(wf.inputs[missing[0]]) if len(missing) == 1 else
               ", ".join(f"{n!r}: {_expects(wf.inputs[n])}" for n in missing)),
            workflow=name, inputs=missing)
    bound: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        try:
            bound[key] = _value(wf.inputs[key].type, value, put)
        except InputError as e:
            raise e.within(f"input {key!r} of workflow {name!r}") from e
    return bound


def _value(type_: str, value: Any, put: Put) -> Any:
    base = type_[5:-1] if type_.startswith("list[") else type_
    kind = next((k for k in _MEDIA if k == base), None)
    if kind is None:
        problem = input_value_problem(type_, value)
        if problem:
            raise WrongKindError(problem)
        return value
    if type_.startswith("list["):  # one item is a list of one
        return [put(v, kind) for v in (value if isinstance(value, list | tuple) else [value])]
    if isinstance(value, list | tuple):
        raise WrongKindError(f"got a list of {len(value)} ({short_value(value)}); expected "
                             f"{type_phrase(type_)}, not a list")
    return put(value, kind)


def _names(names: list[str], joiner: str = ", ") -> str:
    shown = [repr(n[:40]) for n in names[:_MOST_NAMED]]
    more = f" and {len(names) - _MOST_NAMED} more" if len(names) > _MOST_NAMED else ""
    return ("input " if len(names) == 1 else "inputs ") + joiner.join(shown) + more


def _expects(spec: InputSpec) -> str:
    return type_phrase(spec.type) + (f" ({spec.description})" if spec.description else "")


def _declared(wf: Workflow) -> str:
    if not wf.inputs:
        return "no inputs"
    return "inputs among " + ", ".join(f"{n!r} ({type_phrase(s.type)})"
                                       for n, s in wf.inputs.items())
