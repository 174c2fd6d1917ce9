"""Grounded planning: step phrases grounded to tools, linked by their typed ports.

A small LLM picks tools no better than a sentence-embedding lookup and almost never links two
steps right (measured: see the README's TaskBench table). So the planner first builds the plan
without it, from three sources of evidence, and calls the LLM only when that fails:

1. **Steps.** The request is cut into clauses (``"extract the audio, then transcribe it"`` ->
   two clauses). Each clause is matched against the step phrases of the demonstration bank —
   every worked example's plan, each task labelled with the phrase that asked for it — and the
   ``k`` nearest phrases vote for their tools (weighted by similarity).
2. **Cards.** The clause's similarity to each tool card (name, description, ports) adds a
   smaller vote, so a tool no demonstration uses can still be chosen.
3. **Plan structures.** The tools of the ``neighbours`` demonstrations most similar to the whole
   request add a prior: requests that read alike use the same tools.

A clause whose best step phrase is less similar than ``tau`` asks for no tool ("I have a photo
'a.jpg'"). The chosen tools, in the order the request names them, are then linked by types
(:func:`link`): each input port takes the latest earlier result of its type that nothing else
consumed yet, else a request input of that kind, else a literal taken from the request itself —
a quoted string, a URL, a number next to its unit, the clause that asked for the step — never a
value copied from a demonstration.

>>> split_clauses("I have 'a.jpg'. Caption it, then read the caption aloud.")
["I have 'a.jpg'", 'Caption it', 'read the caption aloud']
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmagent.plan._ir import Plan, parse_ref
from mmagent.planner._demos import Demo, DemoBank
from mmagent.planner._embed import Embedder, embed_cached
from mmagent.planner._retrieval import card_text, registry_fingerprint
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["GroundingSettings", "Grounder", "Grounding", "split_clauses", "link",
           "align_steps"]

_MEDIA = ("image", "audio", "video")


@dataclass(frozen=True)
class GroundingSettings:
    """The knobs of :class:`Grounder` (``planner.grounding`` in ``mmagent.yaml``)."""

    k: int = 11
    """nearest step phrases that vote for a clause's tool (at most one in 50 of the bank's
    phrases, at least 1: in a small bank the 11th nearest phrase is noise)"""
    tau: float = 0.4
    """a clause whose nearest step phrase is less similar than this asks for no tool"""
    card_weight: float = 0.2
    """weight of the clause's similarity to each tool card"""
    neighbour_weight: float = 0.6
    """weight of the tools used by the most similar demonstrations"""
    neighbours: int = 5
    """how many similar demonstrations form that prior"""
    neighbour_floor: float = 0.5
    """a demonstration less similar than this to the request adds nothing to the prior"""
    structure_floor: float = 0.55
    """the most similar demonstration (same kinds of input), if at least this similar, lends
    its whole plan structure when the grounded tools are a part of it (one clause can ask for
    two steps: "a clip with music") ..."""
    structure_margin: float = 0.1
    """... and when every demonstration with other tools is this much less similar"""


@dataclass
class Grounding:
    """What grounding found: one tool per step clause, in request order."""

    clauses: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    takers: dict[str, str] = field(default_factory=dict)
    """For each kind of input the user gave, the tool best suited to take it."""


# ---------------------------------------------------------------------------------------------
# 1. clauses
# ---------------------------------------------------------------------------------------------

_SPLIT = re.compile(r",|;|\.\s|\.$|\?\s|\?$|!\s|!$|\bthen\b|\band\b|\bfinally\b|\bafter that\b|"
                    r"\badditionally\b|\balso\b|\bnext\b|\bafterwards\b|\bonce\b", re.IGNORECASE)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”")


def split_clauses(text: str) -> list[str]:
    """Cut a request into clauses at punctuation and sequencing words, keeping quoted strings
    and file names (``a.jpg``) whole."""
    kept: dict[str, str] = {}

    def keep(m: re.Match[str]) -> str:
        key = f"\x00{len(kept)}\x00"
        kept[key] = m.group(0)
        return key

    masked = _QUOTED.sub(keep, text)
    masked = re.sub(r"(\w)\.(\w)", "\\1\x01\\2", masked)
    clauses = []
    for part in _SPLIT.split(masked):
        part = (part or "").strip(" \t\n-:")
        if len(part) <= 3:
            continue
        for key, value in kept.items():
            part = part.replace(key, value)
        clauses.append(part.replace("\x01", "."))
    return clauses


# ---------------------------------------------------------------------------------------------
# 2. the step index: demonstrations' step phrases labelled with their tools
# ---------------------------------------------------------------------------------------------


def align_steps(phrases: Sequence[str], tools: Sequence[str], phrase_vectors: np.ndarray,
                tool_vectors: np.ndarray) -> list[tuple[int, str]]:
    """Label phrases with tools one to one, most similar pairs first (greedy assignment):
    a demonstration's steps are not always written in its tasks' order. Returns
    ``(phrase index, tool)`` pairs; phrases left over (more phrases than tasks) get none."""
    sims = phrase_vectors @ tool_vectors.T
    pairs = sorted((-sims[i, j], i, j) for i in range(len(phrases)) for j in range(len(tools)))
    used_p: set[int] = set()
    used_t: set[int] = set()
    out = []
    for _s, i, j in pairs:
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        out.append((i, tools[j]))
    return out


@dataclass
class _Index:
    tools: list[str]
    card_vectors: np.ndarray
    phrases: list[str]
    labels: list[str]
    phrase_vectors: np.ndarray
    demos: list[Demo]
    demo_vectors: np.ndarray
    links: dict[tuple[str, str], int]


class Grounder:
    """Grounds a request's clauses to tools and links them into a :class:`Plan`.

    ``bank`` supplies the step phrases and plan structures; with no demonstration the registry
    can run, :meth:`propose` declines and the LLM plans. Vectors are computed once per bank
    and registry.
    """

    def __init__(self, bank: DemoBank | None, embedder: Embedder,
                 settings: GroundingSettings | None = None) -> None:
        self.bank = bank
        self.embedder = embedder
        self.settings = settings or GroundingSettings()
        self._indexes: dict[str, _Index] = {}

    def _index(self, registry: ToolRegistry, exclude: frozenset[str]) -> _Index:
        key = registry_fingerprint(registry) + "|" + ",".join(sorted(exclude))
        if key in self._indexes:
            return self._indexes[key]
        tools = registry.names()
        card_vectors = embed_cached(self.embedder, "tools:" + registry_fingerprint(registry),
                                    [card_text(c) for c in registry.cards()])
        demos = [d for d in (self.bank.usable(registry) if self.bank else [])
                 if d.id not in exclude and d.request not in exclude]
        phrases: list[str] = []
        labels: list[str] = []
        rows: list[int] = []
        seen: set[tuple[str, str]] = set()
        links: dict[tuple[str, str], int] = {}
        per_demo = [list(d.steps) or split_clauses(d.request) or [d.request] for d in demos]
        flat = [p for ps in per_demo for p in ps]
        vectors = self._embed(flat)
        at = 0
        for demo, ps in zip(demos, per_demo, strict=True):
            pv = vectors[at:at + len(ps)]
            task_tools = [t.tool for t in demo.plan.tasks]
            tv = card_vectors[[tools.index(t) for t in task_tools]]
            pairs = (list(enumerate(task_tools)) if demo.ordered_steps
                     else align_steps(ps, task_tools, pv, tv))
            for i, tool in pairs:
                if (ps[i], tool) in seen:
                    continue
                seen.add((ps[i], tool))
                phrases.append(ps[i])
                labels.append(tool)
                rows.append(at + i)
            at += len(ps)
            by_id = {t.id: t.tool for t in demo.plan.tasks}
            for task in demo.plan.tasks:
                for _name, ref in task.refs():
                    if not ref.is_input and ref.source in by_id:
                        pair = (by_id[ref.source], task.tool)
                        links[pair] = links.get(pair, 0) + 1
        index = _Index(tools=tools, card_vectors=card_vectors, phrases=phrases, labels=labels,
                       phrase_vectors=vectors[rows] if rows else np.zeros((0, 384)),
                       demos=demos, demo_vectors=self._embed([d.request for d in demos]),
                       links=links)
        self._indexes[key] = index
        return index

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        key = "ground:" + hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
        return embed_cached(self.embedder, key, texts)

    def prepare(self, registry: ToolRegistry) -> None:
        """Embed the bank's step phrases and requests for ``registry`` now, not on the first
        request."""
        self._index(registry, frozenset())

    def ground(self, request: str, inputs: dict[str, str], registry: ToolRegistry,
               exclude: Iterable[str] = ()) -> Grounding:
        """One tool per clause that asks for a step, in request order (when none does, the
        runnable tool the whole request reads most like); then, for each kind of input the user
        gave that no chosen tool takes, the best tool that takes it, first."""
        s = self.settings
        index = self._index(registry, frozenset(exclude))
        clauses = split_clauses(request) or [request]
        vectors = self.embedder.embed(clauses + [request])
        clause_vectors, request_vector = vectors[:-1], vectors[-1]
        near = np.argsort(-(index.demo_vectors @ request_vector), kind="stable")
        prior = _neighbour_prior(index, near, request_vector, s)
        found = _ground_clauses(index, clauses, clause_vectors, prior, s)
        # a clause may ask for more than one step ("a clip with music"): borrow the structure
        # of the closest example when the examples near the request agree on it
        if len(index.demos) and found.tools:
            found = _borrow_structure(found, index, near, request_vector, request, inputs, s)
        whole = index.card_vectors @ request_vector
        if not found.tools:  # no clause asked clearly: the one tool the request reads most like
            found = _most_like_request(index, registry, request, inputs, whole, prior, s) or found
        # every kind of input the user gave is worked on by some tool
        _add_takers(found, index, registry, request, inputs, whole, prior, s)
        return found

    def propose(self, request: str, inputs: dict[str, str], registry: ToolRegistry,
                exclude: Iterable[str] = ()) -> Plan | None:
        """The grounded, linked plan; None when the bank has no demonstration these tools can
        run (the tool cards alone are too weak a guide) or no clause asks for a tool.

        A task whose required media input nothing provides (no earlier result, no input of
        that kind) was grounded wrongly and is dropped, unless it is the only one: then it gets
        a tool that makes that input from what the request has, placed before it (the one the
        bank most often links to it). An input no task
        takes gets the tool best suited to it, first. Then the plan is linked again.
        """
        index = self._index(registry, frozenset(exclude))
        if not index.phrases:
            return None
        found = self.ground(request, inputs, registry, exclude)
        added: set[str] = set()
        for _ in range(len(found.tools) + len(inputs) + 1):
            if not found.tools:
                return None
            plan = link(found, request, inputs, registry, index.links)
            starved = _starved(plan, registry)
            if starved is not None:
                at, kind = starved
                feeder = (_feeder(found.tools[at], kind, inputs, registry, index.links)
                          if len(found.tools) == 1 else None)
                if feeder is not None:
                    found.clauses.insert(at, found.clauses[at])
                    found.tools.insert(at, feeder)
                    found.scores.insert(at, 0.0)
                else:
                    for column in (found.clauses, found.tools, found.scores):
                        del column[at]
                continue
            used = {r.field for t in plan.tasks for _a, r in t.refs() if r.is_input}
            unused = [n for n in inputs if n not in used and n not in added]
            if unused and inputs[unused[0]] in found.takers:
                added.add(unused[0])
                found.clauses.insert(0, request)
                found.tools.insert(0, found.takers[inputs[unused[0]]])
                found.scores.insert(0, 0.0)
                continue
            return plan
        return link(found, request, inputs, registry, index.links)


def _neighbour_prior(index: _Index, near: np.ndarray, request_vector: np.ndarray,
                     s: GroundingSettings) -> dict[str, float]:
    """The tools of the demonstrations most similar to the request (``near`` orders them by
    similarity), each vote worth 1 / ``neighbours``."""
    prior: dict[str, float] = {}
    if len(index.demos) and s.neighbours:
        for j in near[: s.neighbours]:
            if float(index.demo_vectors[j] @ request_vector) < s.neighbour_floor:
                break
            for tool in index.demos[j].tools():
                prior[tool] = prior.get(tool, 0.0) + 1.0 / s.neighbours
    return prior


def _ground_clauses(index: _Index, clauses: list[str], clause_vectors: np.ndarray,
                    prior: dict[str, float], s: GroundingSettings) -> Grounding:
    """One tool per clause that asks for a step: the nearest step phrases vote, the tool
    cards and the neighbours' prior add theirs; a repeat of the previous tool is dropped."""
    cards = clause_vectors @ index.card_vectors.T
    phrase_sims = (clause_vectors @ index.phrase_vectors.T if index.phrases
                   else np.zeros((len(clauses), 0)))
    k = min(s.k, max(1, len(index.phrases) // 50))
    found = Grounding()
    for c, clause in enumerate(clauses):
        votes: dict[str, float] = {}
        best_phrase = float(cards[c].max())  # no bank: the cards decide alone
        if index.phrases:
            top = np.argsort(-phrase_sims[c], kind="stable")[:k]
            best_phrase = float(phrase_sims[c][top[0]])
            total = float(sum(max(phrase_sims[c][j], 0.0) for j in top)) or 1.0
            for j in top:
                label = index.labels[j]
                votes[label] = votes.get(label, 0.0) + max(phrase_sims[c][j], 0.0) / total
        score = {t: votes.get(t, 0.0) + s.card_weight * float(cards[c][i])
                 + s.neighbour_weight * prior.get(t, 0.0)
                 for i, t in enumerate(index.tools)}
        tool = max(index.tools, key=lambda t: score[t])
        if best_phrase < s.tau or (found.tools and found.tools[-1] == tool):
            continue
        found.clauses.append(clause)
        found.tools.append(tool)
        found.scores.append(score[tool])
    return found


def _borrow_structure(found: Grounding, index: _Index, near: np.ndarray,
                      request_vector: np.ndarray, request: str, inputs: dict[str, str],
                      s: GroundingSettings) -> Grounding:
    """The closest demonstration's tools instead of ``found``'s, when that demonstration is
    similar enough, clearly more similar than any with other tools, takes the same kinds of
    input, and its tools are ``found``'s and at most two more."""
    sims = index.demo_vectors @ request_vector
    best = index.demos[near[0]]
    their = [t.tool for t in best.plan.tasks]
    rival = next((float(sims[j]) for j in near[1:]
                  if index.demos[j].tools() != best.tools()), -1.0)
    if (float(sims[near[0]]) >= s.structure_floor
            and float(sims[near[0]]) - rival >= s.structure_margin
            and Counter(best.inputs.values()) == Counter(inputs.values())
            and set(found.tools) < set(their) and len(their) <= len(found.tools) + 2):
        by_tool = dict(zip(found.tools, found.clauses, strict=True))
        return Grounding(clauses=[by_tool.get(t, request) for t in their],
                         tools=their, scores=[0.0] * len(their))
    return found


def _most_like_request(index: _Index, registry: ToolRegistry, request: str,
                       inputs: dict[str, str], whole: np.ndarray, prior: dict[str, float],
                       s: GroundingSettings) -> Grounding | None:
    """The tool the whole request reads most like among those the inputs can run (``whole``:
    the request's similarity to each card); None when no tool can run on them."""
    able = [i for i, t in enumerate(index.tools)
            if _needs(registry, t) <= set(inputs.values())]
    if not able:
        return None
    best = max(able, key=lambda i: whole[i] + s.neighbour_weight
               * prior.get(index.tools[i], 0.0))
    return Grounding(clauses=[request], tools=[index.tools[best]], scores=[float(whole[best])])


def _add_takers(found: Grounding, index: _Index, registry: ToolRegistry, request: str,
                inputs: dict[str, str], whole: np.ndarray, prior: dict[str, float],
                s: GroundingSettings) -> None:
    """For each kind of input the user gave, record the tool best suited to take it, and put
    that tool first in ``found`` when none of the chosen tools takes that kind."""
    for kind in dict.fromkeys(inputs.values()):
        takers = [i for i, t in enumerate(index.tools) if _takes(registry, t, kind)]
        if not takers:
            continue
        best = max(takers, key=lambda i: whole[i] + s.neighbour_weight
                   * prior.get(index.tools[i], 0.0))
        found.takers[kind] = index.tools[best]
        if not any(_takes(registry, t, kind) for t in found.tools):
            found.clauses.insert(0, request)
            found.tools.insert(0, index.tools[best])
            found.scores.insert(0, float(whole[best]))


def _starved(plan: Plan, registry: ToolRegistry) -> tuple[int, str] | None:
    """The position of the first task missing a required media input, and that input's
    kind."""
    for i, task in enumerate(plan.tasks):
        for name, info in registry.tool_class(task.tool).Input.model_fields.items():
            kind = port_type(info.annotation)
            base = kind[5:-1] if kind.startswith("list[") else kind
            if info.is_required() and base in _MEDIA and name not in task.args:
                return i, base
    return None


def _feeder(tool: str, kind: str, inputs: dict[str, str], registry: ToolRegistry,
            links: dict[tuple[str, str], int]) -> str | None:
    """A tool that makes ``kind`` from text or the request's inputs alone, the one the bank
    links to ``tool`` most often."""
    have = set(inputs.values())
    best: tuple[int, str] | None = None
    for name in registry.names():
        cls = registry.tool_class(name)
        if not any(port_type(o.annotation) == kind for o in cls.Output.model_fields.values()):
            continue
        needs = {port_type(f.annotation) for f in cls.Input.model_fields.values()
                 if f.is_required()}
        if any(k in _MEDIA and k not in have for k in needs):
            continue
        rank = (links.get((name, tool), 0), name)
        if best is None or rank > best:
            best = rank
    return best[1] if best is not None and best[0] > 0 else None


def _needs(registry: ToolRegistry, tool: str) -> set[str]:
    """The media kinds ``tool`` cannot run without."""
    kinds = {port_type(f.annotation) for f in registry.tool_class(tool).Input.model_fields.values()
             if f.is_required()}
    return {k[5:-1] if k.startswith("list[") else k for k in kinds} & set(_MEDIA)


def _takes(registry: ToolRegistry, tool: str, kind: str) -> bool:
    return any(port_type(f.annotation) in (kind, f"list[{kind}]")
               for f in registry.tool_class(tool).Input.model_fields.values())


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
_SAY = re.compile(r"^(?:say|speak|read(?: out)?)\s+|\s+(?:aloud|out loud)$", re.IGNORECASE)
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
        m = re.search(_NUM + r"\s+(?:\w+\s+)?(?:frames|images|pictures|stills|photos|results)",
                      request, re.IGNORECASE)
    else:
        return None
    if not m:
        return None
    value = _number(m.group(1))
    return int(value) if kind == "integer" else value


def link(found: Grounding, request: str, inputs: dict[str, str], registry: ToolRegistry,
         links: dict[tuple[str, str], int] | None = None) -> Plan:
    """Turn grounded tools into a plan: every port wired to an earlier result of its type, a
    request input of its kind, or a literal from the request.

    An input port prefers the latest earlier result of its type that no task consumes yet (one
    that the bank has seen feed this tool first), then an unused request input, then any
    earlier result; a text port with no result to take gets a literal. Optional ports are
    filled only with a request input nobody else takes or a number the request states.
    """
    linker = _Linker(request, inputs, links or {})
    for i, (tool, clause) in enumerate(zip(found.tools, found.clauses, strict=True)):
        linker.add(i, tool, clause, registry.tool_class(tool))
    return Plan(deliver=_sinks(linker.tasks, linker.outputs), tasks=linker.tasks)


class _Linker:
    """:func:`link` under way: the tasks wired so far, their outputs, which of those and of the
    request's inputs are taken, and the request's quoted strings not used yet."""

    def __init__(self, request: str, inputs: dict[str, str],
                 links: dict[tuple[str, str], int]) -> None:
        self.request, self.inputs, self.links = request, inputs, links
        self.quotes = _quotes(request)
        self.unused_inputs = list(inputs)
        self.consumed: set[tuple[str, str]] = set()
        self.tasks: list[dict[str, Any]] = []
        self.outputs: list[list[tuple[str, str]]] = []  # per task: (field, port type)

    def add(self, i: int, tool: str, clause: str, cls: Any) -> None:
        """Task ``i`` runs ``tool`` (class ``cls``), asked for by ``clause``."""
        args: dict[str, Any] = {}
        for name, info in cls.Input.model_fields.items():
            self._wire(args, i, tool, clause, name, info)
        self.tasks.append({"id": f"t{i + 1}", "tool": tool, "args": args})
        self.outputs.append([(f, port_type(o.annotation))
                             for f, o in cls.Output.model_fields.items()])

    def _wire(self, args: dict[str, Any], i: int, tool: str, clause: str, name: str,
              info: Any) -> None:
        """Set ``args[name]`` for input port ``name`` of task ``i``, if anything fits."""
        tasks, outputs = self.tasks, self.outputs
        kind = port_type(info.annotation)
        base = kind[5:-1] if kind.startswith("list[") else kind
        required = info.is_required()
        earlier = [(j, f) for j in range(i - 1, -1, -1) for f, k in outputs[j]
                   if k == kind or (kind.startswith("list[") and k == base)]
        free = [(j, f) for j, f in earlier if (tasks[j]["id"], f) not in self.consumed]
        files = [n for n in self.unused_inputs if self.inputs[n] == base]
        if kind.startswith("list[") and base in _MEDIA:
            self._wire_list(args, name, free, files)
        elif free and (required or base in _MEDIA):
            j, f = max(free, key=lambda jf: (self.links.get((tasks[jf[0]]["tool"], tool), 0) > 0,
                                             jf[0]))
            args[name] = f"${tasks[j]['id']}.{f}"
            self.consumed.add((tasks[j]["id"], f))
        elif files:
            args[name] = f"$input.{files[0]}"
            self.unused_inputs.remove(files[0])
        elif not required:
            number = _number_literal(name, kind, self.request)
            if number is not None:
                args[name] = number
        elif earlier and base in _MEDIA:
            j, f = earlier[0]
            args[name] = f"${tasks[j]['id']}.{f}"
        elif base in _MEDIA and self.inputs:
            same = [n for n in self.inputs if self.inputs[n] == base]
            if same:
                args[name] = f"$input.{same[0]}"
        else:
            value = _literal(name, info.description or "", kind, clause, self.request,
                             self.quotes)
            if value is not None:
                args[name] = value

    def _wire_list(self, args: dict[str, Any], name: str, free: list[tuple[int, str]],
                   files: list[str]) -> None:
        """A list port gathers every unconsumed earlier result and input of its kind."""
        refs = [f"${self.tasks[j]['id']}.{f}" for j, f in free]
        singles = [r for r in refs if not _is_list_output(r, self.tasks, self.outputs)]
        singles += [f"$input.{n}" for n in files]
        lists = [r for r in refs if _is_list_output(r, self.tasks, self.outputs)]
        if singles or lists:
            args[name] = singles if singles else lists[0]
            self.consumed.update((self.tasks[j]["id"], f) for j, f in free)
            self.unused_inputs = [n for n in self.unused_inputs if n not in files]


def _is_list_output(value: str, tasks: list[dict[str, Any]],
                    outputs: list[list[tuple[str, str]]]) -> bool:
    ref = parse_ref(value)
    if ref is None or ref.is_input:
        return False
    j = next(i for i, t in enumerate(tasks) if t["id"] == ref.source)
    return any(f == ref.field and k.startswith("list[") for f, k in outputs[j])


def _sinks(tasks: list[dict[str, Any]], outputs: list[list[tuple[str, str]]]) -> list[str]:
    """What the plan delivers: the media (else text) of the tasks nothing consumes."""
    used = {ref.source for t in tasks for v in t["args"].values()
            for ref in ([parse_ref(v)] if not isinstance(v, list) else map(parse_ref, v)) if ref}
    kinds = []
    for task, outs in zip(tasks, outputs, strict=True):
        if task["id"] not in used:
            media = [k for _f, k in outs if k in _MEDIA]
            kinds.append(media[0] if media else "text")
    return list(dict.fromkeys(kinds)) or ["text"]
