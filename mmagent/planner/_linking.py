"""Linking grounded tools into a plan: ports wired by type, literals taken from the request.

Each input port takes the latest earlier result of its type that nothing consumed yet
(preferring pairs the bank has seen linked), else a request input of its kind, else a literal
from the request itself — a value that fits the port's card (an e-mail address, a language, a
size: :mod:`mmagent.planner._slots`), a quoted string, a URL, a number next to its unit, the
clause that asked for the step — never a value copied from a demonstration.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from mmagent.plan._ir import Plan, parse_ref
from mmagent.planner._slots import entities, port_entity, slot_value
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["link", "sinks"]

_MEDIA = ("image", "audio", "video")

# ---------------------------------------------------------------------------------------------
# 3. linking by types, literals from the request
# ---------------------------------------------------------------------------------------------

_URL = re.compile(r"(?:https?://)?(?:www\.)?[\w\-]+(?:\.[\w\-]+)*\.(?:com|org|net|io|edu|gov)"
                  r"(?:/[\w\-./?=&%#]*)?", re.IGNORECASE)
_TEXT_FILE = re.compile(r"[\w\-]+\.(?:txt|md|csv|json|pdf|docx?)\b", re.IGNORECASE)
_QUOTE_TEXT = re.compile(r"'([^']{3,})'|\"([^\"]{3,})\"|“([^”]{3,})”")
_FILE_LIKE = re.compile(r"^[\w\-./]+\.\w{2,4}$")
_LEAD = re.compile(
    r"^(?:(?:please|kindly|now|then|also|and|finally|next|i(?:'d| would) like(?: you)? to|"
    r"i want(?: you)? to|i need(?: you)? to|can you|could you|would you|help me|let's|"
    r"(?:go ahead and)|for me)\s+)+", re.IGNORECASE)
_PROMPT_VERB = re.compile(
    r"^(?:draw|paint|sketch|generate|create|make|render|produce|compose|write|design|"
    r"illustrate|imagine|show me|give me)\s+(?:me\s+)?(?:(?:an?|some|the)\s+)?"
    r"(?:(?:image|picture|photo|painting|drawing|illustration|video|clip|animation|song|"
    r"piece|track|tune|soundtrack)\s+(?:of|showing|with|about)\s+)?", re.IGNORECASE)
_SAY = re.compile(r"^(?:say|speak|read(?: out)?)\s+|\s+(?:aloud|out loud)(?:\s+for (?:me|us))?$",
                  re.IGNORECASE)
_POINTER = re.compile(r"^(?:it|this|that|them|these|those|(?:the|its|their) (?:result|answer|"
                      r"text|caption|description|summary|transcript|translation)s?)$",
                      re.IGNORECASE)
"""Words to speak that point at an earlier result ("read it out loud for me"): no literal."""
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20,
                 "thirty": 30}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")"


def _number(text: str) -> float:
    return float(_NUMBER_WORDS.get(text.lower(), 0) or text)


def _quotes(request: str) -> list[str]:
    out = []
    for groups in _QUOTE_TEXT.findall(request):
        value = next(g for g in groups if g)
        if not _FILE_LIKE.match(value.strip()):
            out.append(value)
    return out


def _clean(clause: str) -> str:
    return _LEAD.sub("", clause.strip()).strip(" .?!")


def _literal(field_name: str, description: str, kind: str, clause: str, request: str,
             quotes: list[str]) -> Any:
    """A value for a literal input, from the request only."""
    described = f"{field_name} {description}".lower()
    if kind == "text":
        if "url" in described:
            urls = [u.rstrip(".") for u in _URL.findall(request)]
            if urls:
                return urls[0]
        if quotes:
            return quotes.pop(0)
        files = _TEXT_FILE.findall(request)
        if files and "text" in described and "(positional" in described:
            return files[0]
        if field_name == "question":
            asked = [q.strip() for q in re.findall(r"[^.?!]*\?", request)]
            return asked[0] if asked else _clean(clause)
        text = _clean(clause)
        if field_name in ("prompt", "query", "instruction"):
            text = _PROMPT_VERB.sub("", text).strip() or text
        elif field_name == "text":  # words to speak: what follows a colon, else the clause
            said = request.split(":", 1)[1] if ":" in request else text
            text = _SAY.sub("", said.strip()).strip(" .!") or text
            if _POINTER.match(text):
                return None
        return text or request
    if kind == "list[text]":
        options = re.split(r",\s*|\s+or\s+|\s+and\s+", _clean(clause))
        options = [re.sub(r"^(?:is (?:this|it)|an?|the)\s+", "", o, flags=re.I).strip(" ?.")
                   for o in options]
        return [o for o in options if o] or [_clean(clause)]
    return None


def _number_literal(field_name: str, kind: str, request: str) -> float | int | None:
    """Optional numbers the request states with their unit: durations, counts."""
    if field_name in ("duration", "seconds"):
        m = re.search(_NUM + r"[\s-]*(?:s\b|secs?\b|seconds?\b)", request, re.IGNORECASE)
    elif field_name in ("count", "frames", "top_k"):
        m = (re.search(r"\b(?:top|best)\s+" + _NUM + r"\b|\b" + _NUM + r"\s+(?:best|top)\b",
                       request, re.IGNORECASE)
             or re.search(_NUM + r"\s+(?:\w+\s+)?(?:frames|images|pictures|pics|stills|photos|"
                          r"shots|results)", request, re.IGNORECASE))
    else:
        return None
    if not m:
        return None
    value = _number(next(g for g in m.groups() if g is not None))
    return int(value) if kind == "integer" else value


@dataclass
class _State:
    """What linking has made so far: the tasks, their outputs, what is consumed."""

    request: str
    inputs: dict[str, str]
    links: dict[tuple[str, str], int]
    found: dict[str, Any]
    quotes: list[str]
    unused_inputs: list[str]
    steps: list[tuple[str, str]] = field(default_factory=list)
    """(tool, clause) of every task to link, in order"""
    each: dict[int, str] = field(default_factory=dict)
    """task index -> the argument it runs over, item by item (a list fed to a single port)"""
    consumed: set[tuple[str, str]] = field(default_factory=set)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[list[tuple[str, str]]] = field(default_factory=list)


def link(tools: Sequence[str], clauses: Sequence[str], request: str, inputs: dict[str, str],
         registry: ToolRegistry, links: dict[tuple[str, str], int] | None = None) -> Plan:
    """Turn grounded tools (in order, each with the clause that asked for it) into a plan:
    every port wired to an earlier result of its type, a request input of its kind, or a
    literal from the request.

    An input port prefers the latest earlier result of its type that no task consumes yet (one
    that the bank has seen feed this tool first), then an unused request input, then any
    earlier result; a text port with no result to take gets a literal. Optional ports are
    filled only with a request input nobody else takes, a value that fits the port's card, or
    a number the request states.
    """
    st = _State(request=request, inputs=inputs, links=links or {}, found=entities(request),
                quotes=_quotes(request), unused_inputs=list(inputs),
                steps=list(zip(tools, clauses, strict=True)))
    for i, (tool, clause) in enumerate(zip(tools, clauses, strict=True)):
        cls = registry.tool_class(tool)
        args: dict[str, Any] = {}
        literal_first = _literal_ports(st, i, cls.Input.model_fields)
        for name, info in cls.Input.model_fields.items():
            value = _port_value(st, i, tool, name, info, clause, name in literal_first)
            if value is not None:
                args[name] = value
        task: dict[str, Any] = {"id": f"t{i + 1}", "tool": tool, "args": args}
        outputs = [(f, port_type(o.annotation)) for f, o in cls.Output.model_fields.items()]
        if i in st.each:  # one output per item
            task["each"] = st.each[i]
            outputs = [(f, f"list[{k}]") for f, k in outputs]
        st.tasks.append(task)
        st.outputs.append(outputs)
    return Plan(deliver=sinks(st.tasks, st.outputs), tasks=st.tasks)


def _free(st: _State, i: int, kind: str) -> list[tuple[int, str]]:
    """Earlier results of ``kind`` nothing consumes yet, latest first. A task whose result of
    a kind was consumed offers no other of that kind (an MCP tool's ``text`` beside its
    structured ``result`` is the same answer). A twin (the same tool for the same clause:
    "two logos") is made beside, not from, its twin."""
    base = kind[5:-1] if kind.startswith("list[") else kind
    out = []
    for j in range(i - 1, -1, -1):
        if st.steps[j] == st.steps[i]:
            continue
        fields = [(f, k) for f, k in st.outputs[j]
                  if k == kind or (kind.startswith("list[") and k == base)]
        taken = {k for f, k in fields if (st.tasks[j]["id"], f) in st.consumed}
        out += [(j, f) for f, k in fields if k not in taken]
    return out


def _literal_ports(st: _State, i: int, fields: dict[str, Any]) -> set[str]:
    """The required text ports of a tool that take a value of the request rather than an
    earlier result: those a value fits (an address for ``to``), and — when there are fewer
    earlier results (one per task) than such ports — the first ones, so that the results go
    to the last ports (``to, subject, body``: the summary is the body)."""
    texts = [n for n, f in fields.items() if f.is_required() and port_type(f.annotation) == "text"]
    fitted = {n for n in texts if slot_value(n, fields[n].description or "", st.found) is not None}
    rest = [n for n in texts if n not in fitted]
    results = len({j for j, _f in _free(st, i, "text")})
    return fitted | set(rest[: max(0, len(rest) - results)] if results else [])


def _port_value(st: _State, i: int, tool: str, name: str, info: Any, clause: str,
                literal_first: bool = False) -> Any:
    kind = port_type(info.annotation)
    base = kind[5:-1] if kind.startswith("list[") else kind
    required = info.is_required()
    earlier = [(j, f) for j in range(i - 1, -1, -1) for f, k in st.outputs[j]
               if k == kind or (kind.startswith("list[") and k == base)]
    free = [] if literal_first else _free(st, i, kind)
    files = [n for n in st.unused_inputs if st.inputs[n] == base]
    if kind.startswith("list[") and base in _MEDIA:
        return _gather(st, free, files, base)
    if free and (required or base in _MEDIA):
        j, f = max(free, key=lambda jf: (st.links.get((st.tasks[jf[0]]["tool"], tool), 0) > 0,
                                         jf[0]))
        st.consumed.add((st.tasks[j]["id"], f))
        return f"${st.tasks[j]['id']}.{f}"
    listed = [(j, f) for j, f in _free(st, i, f"list[{kind}]") if kind in _MEDIA and required
              and not files and (f, f"list[{kind}]") in st.outputs[j]]
    if listed:  # "a caption for each frame": the task runs over the list, item by item
        j, f = listed[0]
        st.consumed.add((st.tasks[j]["id"], f))
        st.each[i] = name
        return f"${st.tasks[j]['id']}.{f}"
    if files:
        st.unused_inputs.remove(files[0])
        return f"$input.{files[0]}"
    fitted = slot_value(name, info.description or "", st.found, optional=not required)
    if fitted is None and not required and port_entity(name, info.description or "") in (
            "width", "height"):  # "768x512" sets an optional size the port accepts
        fitted = _accepted(info, slot_value(name, info.description or "", st.found))
    if fitted is not None and kind in ("text", "integer", "number"):
        return fitted
    if not required:  # a number the port cannot take ("400 pics" for a top 100) is not set
        return _accepted(info, _number_literal(name, kind, st.request))
    if earlier and base in _MEDIA:
        j, f = earlier[0]
        return f"${st.tasks[j]['id']}.{f}"
    if base in _MEDIA:
        same = [n for n in st.inputs if st.inputs[n] == base]
        return f"$input.{same[0]}" if same else None
    return _literal(name, info.description or "", kind, clause, st.request, st.quotes)


def _accepted(info: Any, value: Any) -> Any:
    """``value`` if the port's own constraints accept it (a size the model can make), else
    None."""
    if value is None:
        return None
    try:
        return TypeAdapter(Annotated[info.annotation, info]).validate_python(value)
    except ValidationError:
        return None


def _gather(st: _State, free: list[tuple[int, str]], files: list[str], base: str) -> Any:
    """A list port gathers every unconsumed earlier result and input of its kind."""
    refs = [f"${st.tasks[j]['id']}.{f}" for j, f in free]
    singles = [r for r in refs if not _is_list_output(r, st.tasks, st.outputs)]
    singles += [f"$input.{n}" for n in files]
    lists = [r for r in refs if _is_list_output(r, st.tasks, st.outputs)]
    if not (singles or lists):  # every input of the kind, even if another task reads it
        given = [f"$input.{n}" for n in st.inputs if st.inputs[n] == base]
        return given or None
    st.consumed.update((st.tasks[j]["id"], f) for j, f in free)
    st.unused_inputs = [n for n in st.unused_inputs if n not in files]
    return singles if singles else lists[0]


def _is_list_output(value: str, tasks: list[dict[str, Any]],
                    outputs: list[list[tuple[str, str]]]) -> bool:
    ref = parse_ref(value)
    if ref is None or ref.is_input:
        return False
    j = next(i for i, t in enumerate(tasks) if t["id"] == ref.source)
    return any(f == ref.field and k.startswith("list[") for f, k in outputs[j])


def sinks(tasks: list[dict[str, Any]], outputs: list[list[tuple[str, str]]]) -> list[str]:
    """What the plan delivers: the media (else text) of the tasks nothing consumes."""
    used = {ref.source for t in tasks for v in t["args"].values()
            for ref in ([parse_ref(v)] if not isinstance(v, list) else map(parse_ref, v)) if ref}
    kinds = []
    for task, outs in zip(tasks, outputs, strict=True):
        if task["id"] not in used:
            media = [k for _f, k in outs if k in _MEDIA]
            kinds.append(media[0] if media else "text")
    return list(dict.fromkeys(kinds)) or ["text"]
