"""Typed composition: grounded steps completed into a plan the tools' ports can run.

The clauses name the steps a user thought of; the types say what else a plan needs:

1. **Takers.** An input of a kind no step takes gets the tool best suited to it, first.
2. **Feeders.** A step whose required media input nothing provides (no input of that kind, no
   step making it) gets a tool making it from what there is, put before it — the one the
   request's clauses read most like, else the one the bank links to it most; with none, the
   step is dropped ("add music to this video" -> ``music_generate`` feeds ``video_add_audio``).
3. **Data-flow order.** A later step whose result an earlier step can take, and which needs
   nothing the earlier one makes, moves before it ("edit this photo following my voice memo":
   the transcript comes first).
4. **Speech.** A request for speech ("aloud", "read it to me", "voice it") ends in a tool that
   speaks text, when no step speaks yet.
5. **Joins.** Two media results the request puts together ("over some music", "put it on the
   video", "give it a soundtrack") get the tool that takes both.

Then the steps are linked port to port (:func:`mmagent.planner._linking.link`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections import Counter

from mmagent.plan._ir import Plan
from mmagent.plan._validator import collect_errors
from mmagent.planner._grounding import Grounding, Step, main_media, names_media, takes
from mmagent.planner._intent import asks_speech
from mmagent.planner._linking import link
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["compose", "confidence", "asks_join"]

_MEDIA = ("image", "audio", "video")
_JOIN = re.compile(
    r"\bover (it|some|a|an|the|this|that|soft|calm|cheerful|upbeat|gentle|epic)\b|"
    r"\b(under|underneath|beneath)\b|"
    r"\bsoundtrack\b|\bbackground\b|\blay (it|that|this|the \w+) over\b|\bput (it|that|this|"
    r"them|the \w+) on\b|\bon (it|the video|this video|the clip|this clip|top)\b|"
    r"\badd (it|that|them) to\b|\bgive it\b|\bwith (some |a |an )?(\w+ ){0,3}(music|voice|"
    r"narration|song|soundtrack)\b|"
    r"\bto (it|the video|the clip)\b|\bmix\b|\bcombine\b|\btogether\b", re.IGNORECASE)


def asks_join(request: str) -> bool:
    return _JOIN.search(request) is not None


def _base(kind: str) -> str:
    return kind[5:-1] if kind.startswith("list[") else kind


def _required_media(registry: ToolRegistry, tool: str) -> list[str]:
    return [_base(port_type(f.annotation))
            for f in registry.tool_class(tool).Input.model_fields.values()
            if f.is_required() and _base(port_type(f.annotation)) in _MEDIA]


def _in_kinds(registry: ToolRegistry, tool: str) -> set[str]:
    """The kinds a tool's required ports take, and its optional media ports'."""
    kinds = set()
    for f in registry.tool_class(tool).Input.model_fields.values():
        kind = _base(port_type(f.annotation))
        if f.is_required() or kind in _MEDIA:
            kinds.add(kind)
    return kinds


def _out_kinds(registry: ToolRegistry, tool: str) -> set[str]:
    return {_base(port_type(f.annotation))
            for f in registry.tool_class(tool).Output.model_fields.values()}


def _evidence(found: Grounding, links: dict[tuple[str, str], int], tool: str,
              target: str | None = None) -> tuple[float, int, str]:
    return (found.scores.get(tool, 0.0), links.get((tool, target), 0) if target else 0, tool)


def _add_takers(found: Grounding, inputs: dict[str, str], registry: ToolRegistry) -> None:
    for kind in dict.fromkeys(inputs.values()):
        taker = next(iter(found.takers.get(kind, [])), None)
        if taker and _left_for_input(found.steps, kind, registry):
            found.steps.insert(0, Step(tool=taker, clause="", origin="taker", strength=0.5))


_INPUT_NOUNS = {"image": r"photos?|pictures?|images?|pics?|shots?|screenshots?|scans?",
                "audio": r"recordings?|audio|songs?|tracks?|voice memos?|podcasts?|sounds?",
                "video": r"videos?|clips?|footage|movies?|films?"}
_POINTS_AT_INPUT = {kind: re.compile(rf"\b(?:this|these|my|the attached|the given|the uploaded)\s+"
                                     rf"(?:[\w'-]+\s+)?(?:{nouns})\b", re.IGNORECASE)
                    for kind, nouns in _INPUT_NOUNS.items()}


def _left_for_input(steps: list[Step], kind: str, registry: ToolRegistry) -> bool:
    """Is an input of ``kind`` left for a taker? It is taken by a step whose clause points at
    it ("stick it at the start of this recording"), or by one no earlier step makes the kind
    for; a step taking what an earlier one made ("draw the dish and caption that drawing")
    leaves the user's photo to a taker; a step taking a list of them ("put a chime before my
    greeting") takes the made one and the input."""
    made, taken = 0, False
    pointer = _POINTS_AT_INPUT.get(kind)
    for st in steps:
        if kind in _in_kinds(registry, st.tool):
            if pointer is not None and pointer.search(st.clause):
                return False
            taken = taken or not made or takes(registry, st.tool, f"list[{kind}]", exact=True)
            made = max(0, made - 1)
        made += kind in _out_kinds(registry, st.tool)
    return not taken


def _feed(found: Grounding, inputs: dict[str, str], registry: ToolRegistry,
          links: dict[tuple[str, str], int], request: str) -> None:
    """Feeders for starved steps (bounded: each round fixes or drops one step)."""
    for _ in range(2 * len(found.steps) + 2):
        have = set(inputs.values())
        starved = None
        for i, st in enumerate(found.steps):
            made = {k for other in found.steps[:i] + found.steps[i + 1:]
                    for k in _out_kinds(registry, other.tool)}
            missing = [k for k in _required_media(registry, st.tool) if k not in have | made]
            if missing:
                starved = (i, missing[0])
                break
        if starved is None:
            return
        i, kind = starved
        feeder = _feeder(found, registry, links, found.steps[i].tool, kind, have)
        if feeder is not None and not _required_media(registry, feeder) \
                and not names_media(request, kind):
            feeder = None  # media made from nothing that the request never names ("Thursday")
        if feeder is None:
            del found.steps[i]
        else:
            found.steps.insert(i, Step(tool=feeder, clause=found.steps[i].clause,
                                       origin="feeder", strength=0.5))


def _feeder(found: Grounding, registry: ToolRegistry, links: dict[tuple[str, str], int],
            target: str, kind: str, have: set[str]) -> str | None:
    makers = [t for t in registry.names() if kind in _out_kinds(registry, t) and t != target
              and set(_required_media(registry, t)) <= have]
    if not makers:
        return None
    return max(makers, key=lambda t: _evidence(found, links, t, target))


def _order(found: Grounding, inputs: dict[str, str], registry: ToolRegistry) -> None:
    """Move a later step before an earlier one that can take its result (see module docs)."""
    steps = found.steps
    for _ in range(len(steps) * len(steps)):
        moved = False
        for i in range(len(steps)):
            for j in range(i + 1, len(steps)):
                if _should_precede(steps, i, j, inputs, registry):
                    steps.insert(i, steps.pop(j))
                    moved = True
                    break
            if moved:
                break
        if not moved:
            return


def _should_precede(steps: list[Step], i: int, j: int, inputs: dict[str, str],
                    registry: ToolRegistry) -> bool:
    early, late = steps[i].tool, steps[j].tool
    gives = _out_kinds(registry, late)
    if not gives & _in_kinds(registry, early):
        return False
    between = {k for st in steps[i:j] for k in _out_kinds(registry, st.tool)}
    needs = _in_kinds(registry, late)
    if needs & between:  # it may consume what comes before it
        return False
    later_takers = {k for st in steps[j + 1:] for k in _in_kinds(registry, st.tool)}
    if gives & later_takers:  # a later step takes its result already
        return False
    before = set(inputs.values()) | {k for st in steps[:i] for k in _out_kinds(registry, st.tool)}
    return set(_required_media(registry, late)) <= before


def _speaker(registry: ToolRegistry, found: Grounding) -> str | None:
    """A tool that speaks text: text in, audio out, its card about speech."""
    speakers = [t for t in registry.names() if "text" in _in_kinds(registry, t)
                and "audio" in _out_kinds(registry, t) and not _required_media(registry, t)]
    spoken = [t for t in speakers if re.search(r"speech|speak|aloud|voice|read",
                                                registry.tool_class(t).description, re.I)]
    pool = spoken or speakers
    return max(pool, key=lambda t: found.scores.get(t, 0.0)) if pool else None


def _add_speech(found: Grounding, request: str, registry: ToolRegistry) -> None:
    speaker = _speaker(registry, found)
    if speaker is None or not asks_speech(request) or speaker in found.tools:
        return
    if not any("text" in _out_kinds(registry, s.tool) for s in found.steps) and \
            not re.search(r"['\"“]", request):  # nothing to speak
        return
    found.steps.append(Step(tool=speaker, clause=request, origin="speech", strength=0.5))


def _add_join(found: Grounding, plan: Plan, request: str, registry: ToolRegistry,
              links: dict[tuple[str, str], int]) -> bool:
    """Join two media results nothing consumes with the tool that takes both; True if one
    was added."""
    if not asks_join(request):
        return False
    used = {r.source for t in plan.tasks for _a, r in t.refs() if not r.is_input}
    sink_kinds = Counter(_base(k) for t in plan.tasks if t.id not in used
                         if (k := main_media(registry, t.tool)) is not None)
    if sum(sink_kinds.values()) < 2:
        return False
    best = None
    for tool in registry.names():
        needs = Counter(_required_media(registry, tool))
        lists = any(port_type(f.annotation).startswith("list[")
                    for f in registry.tool_class(tool).Input.model_fields.values())
        covers = set(needs) == set(sink_kinds) and (lists or needs == sink_kinds)
        if covers and tool not in found.tools:
            rank = _evidence(found, links, tool)
            best = max(best, (rank, tool)) if best else (rank, tool)
    if best is None:
        return False
    found.steps.append(Step(tool=best[1], clause=request, origin="join", strength=0.5))
    return True


def compose(found: Grounding, request: str, inputs: dict[str, str], registry: ToolRegistry,
            links: dict[tuple[str, str], int], enabled: bool = True,
            search: bool = True) -> Plan | None:
    """The grounded steps completed by type and linked (see the module docs); None when no
    step is left. With ``enabled``, the composition is searched: each clause may take one of
    its next best tools and each input one of its next best takers, and the valid plan that
    gives up the least evidence for the soundest shape wins (``found`` is left holding its
    steps); without ``search``, only the best reading."""
    if not enabled:
        if not found.steps:
            return None
        return link(found.tools, [s.clause or request for s in found.steps], request, inputs,
                    registry, links)
    best: tuple[float, int, Grounding, Plan] | None = None
    for floor in (_ALTERNATIVE_FLOOR, 0.0):  # wider only when no near reading can run
        for n, (loss, variant) in enumerate(_variants(found, floor)[:None if search else 1]):
            if best is not None and loss >= best[0]:
                break  # readings come by evidence given up, and no cost is below 0
            plan = _complete(variant, request, inputs, registry, links)
            if plan is None:
                continue
            cost = _shape_cost(found, variant, plan, inputs, registry)
            if cost is not None and (best is None or (loss + cost, n) < best[:2]):
                best = (loss + cost, n, variant, plan)
        if best is not None:
            break
    if best is None:  # nothing valid: the first reading, for the planner to reject or repair
        plan = _complete(found, request, inputs, registry, links)
        return plan
    found.steps, found.takers = best[2].steps, best[2].takers
    return best[3]


def _complete(found: Grounding, request: str, inputs: dict[str, str], registry: ToolRegistry,
              links: dict[tuple[str, str], int]) -> Plan | None:
    """One reading of the steps completed by type (takers, feeders, order, speech, joins)
    and linked."""
    _add_takers(found, inputs, registry)
    _feed(found, inputs, registry, links, request)
    _order(found, inputs, registry)
    _add_speech(found, request, registry)
    if not found.steps:
        return None
    plan = link(found.tools, [s.clause or request for s in found.steps], request, inputs,
                registry, links)
    if _add_join(found, plan, request, registry, links):
        plan = link(found.tools, [s.clause or request for s in found.steps], request, inputs,
                    registry, links)
    return plan


_ALTERNATIVES = 2
"""next best tools a clause may take instead of its best"""
_ALTERNATIVE_FLOOR = 0.5
"""... when their score is at least this share of the best's (when no such reading can run:
any of the clause's alternatives)"""
_TAKERS = 3
"""takers tried per kind of input"""
_VARIANTS = 48
"""readings completed and scored per request, least evidence given up first"""
_COMBOS = 4096
"""readings enumerated at most (a request of many clauses keeps only its nearest options)"""


def _variants(found: Grounding, floor: float) -> list[tuple[float, Grounding]]:
    """Readings of the grounding, each with the evidence it gives up: a clause's tool swapped
    for a next best one (the share of score lost), a kind's taker for a later one."""
    choices: list[list[tuple[float, int, str]]] = []
    for i, st in enumerate(found.steps):
        options = [(0.0, i, st.tool)]
        if st.origin == "clause" and st.score > 0:
            options += [(1.0 - score / st.score, i, tool)
                        for tool, score in st.alternatives[:_ALTERNATIVES if floor else None]
                        if score >= floor * st.score]
        choices.append(options)
    kinds = list(found.takers)
    for k, kind in enumerate(kinds):
        choices.append([(0.15 * r, -1 - k, tool)
                        for r, tool in enumerate(found.takers[kind][:_TAKERS])])
    while math.prod(map(len, choices)) > _COMBOS:  # a long request: drop the costliest options
        widest = max((c for c in choices if len(c) > 1), key=lambda c: c[-1][0])
        widest.pop()
    combos = sorted(itertools.product(*choices), key=lambda c: sum(x[0] for x in c))
    out = []
    for combo in combos[:_VARIANTS]:
        steps = [dataclasses.replace(st) for st in found.steps]
        takers = dict(found.takers)
        for _loss, i, tool in combo:
            if i >= 0 and steps[i].tool != tool:
                steps[i].score = dict(steps[i].alternatives)[tool]
                steps[i].tool, steps[i].margin = tool, 0.0
            elif i < 0:
                takers[kinds[-1 - i]] = [tool]
        out.append((sum(x[0] for x in combo),
                    dataclasses.replace(found, steps=steps, takers=takers)))
    return out


def _shape_cost(before: Grounding, found: Grounding, plan: Plan, inputs: dict[str, str],
                registry: ToolRegistry) -> float | None:
    """How unsound a completed reading is; None when it cannot run (a validation problem,
    an input the user gave that no task uses). A step the types added that takes no other
    step's result and whose result nothing uses costs most (it leads nowhere); a clause left
    without a step costs; a step made to feed a clause's tool costs (a clause whose tool
    nothing can feed was more often read wrongly than left short); each other added step
    costs a little (the simpler plan wins a tie)."""
    if collect_errors(plan, registry, inputs):
        return None
    used = {r.field for t in plan.tasks for _a, r in t.refs() if r.is_input}
    if any(name not in used and any(takes(registry, t, kind) for t in registry.names())
           for name, kind in inputs.items()):
        return None
    consumed = {r.source for t in plan.tasks for _a, r in t.refs() if not r.is_input}
    cost = 0.0
    for st, task in zip(found.steps, plan.tasks, strict=True):
        joined = any(not r.is_input for _a, r in task.refs()) or task.id in consumed
        if st.origin in ("taker", "feeder", "whole") and not joined:
            cost += 0.5
        if st.origin in ("taker", "speech", "join"):
            cost += 0.1
        elif st.origin == "feeder":  # the clause may have been read wrongly instead
            cost += 0.35
    asked = sum(s.origin == "clause" for s in before.steps)
    return cost + 0.6 * max(0, asked - sum(s.origin == "clause" for s in found.steps))


def confidence(found: Grounding) -> float:
    """How clearly the request asked for these steps, 0..1: the weakest clause's match
    (similarity to its nearest phrase, and its tool's lead over the runner-up), lowered for
    every step the types had to add."""
    asked = [s for s in found.steps if s.origin in ("clause", "slot", "structure")]
    if not asked:
        return 0.2
    per = [min(1.0, max(0.0, (s.strength - 0.3) / 0.4)) * (0.6 + 0.4 * min(1.0, s.margin / 0.3))
           if s.origin == "clause" else 0.6 for s in asked]
    added = sum(s.origin in ("feeder", "taker", "whole") for s in found.steps)
    return round(min(per) * (0.9 ** added), 3)
