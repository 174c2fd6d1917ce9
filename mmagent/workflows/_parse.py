"""Reading workflow files: YAML within bounds to a :class:`Workflow`, every key's line kept.

Parsing is strict: unknown keys, duplicate keys and bad references are errors, and every error
names the file, the node and the line (``<file>:<line>: node '<node>': ...``), also for YAML
that does not parse. The structure is checked next (``_check.check_structure``); checking
against the tools is :meth:`Workflow.check`.

>>> wf = parse_workflow('''
... version: 1
... inputs: {image: {type: image}}
... nodes:
...   caption: {tool: image_caption, args: {image: $input.image}}
... outputs: {caption: $caption.text}
... ''', file="mine.yaml")
>>> wf.name, wf.line("nodes", "caption")
(None, 5)
>>> try:
...     parse_workflow("{version: 1, nodes: {a: {tool: x, tol: 1}}, outputs: {o: $a.t}}", "b.yaml")
... except WorkflowError as e:
...     print(e.message.split(";")[0])
b.yaml:1: node 'a': unknown key 'tol'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mmagent.config import _yaml as safe_yaml
from mmagent.errors import InputNotFoundError, WorkflowError
from mmagent.workflows import _conditions as conditions
from mmagent.workflows._check import check_structure
from mmagent.workflows._spec import InputSpec, NodeSpec, OutputSpec, Workflow

__all__ = ["load_workflow", "parse_workflow"]


def load_workflow(path: str | os.PathLike[str]) -> Workflow:
    """Read, parse and structurally check a workflow file (no tools needed).

    Raises :class:`~mmagent.errors.PlanValidationError` subclasses whose message starts with
    ``<file>:<line>: node '<node>':``. Check against tools with :meth:`Workflow.check`.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
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
    check_structure(wf)
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
