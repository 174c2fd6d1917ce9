"""Grounded planning: the request's steps grounded to the registry's tools, composed by their
typed ports.

A small LLM picks tools no better than a sentence-embedding lookup and almost never links two
steps right (measured: see the README's planner section). So the planner first builds the plan
without it, from the tools themselves with the demonstration bank as evidence, and calls the
LLM only when that fails:

1. **Steps.** The request is cut into clauses (``"extract the audio, then transcribe it"`` ->
   two clauses). Each clause is matched against labelled phrases: the step phrases of the
   demonstration bank (each task labelled with the phrase that asked for it) and, for every
   registered tool, phrases from its card (its name in words, the first sentence of its
   description) — so a tool with no demonstration, a user's or an MCP server's, is matched
   like any other. The ``k`` nearest phrases vote for their tools; the clause's similarity to
   each whole card, the tools of the most similar demonstrations (a prior) and a verb that one
   tool's phrases own ("draw", or "translate" from an MCP tool's card) add to it. A clause
   close to no phrase asks for no tool ("I have a photo 'a.jpg'"); a clause telling what
   someone did in the input ("she describes her dream house in it") is a remark; a clause
   closer to an action no tool does ("book a flight") than to any tool is out of scope
   (:mod:`mmagent.planner._intent`).
2. **Values.** A value in the request that fits a tool's required port (an e-mail address, a
   language, a size: :mod:`mmagent.planner._slots`) asks for that tool; a tool whose required
   port has no such value cannot be planned.
3. **Composition** (:mod:`mmagent.planner._compose`): the tools, in request order, are
   completed by types — a tool that makes a missing input is put before the tool needing it,
   an input nothing takes gets a taker, a request for speech ("aloud") ends in a tool that
   speaks, two results the request puts together ("over music") get a tool joining them —
   ordered by data flow and linked port to port (:func:`mmagent.planner._linking.link`).

Each plan carries a confidence: how clearly its clauses matched their tools.

>>> split_clauses("I have 'a.jpg'. Caption it, then read the caption aloud.")
["I have 'a.jpg'", 'Caption it', 'read the caption aloud']
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmagent.plan._ir import Plan
from mmagent.planner._demos import Demo, DemoBank
from mmagent.planner._embed import Embedder, embed_cached
from mmagent.planner._intent import asks_speech, out_of_scope_similarity
from mmagent.planner._retrieval import card_text, registry_fingerprint
from mmagent.planner._slots import absorbs, entities, missing_slot, slot_tools
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["GroundingSettings", "Grounder", "Grounding", "Step", "Proposal", "main_media",
           "split_clauses",
           "align_steps", "card_phrases"]


@dataclass(frozen=True)
class GroundingSettings:
    """The knobs of :class:`Grounder` (``planner.grounding`` in ``mmagent.yaml``)."""

    k: int = 11
    """nearest phrases that vote for a clause's tool (at most one in 50 of the phrases, at
    least 1: in a small bank the 11th nearest phrase is noise)"""
    tau: float = 0.4
    """a clause whose nearest phrase is less similar than this asks for no tool"""
    card_weight: float = 0.2
    """weight of the clause's similarity to each tool card"""
    card_phrases: bool = True
    """the tools' card phrases vote beside the bank's step phrases"""
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
    lexical_weight: float = 0.3
    """weight of the words a clause shares with a tool's card (rare words count more)"""
    product_weight: float = 0.6
    """added to the tools that make a kind of media a clause asks to have made ("design a
    logo": the tools that make images)"""
    verbs: bool = True
    """a clause's verb as evidence: a verb that the phrases of one tool own ("draw": the
    demonstrations' and cards' phrases with it are nearly all image_generate's) reads the
    clause as that tool even when no whole phrase is near"""
    verb_weight: float = 1.0
    """... added to that tool's score, times the verb's share of it"""
    out_of_scope_floor: float = 0.4
    """a clause near no tool is an action in the world when this close to one"""
    out_of_scope_margin: float = 0.05
    """a clause this much closer to an action no tool does than to its best phrase is out of
    scope"""
    slots: bool = True
    """values fitting a tool's required port ask for the tool"""
    compose: bool = True
    """typed completion: feeders, takers, speech and join steps, data-flow order"""
    search: bool = True
    """the composition is searched over each clause's next best tools and each input's next
    best takers (false: the best reading only)"""


@dataclass
class Step:
    """One task of a grounded plan, with the clause that asked for it and how clearly."""

    tool: str
    clause: str
    score: float = 0.0
    strength: float = 0.0
    """similarity of the clause to its nearest phrase (how clearly it asks for a step)"""
    margin: float = 0.0
    """score of the tool minus that of the runner-up"""
    origin: str = "clause"
    """clause | slot | structure | whole | count | feeder | taker | speech | join"""
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    """the clause's next best tools with their scores"""


@dataclass
class Grounding:
    """What grounding found: the steps in request order, and what it learned on the way."""

    steps: list[Step] = field(default_factory=list)
    takers: dict[str, list[str]] = field(default_factory=dict)
    """For each kind of input the user gave, the tools suited to take it, best first."""
    out_of_scope: list[str] = field(default_factory=list)
    """Clauses that ask for an action no tool does."""
    closest: list[str] = field(default_factory=list)
    """The tools the whole request reads most like, best first."""
    scores: dict[str, float] = field(default_factory=dict)
    """Per tool, its best score over the request's clauses."""

    @property
    def tools(self) -> list[str]:
        return [s.tool for s in self.steps]


@dataclass
class Proposal:
    """The grounded plan (None when no step was found) and how sure grounding is of it."""

    plan: Plan | None
    confidence: float
    grounding: Grounding


# ---------------------------------------------------------------------------------------------
# 1. clauses
# ---------------------------------------------------------------------------------------------

_VERBS = """
add animate answer append apply attach blend blur brighten build caption change check choose
classify clean colorize combine compare compose convert count create crop cut darken describe
design detect dictate do draw dub edit email enhance explain extract figure film find fix
forward generate get give go grab identify illustrate imagine insert join judge label layer let
list listen look mail make match merge mix name narrate note overlay paint pick place play post
prepend produce pull put rate read record remove render replace reply resize rewrite say scale
score search select send set share shorten show sing sketch sort speak spot stick summarise
summarize swap take tell transcribe translate turn use voice want watch write
""".split()
"""Verbs that ask for a step; one that one tool's phrases own is evidence for that tool
(:func:`verb_owners`)."""
_SPLIT = re.compile(r",|;|\.\s|\.$|\?\s|\?$|!\s|!$|\s[-–—]+\s|\bthen\b|"
                    r"\band\b(?!\s+white\b)|\bfinally\b|\bafter that\b|"  # "black and white"
                    r"\badditionally\b|\balso\b|(?<![\w'] )\bnext\b|\bafterwards\b|\bonce\b",
                    re.IGNORECASE)
_QUOTED = re.compile(r"(?<!\w)'.+?'(?!\w)|\"[^\"]*\"|“[^”]*”")
_ITEM = r"\w[\w'-]*(?: [\w'-]+){0,2}"  # a list item: one to three words
_OR_LIST = re.compile(rf"(?:\b{_ITEM}, )+{_ITEM},? or\b")
_COLON_LIST = re.compile(r"((?:^|(?<=[.?!;]\s))[^.?!;:]{1,60}:\s)([^.?!;]*)")
_LIST_COMMA = re.compile(rf",(?!\s*(?:and\s+)?(?:{'|'.join(_VERBS)})\b)", re.IGNORECASE)
"""a comma between a list's parts, not one before a step ("a koi pond, animate it")"""
_STEPS_AHEAD = re.compile(r"\b(things|steps|tasks|following|below)\b|\bthese\s*:\s*$",
                          re.IGNORECASE)


_REMARK = re.compile(
    r"^(?:(?:the|this|that|these|those|my|our|his|her|its|their|it|he|she|they|there)\b"
    r"(?:\s+[\w'-]+){0,3}?\s+(?:is|are|was|were|has|have|had|sounds?|looks?|seems?)\b|"
    r"(?:it|that|there|he|she|here)'s\b|they're\b|here (?:is|are)\b|attached (?:is|are)\b|"
    # what someone did or does in the input: "my daughter recorded herself describing ...",
    # "she describes her dream house in this recording", "I wrote down the lyrics"
    r"(?:i|we|he|she|they|(?:my|our|his|her|their) [\w'-]+)\s+(?:\w+[^e\W]ed|said|told|sent|wrote|"
    r"took|made|drew|sang|spoke|gave|(?<!\bi )(?<!\bwe )(?<!\bthey )\w+[^s\W]s)\b)",
    re.IGNORECASE)
_POLITE = re.compile(r"\b(please|can you|could you|would you)\b", re.IGNORECASE)
_ASKS = re.compile(r"\b(want|wants|need|needs|should|must|please|make|give|can|could|would|will)\b",
                   re.IGNORECASE)


def remark(clause: str) -> bool:
    """A clause that tells rather than asks ("the wind is really loud", "it's from my trip"):
    it describes the input, and no step comes of it (its words still say what the input is).

    >>> remark("the wind is really loud"), remark("the caption should be short")
    (True, False)
    >>> remark("here's a photo from my trip"), remark("here is what I need: a poster")
    (True, False)
    >>> remark("she describes her dream house in it"), remark("I need a poster")
    (True, False)
    """
    m = _REMARK.match(clause.strip())
    # "I described the vibe I want in this voice note" tells, though "want" is in it
    told = m is not None and re.search(r"[^e\W]ed$", m.group(0).lower()) is not None \
        and not _POLITE.search(clause)
    return m is not None and (told or not _ASKS.search(clause))


_QUESTION = re.compile(r"^(?:(?:and |also |please )*(?:tell|show|let) me,?\s+(?:know\s+)?)?"
                       r"(?:which|what|whether|how|who|where|why)\b", re.IGNORECASE)
_SEVERAL = re.compile(r"\bwhich (one|of (them|these|those|the))\b|\b(compare|better|best)\b",
                      re.IGNORECASE)


_CREATE = re.compile(r"\b(make|makes|create|design|draw|generate|produce|render|compose|paint|"
                     r"sketch|come up with|give me|i need|i want|i'd like)\b", re.IGNORECASE)
_PRODUCTS = {
    "image": r"logos?|pictures?|photos?|images?|drawings?|posters?|illustrations?|icons?|"
             r"sketch|sketches|paintings?|portraits?|wallpapers?|banners?|artwork|cartoons?",
    "audio": r"songs?|tunes?|melody|melodies|jingles?|soundtracks?|music|beats?|chimes?|"
             r"tracks?|loops?|voiceovers?|voice-overs?|narrations?|announcements?",
    "video": r"videos?|clips?|animations?|movies?|films?",
}
_PRODUCT = {kind: re.compile(rf"(?<!\bthis )(?<!\bthat )(?<!\bthese )(?<!\bmy )(?<!\byour )"
                             rf"(?<!\bthe )\b(?:{words})\b", re.IGNORECASE)
            for kind, words in _PRODUCTS.items()}


_MEDIA = ("image", "audio", "video")
_NAMED = {kind: re.compile(rf"\b(?:{words}|{kind}s?)\b", re.IGNORECASE)
          for kind, words in _PRODUCTS.items()}


def names_media(request: str, kind: str) -> bool:
    """The request names a thing of ``kind`` ("add music to it" names audio; "what day is
    Thursday" names none), made or given.

    >>> names_media("add some music to my clip", "audio"), names_media("Thursday", "image")
    (True, False)
    """
    return kind in _NAMED and _NAMED[kind].search(request) is not None


def asks_new(clause: str) -> list[str]:
    """The media kinds a clause asks to have made ("design two logos" -> image); a thing it
    points at ("this photo") is an input, not a product."""
    if not _CREATE.search(clause):
        return []
    return [kind for kind, pattern in _PRODUCT.items() if pattern.search(clause)]


_COUNTS = {"two": 2, "three": 3, "four": 4, "2": 2, "3": 3, "4": 4, "a couple of": 2,
           "a pair of": 2}
_COUNTED = {kind: re.compile(rf"\b({'|'.join(_COUNTS)})\s+(?:[\w'-]+\s+){{0,2}}?(?:{words})\b",
                             re.IGNORECASE) for kind, words in _PRODUCTS.items()}


def copies(clause: str, kind: str) -> int:
    """How many of ``kind`` a clause asks to have made: "design two logos" -> 2 (up to four,
    each one task of its own); 1 when it names no count.

    >>> copies("design two logos for a cafe", "image"), copies("draw a logo", "image")
    (2, 1)
    """
    m = _COUNTED[kind].search(clause) if kind in _COUNTED else None
    return _COUNTS[m.group(1).lower()] if m else 1


def _head(clause: str) -> str:
    """The words before a colon that introduces a description ("generate image: a market at
    night, neon signs"), else the clause."""
    head, colon, _rest = clause.partition(": ")
    return head if colon and 0 < len(head.split()) <= 6 else clause


def unquote(text: str) -> str:
    """``text`` with each quoted passage of three words or more replaced by "the text"."""
    return _QUOTED.sub(lambda m: "the text" if len(m.group(0).split()) >= 3 else m.group(0),
                       text)


def split_clauses(text: str) -> list[str]:
    """Cut a request into clauses at punctuation and sequencing words, keeping quoted strings,
    file names (``a.jpg``) and lists of one value's parts whole.

    >>> split_clauses("Is the bird a robin, a wren or a jay? Say it aloud")
    ['Is the bird a robin, a wren or a jay', 'Say it aloud']
    >>> split_clauses("draw this: a red barn, snow, two horses")
    ['draw this: a red barn, snow, two horses']
    """
    kept: dict[str, str] = {}

    def keep(m: re.Match[str]) -> str:
        key = f"\x00{len(kept)}\x00"
        kept[key] = m.group(0)
        return key

    masked = _QUOTED.sub(keep, text)
    masked = re.sub(r"(\w)\.(\w)", "\\1\x01\\2", masked)
    # commas that list the parts of one value are not clause breaks: alternatives ("a robin,
    # a sparrow or a blue jay") and what a short head's colon introduces ("generate image: a
    # market at night, neon signs, rain"), unless the head announces steps ("do these things:")
    masked = _OR_LIST.sub(lambda m: m.group(0).replace(",", "\x02"), masked)
    masked = _COLON_LIST.sub(lambda m: m.group(0) if _STEPS_AHEAD.search(m.group(1))
                             else m.group(1) + _LIST_COMMA.sub("\x02", m.group(2)), masked)
    clauses = []
    for part in _SPLIT.split(masked):
        part = (part or "").strip(" \t\n-:")
        if len(part) <= 3:
            continue
        for key, value in kept.items():
            part = part.replace(key, value)
        clauses.append(part.replace("\x01", ".").replace("\x02", ","))
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



_MCP_SUFFIX = re.compile(r"\s*\(MCP server [^)]*\)\s*$")
_STOP = set("""
a an the of to in on into for from with by and or is are be it its this that these those as at
text image images audio video clip given e g eg such optional optionally returns return one
more than your you my me i can any some all each every new short small other
""".split())


def stems(text: str) -> set[str]:
    """Crude word stems (``"animating"``, ``"animate"`` -> ``"animat"``) for lexical
    evidence: a clause naming what a card says its tool does."""
    out = set()
    for w in re.findall(r"[a-z]+", text.lower().replace("colour", "color")):
        if w in _STOP or len(w) < 3:
            continue
        for suffix in ("ization", "isation", "ations", "ation", "ings", "ing", "ized", "ised",
                       "izes", "ises", "ize", "ise", "ers", "er", "ed", "es", "e", "s", "y"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 4:
                w = w[: -len(suffix)]
                break
        out.add(w)
    return out


def card_phrases(card: dict) -> list[str]:
    """What a tool's card says it does, as step phrases: its name in words (an MCP tool's
    without its server's prefix) and the first sentence of its description."""
    description = _MCP_SUFFIX.sub("", card["description"].strip())
    server = _MCP_SUFFIX.search(card["description"])
    name = card["name"]
    if server is not None:
        prefix = server.group(0).strip(" ()").removeprefix("MCP server ").strip() + "_"
        name = name.removeprefix(prefix)
    first = re.split(r"(?<=[.!?])\s", description)[0].strip()
    return [p for p in dict.fromkeys([name.replace("_", " "), first]) if p]


def _card_stems(card: dict) -> set[str]:
    return stems(card["name"].replace("_", " ") + " " + _MCP_SUFFIX.sub("", card["description"]))


@dataclass
class _Index:
    tools: list[str]
    card_vectors: np.ndarray
    phrases: list[str]
    labels: list[str]
    phrase_vectors: np.ndarray
    bank_phrases: int
    """the first ``bank_phrases`` phrases come from demonstrations, the rest from cards"""
    demos: list[Demo]
    demo_vectors: np.ndarray
    links: dict[tuple[str, str], int]
    lexicon: list[dict[str, float]]
    """per tool: its card's stems with their inverse card frequency"""
    name_stems: list[set[str]]
    """per tool: the stems of its name that no other tool's name has ("resize")"""
    makers: dict[str, set[str]]
    """per media kind: the tools that make it from no media of that kind"""
    product_maker: dict[str, str] = dataclasses.field(default_factory=dict)
    """per product word ("jingle"): the maker of its kind whose card is nearest it"""
    verb_owner: dict[str, tuple[str, float]] = dataclasses.field(default_factory=dict)
    """per verb stem that one tool's phrases own: that tool and its share of the phrases"""


def _bank_links(demos: Sequence[Demo]) -> dict[tuple[str, str], int]:
    """How often the bank feeds one tool's output into another."""
    links: dict[tuple[str, str], int] = {}
    for demo in demos:
        by_id = {t.id: t.tool for t in demo.plan.tasks}
        for task in demo.plan.tasks:
            for _name, ref in task.refs():
                if not ref.is_input and ref.source in by_id:
                    pair = (by_id[ref.source], task.tool)
                    links[pair] = links.get(pair, 0) + 1
    return links


def _lexicon(cards: list[dict]) -> list[dict[str, float]]:
    """Per card, its stems with their inverse card frequency; the stems of its name (an MCP
    tool's without the server) are marked by a negative weight's sign flipped later."""
    per = [_card_stems(c) for c in cards]
    df = Counter(w for ws in per for w in ws)
    n = max(len(cards), 1)
    out = []
    for card, ws in zip(cards, per, strict=True):
        named = stems(card_phrases(card)[0])
        out.append({w: float(np.log(1 + n / df[w])) * (2.0 if w in named else 1.0)
                    for w in ws})
    return out


_VERB_STEMS = {v: next(iter(stems(v)), v) for v in _VERBS if len(v) >= 3}
_VAGUE = set("add do get give go let look make play put say set show take tell turn use want"
             .split())
"""verbs of any step: they own no tool"""
_OWNED_SHARE = 0.75
_OWNED_COUNT = 2
"""a verb is owned by the tool of at least this share of its phrases, and this many"""


_DETERMINER = set("a an the this that these those my your his her its our their some".split())
_OWNABLE = {st for v, st in _VERB_STEMS.items() if v not in _VAGUE}


def verb_stems(text: str) -> set[str]:
    """The stems of the words of ``text`` used as verbs: a word of :data:`_VERBS` (any
    inflection) not after a determiner ("the drawing" is a thing, "drawing it" an act).

    >>> sorted(verb_stems("draw a fox and caption the drawing"))
    ['caption', 'draw']
    """
    words = re.findall(r"[a-z']+", text.lower())
    return {st for i, w in enumerate(words) if (i == 0 or words[i - 1] not in _DETERMINER)
            for st in stems(w) & _OWNABLE}


def verb_owners(phrases: Sequence[str], labels: Sequence[str]) -> dict[str, tuple[str, float]]:
    """The verbs whose phrases (at least two) are mostly one tool's: "draw" is
    image_generate's when three in four phrases with "draw" are its.

    >>> verb_owners(["draw a fox", "draw a cat", "draw it", "caption it"],
    ...             ["image_generate"] * 3 + ["image_caption"])
    {'draw': ('image_generate', 1.0)}
    """
    per: dict[str, Counter[str]] = {}
    for phrase, label in zip(phrases, labels, strict=True):
        for st in verb_stems(phrase):
            per.setdefault(st, Counter())[label] += 1
    out = {}
    for st, counts in per.items():
        tool, n = counts.most_common(1)[0]
        share = n / sum(counts.values())
        if n >= _OWNED_COUNT and share >= _OWNED_SHARE:
            out[st] = (tool, round(share, 3))
    return out


def _name_stems(cards: list[dict]) -> list[set[str]]:
    names = [stems(card_phrases(c)[0]) for c in cards]
    common = Counter(w for ws in names for w in ws)
    return [{w for w in ws if common[w] == 1} for ws in names]


class Grounder:
    """Grounds a request's clauses to the registry's tools and composes them into a
    :class:`Plan` (see the module docs).

    ``bank`` supplies step phrases and plan structures as evidence; the tool cards are always
    there. Vectors are computed once per bank and registry (and kept on disk by an embedder
    with a ``vector_dir``).
    """

    def __init__(self, bank: DemoBank | None, embedder: Embedder,
                 settings: GroundingSettings | None = None) -> None:
        self.bank = bank
        self.embedder = embedder
        self.settings = settings or GroundingSettings()
        self._indexes: dict[str, _Index] = {}

    def _index(self, registry: ToolRegistry, exclude: frozenset[str]) -> _Index:
        key = registry_fingerprint(registry) + "|" + ",".join(sorted(exclude))
        if key not in self._indexes:
            self._indexes[key] = self._build(registry, exclude)
        return self._indexes[key]

    def _build(self, registry: ToolRegistry, exclude: frozenset[str]) -> _Index:
        tools = registry.names()
        cards = registry.cards()
        card_vectors = embed_cached(self.embedder, "tools:" + registry_fingerprint(registry),
                                    [card_text(c) for c in cards])
        demos = [d for d in (self.bank.usable(registry) if self.bank else [])
                 if d.id not in exclude and d.request not in exclude]
        per_demo = [list(d.steps) or split_clauses(d.request) or [d.request] for d in demos]
        vectors = self._embed([p for ps in per_demo for p in ps])
        phrases, labels, rows = self._label(demos, per_demo, vectors, card_vectors, tools)
        bank_vectors = vectors[rows] if rows else np.zeros((0, 384), dtype=np.float32)
        n_bank = len(phrases)
        if self.settings.card_phrases:
            shown = set(labels)
            for card in cards:
                # a tool with demonstrations is matched by them; its bare name would match
                # every short clause that mentions its media ("8 fps" -> "video frames")
                for phrase in card_phrases(card)[card["name"] in shown:]:
                    phrases.append(phrase)
                    labels.append(card["name"])
            bank_vectors = np.concatenate([bank_vectors, self._embed(phrases[n_bank:])])
        return _Index(tools=tools, card_vectors=card_vectors, phrases=phrases, labels=labels,
                      phrase_vectors=bank_vectors, bank_phrases=n_bank, demos=demos,
                      demo_vectors=self._embed([d.request for d in demos]),
                      links=_bank_links(demos), lexicon=_lexicon(cards),
                      name_stems=_name_stems(cards), makers=_makers(registry, tools),
                      verb_owner=verb_owners(phrases, labels),
                      product_maker=self._product_word_makers(registry, tools, card_vectors))

    def _product_word_makers(self, registry: ToolRegistry, tools: list[str],
                             card_vectors: np.ndarray) -> dict[str, str]:
        """Per product word ("jingle"), the maker of its kind whose card is nearest it."""
        makers = _makers(registry, tools)
        words = {kind: _product_words(kind) for kind in _PRODUCTS if makers.get(kind)}
        flat = [w for ws in words.values() for w in ws]
        vectors = dict(zip(flat, self._embed(flat), strict=True))
        out = {}
        for kind, ws in words.items():
            ts = sorted(makers[kind])
            rows = card_vectors[[tools.index(t) for t in ts]]
            for w in ws:
                out[w] = ts[int(np.argmax(rows @ vectors[w]))]
        return out

    @staticmethod
    def _label(demos: list[Demo], per_demo: list[list[str]], vectors: np.ndarray,
               card_vectors: np.ndarray, tools: list[str]
               ) -> tuple[list[str], list[str], list[int]]:
        """Each demonstration's step phrases labelled with its tasks' tools."""
        phrases: list[str] = []
        labels: list[str] = []
        rows: list[int] = []
        seen: set[tuple[str, str]] = set()
        at = 0
        for demo, ps in zip(demos, per_demo, strict=True):
            pv = vectors[at:at + len(ps)]
            task_tools = [t.tool for t in demo.plan.tasks]
            tv = card_vectors[[tools.index(t) for t in task_tools]]
            pairs = (list(enumerate(task_tools)) if demo.ordered_steps
                     else align_steps(ps, task_tools, pv, tv))
            for i, tool in pairs:
                if (ps[i], tool) not in seen:
                    seen.add((ps[i], tool))
                    phrases.append(ps[i])
                    labels.append(tool)
                    rows.append(at + i)
            at += len(ps)
        return phrases, labels, rows

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        key = "ground:" + hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
        return embed_cached(self.embedder, key, texts)

    def prepare(self, registry: ToolRegistry) -> None:
        """Embed the bank's step phrases, requests and the cards for ``registry`` now, not on
        the first request."""
        self._index(registry, frozenset())

    # -- grounding ---------------------------------------------------------------------------

    def ground(self, request: str, inputs: dict[str, str], registry: ToolRegistry,
               exclude: Iterable[str] = ()) -> Grounding:
        """One step per clause that asks for a tool, in request order, then the tools that
        values of the request ask for (see the module docs)."""
        index = self._index(registry, frozenset(exclude))
        clauses = split_clauses(request) or [request]
        # what a clause asks for is in its words, not in the text it quotes for a tool nor in
        # the description its colon introduces ("generate image: a market at night, rain")
        heads = [_head(c) for c in clauses]
        vectors = self.embedder.embed([unquote(t) for t in clauses + heads + [request]])
        n = len(clauses)
        clause_vectors, head_vectors, request_vector = vectors[:n], vectors[n:2 * n], vectors[-1]
        prior = self._prior(index, request_vector)
        found = Grounding()
        oos = out_of_scope_similarity(self.embedder, clause_vectors)
        for c, clause in enumerate(clauses):
            step = self._clause_step(index, clause, clause_vectors[c], prior, found.scores)
            if heads[c] != clause:  # the head alone may ask more clearly
                by_head = self._clause_step(index, heads[c], head_vectors[c], prior, found.scores)
                if by_head is not None and (step is None or by_head.strength > step.strength):
                    step = dataclasses.replace(by_head, clause=clause)
            step = self._answer(index, clause, clause_vectors[c], step, found, inputs, registry)
            if step is None and oos[c] >= self.settings.out_of_scope_floor:
                found.out_of_scope.append(clause)  # near no tool, near an action in the world
            if step is None or remark(clause):  # a remark's words still count as evidence
                continue
            if oos[c] > step.strength + self.settings.out_of_scope_margin:
                found.out_of_scope.append(clause)
                continue
            if not found.steps or found.steps[-1].tool != step.tool:
                found.steps.append(step)
            found.steps.extend(self._other_products(index, step, clause_vectors[c], registry))
        whole = index.card_vectors @ request_vector
        ranked = np.argsort(-(whole + 0.5 * np.array([found.scores.get(t, 0.0)
                                                      for t in index.tools])), kind="stable")
        found.closest = [index.tools[i] for i in ranked[:3]]
        self._borrow(index, found, request_vector, inputs, request, registry)
        if self.settings.slots:
            _add_slot_steps(found, registry, request)
        found.steps = [twin for st in found.steps for twin in _counted(st, registry, inputs)]
        self._takers(index, found, registry, inputs, whole, prior)
        return found

    def _prior(self, index: _Index, request_vector: np.ndarray) -> dict[str, float]:
        """The tools of the demonstrations most similar to the request."""
        s = self.settings
        prior: dict[str, float] = {}
        if not len(index.demos) or not s.neighbours:
            return prior
        sims = index.demo_vectors @ request_vector
        for j in np.argsort(-sims, kind="stable")[: s.neighbours]:
            if float(sims[j]) < s.neighbour_floor:
                break
            for tool in index.demos[j].tools():
                prior[tool] = prior.get(tool, 0.0) + 1.0 / s.neighbours
        return prior

    def _clause_step(self, index: _Index, clause: str, vector: np.ndarray,
                     prior: dict[str, float], best: dict[str, float]) -> Step | None:
        """The tool a clause asks for, or None when it is close to no phrase."""
        s = self.settings
        cards = index.card_vectors @ vector
        votes: dict[str, float] = {}
        strength = float(cards.max())
        if index.phrases:
            sims = index.phrase_vectors @ vector
            k = min(s.k, max(1, len(index.phrases) // 50))
            top = np.argsort(-sims, kind="stable")[:k]
            strength = float(sims[top[0]])
            total = float(sum(max(sims[j], 0.0) for j in top)) or 1.0
            for j in top:
                votes[index.labels[j]] = votes.get(index.labels[j], 0.0) + \
                    max(float(sims[j]), 0.0) / total
        words = stems(unquote(clause))
        lexical = [sum(lex.get(w, 0.0) for w in words) for lex in index.lexicon]
        top_lex = max(lexical, default=0.0) or 1.0
        hits = max((sum(w in lex for w in words) for lex in index.lexicon), default=0)
        score = {t: votes.get(t, 0.0) + s.card_weight * float(cards[i])
                 + s.lexical_weight * lexical[i] / max(top_lex, 2.0)
                 + s.neighbour_weight * prior.get(t, 0.0) for i, t in enumerate(index.tools)}
        # a clause naming a tool ("resize it", "translate this") or two of its card's rarer words
        named = any(words & n for n in index.name_stems)
        if named or (hits >= 2 and top_lex >= 3.0):
            strength = max(strength, 0.45)
        if s.verbs:
            for st in verb_stems(unquote(clause)) & index.verb_owner.keys():
                tool, share = index.verb_owner[st]
                score[tool] += s.verb_weight * share
                strength = max(strength, s.tau + 0.1)
        # "design two logos": a tool that makes images; "a jingle": most the one whose card
        # is nearest a jingle (music, not speech)
        kinds = asks_new(clause)
        makers = {t for kind in kinds for t in index.makers.get(kind, ())}
        for t in makers:
            score[t] += s.product_weight
        for t in {t for kind in kinds for t in _product_makers(clause, kind, index)}:
            score[t] += _NAMED_MAKER_BONUS
        if makers:  # it is read as one of the tools that make the thing, whatever else it is near
            strength = max(strength, 0.45)
            ceiling = max(score[t] for t in makers)
            score.update({t: min(v, ceiling) for t, v in score.items() if t not in makers})
        if len(words) <= 2 and strength < s.tau + 0.1:  # "8 fps please", "be honest"
            return None
        for t, v in score.items():
            best[t] = max(best.get(t, -1.0), v)
        ranked = sorted(index.tools, key=lambda t: (-score[t], t not in makers))
        if strength < s.tau:
            return None
        margin = score[ranked[0]] - (score[ranked[1]] if len(ranked) > 1 else 0.0)
        return Step(tool=ranked[0], clause=clause, score=score[ranked[0]], strength=strength,
                    margin=margin, alternatives=[(t, score[t]) for t in ranked[1:4]])

    def _other_products(self, index: _Index, step: Step, vector: np.ndarray,
                        registry: ToolRegistry) -> list[Step]:
        """One clause may ask for two new media ("a clip of a campfire with guitar music"):
        for each kind it asks for that its step does not make, the maker nearest the clause."""
        made = _made_kinds(registry, step.tool)
        out = []
        for kind in asks_new(step.clause):
            makers = sorted(index.makers.get(kind, set()) - {step.tool})
            if kind in made or not makers:
                continue
            sims = {t: float(index.card_vectors[index.tools.index(t)] @ vector) for t in makers}
            tool = max(makers, key=lambda t: sims[t])
            out.append(Step(tool=tool, clause=step.clause, score=sims[tool],
                            strength=step.strength))
        return out

    def _answer(self, index: _Index, clause: str, vector: np.ndarray, step: Step | None,
                found: Grounding, inputs: dict[str, str], registry: ToolRegistry) -> Step | None:
        """A question about an image ("which one has the nicest light?") asks a tool that
        answers questions about images, whatever else its words are near ("reads better" is
        not a request to read); about several images ("which one", a list of them), one that
        takes several."""
        if not _QUESTION.match(clause):
            return step
        kinds = set(inputs.values()) | {k for st in found.steps for k in _makes(registry, st.tool)}
        if not kinds & {"image", "list[image]"}:
            return step
        answerers = [t for t in index.tools if _answers(registry, t)]
        several = "list[image]" in kinds or _SEVERAL.search(clause) is not None
        if several:
            answerers = [t for t in answerers if takes(registry, t, "list[image]", exact=True)]
        # a clear reading stands ("what is in this photo?" is a caption), unless the question
        # is about several images and its tool takes one
        if not answerers or step is not None and (step.tool in answerers or (
                step.strength >= self.settings.tau + 0.1 and not several)):
            return step
        sims = {t: float(index.card_vectors[index.tools.index(t)] @ vector) for t in answerers}
        tool = max(answerers, key=lambda t: sims[t])
        return Step(tool=tool, clause=clause, score=sims[tool], strength=self.settings.tau)

    def _borrow(self, index: _Index, found: Grounding, request_vector: np.ndarray,
                inputs: dict[str, str], request: str, registry: ToolRegistry) -> None:
        """A clause may ask for more than one step ("a clip with music"): borrow the structure
        of the closest example when the examples near the request agree on it (not to speak
        an answer the request does not ask to hear, unless someone here taught it so)."""
        s = self.settings
        if not len(index.demos) or not found.steps:
            return
        sims = index.demo_vectors @ request_vector
        near = np.argsort(-sims, kind="stable")
        best = index.demos[near[0]]
        their = [t.tool for t in best.plan.tasks]
        rival = next((float(sims[j]) for j in near[1:]
                      if index.demos[j].tools() != best.tools()), -1.0)
        tools = [st.tool for st in found.steps]
        if (float(sims[near[0]]) >= s.structure_floor
                and float(sims[near[0]]) - rival >= s.structure_margin
                and Counter(best.inputs.values()) == Counter(inputs.values())
                and set(tools) < set(their) and len(their) <= len(tools) + 2
                and (best.learned or asks_speech(request) or not any(
                    _speaks(registry, t) for t in set(their) - set(tools)))
                and (best.learned or not _unasked_media(registry, set(their) - set(tools),
                                                        request))):
            by_tool = {st.tool: st for st in found.steps}
            found.steps = [by_tool.get(t) or Step(tool=t, clause=request, origin="structure",
                                                  strength=float(sims[near[0]]))
                           for t in their]

    def _takers(self, index: _Index, found: Grounding, registry: ToolRegistry,
                inputs: dict[str, str], whole: np.ndarray, prior: dict[str, float]) -> None:
        """For each kind of input the user gave, the tools suited to take it, best first."""
        s = self.settings
        for kind in dict.fromkeys(inputs.values()):
            takers = [i for i, t in enumerate(index.tools) if takes(registry, t, kind)]
            ranked = sorted(takers, key=lambda i: -(whole[i] + s.neighbour_weight
                                                    * prior.get(index.tools[i], 0.0)
                                                    + 0.5 * found.scores.get(index.tools[i], 0.0)))
            if ranked:
                found.takers[kind] = _feeding_first([index.tools[i] for i in ranked], found,
                                                    registry, set(inputs.values()))

    def propose(self, request: str, inputs: dict[str, str], registry: ToolRegistry,
                exclude: Iterable[str] = ()) -> Proposal:
        """The grounded, composed and linked plan with its confidence; ``plan`` is None when
        no clause asks for a tool the registry can run."""
        from mmagent.planner._compose import compose, confidence

        index = self._index(registry, frozenset(exclude))
        found = self.ground(request, inputs, registry, exclude)
        found.steps = [st for st in found.steps
                       if missing_slot(registry, st.tool, entities(request)) is None]
        if not found.steps and not found.out_of_scope and inputs:
            self._whole(index, found, registry, request, inputs)
        if not found.steps:
            return Proposal(plan=None, confidence=0.0, grounding=found)
        plan = compose(found, request, inputs, registry, index.links, self.settings.compose,
                       self.settings.search)
        if plan is None:
            return Proposal(plan=None, confidence=0.0, grounding=found)
        return Proposal(plan=plan, confidence=confidence(found), grounding=found)

    def _whole(self, index: _Index, found: Grounding, registry: ToolRegistry, request: str,
               inputs: dict[str, str]) -> None:
        """No clause asked clearly, but media were given: the runnable tool the request
        reads most like."""
        able = [t for t in found.closest if _needs(registry, t) <= set(inputs.values())]
        if able:
            found.steps = [Step(tool=able[0], clause=request, origin="whole",
                                score=found.scores.get(able[0], 0.0), strength=0.0)]


def _feeding_first(takers: list[str], found: Grounding, registry: ToolRegistry,
                   given: set[str]) -> list[str]:
    """``takers`` with the one a clause reads as next first, when it makes what that clause's
    tool takes: "read it out loud" about a photo is speech first and reading (OCR) next, and
    the reading feeds the speech."""
    for st in found.steps:
        needs = _required_kinds(registry, st.tool)
        for tool, _score in st.alternatives[:1]:
            if tool in takers and _made_kinds(registry, tool) & needs:
                return [tool] + [t for t in takers if t != tool]
    # a taker whose result no step takes leads nowhere (the user gave that kind already):
    # one whose result a step needs comes first ("my voice memo with a scene idea; I'd like a
    # picture of it": the transcript)
    needed = {k for st in found.steps for k in _required_kinds(registry, st.tool)} - given

    if found.steps and takers and not _made_kinds(registry, takers[0]) & needed:
        first = next((t for t in takers[:3] if _made_kinds(registry, t) & needed), None)
        if first is not None:
            return [first] + [t for t in takers if t != first]
    return takers


def _unasked_media(registry: ToolRegistry, tools: set[str], request: str) -> bool:
    """Does one of ``tools`` make a kind of media the request never names ("draw a fox"
    names no video)?"""
    for tool in tools:
        made = (main_media(registry, tool) or "").removeprefix("list[").rstrip("]")
        if made in _PRODUCT and not _PRODUCT[made].search(request):
            return True
    return False


_EACH_INPUT = re.compile(r"\b(?:both|each|all|every one)\b(?:\s+of)?\s+"
                         r"(?:these|those|the|my|them)\b|"
                         r"\b(?:both|each) (?:photos?|pictures?|images?|recordings?|clips?)\b",
                         re.IGNORECASE)


def _counted(step: Step, registry: ToolRegistry, inputs: dict[str, str]) -> list[Step]:
    """A clause's step, and a twin for each more of its kind the clause asks to have made
    ("design two logos": two image tasks, made side by side), or for each more input the
    clause asks it for when its tool takes one ("describe both of these photos")."""
    if step.origin == "clause" and _EACH_INPUT.search(step.clause):
        singles = [k for k in _required_kinds(registry, step.tool) if k in _MEDIA]
        n = sum(kind in singles for kind in inputs.values())
        if len(singles) == 1 and n > 1:
            return [step] + [dataclasses.replace(step, origin="count", alternatives=[])
                             for _ in range(n - 1)]
    made = main_media(registry, step.tool)
    if step.origin != "clause" or made is None or made not in asks_new(step.clause):
        return [step]
    return [step] + [dataclasses.replace(step, origin="count", alternatives=[])
                     for _ in range(copies(step.clause, made) - 1)]


def _add_slot_steps(found: Grounding, registry: ToolRegistry, request: str) -> None:
    """A value fitting a tool's required port asks for that tool (after the clause holding
    the value), unless a chosen tool takes that kind of value itself."""
    values = entities(request)
    for tool, kind in slot_tools(registry, values):
        if tool in found.tools or any(absorbs(registry, t, kind) for t in found.tools):
            continue
        # the clause holding the value asks for the tool, if it reads like it at all
        holder = next((st for st in found.steps if st.origin == "clause" and
                       _holds(st.clause, values[kind]) and
                       tool in dict(st.alternatives)), None)
        if holder is not None:  # and it is the clause's best reading now
            holder.alternatives = [(holder.tool, holder.score)] + [
                (t, v) for t, v in holder.alternatives if t != tool]
            holder.tool = tool
            continue
        found.steps.append(Step(tool=tool, clause=request, origin="slot", strength=0.5))


def _holds(clause: str, value: Any) -> bool:
    texts = [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
    return all(t.lower() in clause.lower() for t in texts)


def _needs(registry: ToolRegistry, tool: str) -> set[str]:
    """The media kinds ``tool`` cannot run without."""
    return _required_kinds(registry, tool) & set(_MEDIA)


def takes(registry: ToolRegistry, tool: str, kind: str, exact: bool = False) -> bool:
    """A port of ``tool`` takes ``kind`` (or, unless ``exact``, a list of it)."""
    from mmagent.toolkit._base import port_type

    kinds = (kind,) if exact else (kind, f"list[{kind}]")
    return any(port_type(f.annotation) in kinds
               for f in registry.tool_class(tool).Input.model_fields.values())


def _required_kinds(registry: ToolRegistry, tool: str) -> set[str]:
    """The kinds (``list[image]`` as ``image``) of a tool's required ports."""
    from mmagent.toolkit._base import port_type

    return {port_type(f.annotation).removeprefix("list[").rstrip("]")
            for f in registry.tool_class(tool).Input.model_fields.values() if f.is_required()}


def _made_kinds(registry: ToolRegistry, tool: str) -> set[str]:
    """The kinds ``tool`` makes, a list counted as its items' kind."""
    return {k.removeprefix("list[").rstrip("]") for k in _makes(registry, tool)}


def _makes(registry: ToolRegistry, tool: str) -> set[str]:
    from mmagent.toolkit._base import port_type

    return {port_type(f.annotation) for f in registry.tool_class(tool).Output.model_fields.values()}


def _speaks(registry: ToolRegistry, tool: str) -> bool:
    """``tool`` speaks text: text in, audio out, its card about speech."""
    return (not _needs(registry, tool) and "audio" in _makes(registry, tool)
            and takes(registry, tool, "text", exact=True)
            and re.search(r"speech|speak|aloud|voice", registry.tool_class(tool).description,
                          re.IGNORECASE) is not None)


def main_media(registry: ToolRegistry, tool: str) -> str | None:
    """The port type of a tool's first media result ("video", not the GIF preview beside it;
    "list[image]" for a search), or None."""
    from mmagent.toolkit._base import port_type

    kinds = [port_type(f.annotation) for f in registry.tool_class(tool).Output.model_fields
             .values()]
    return next((k for k in kinds if k.removeprefix("list[").rstrip("]") in _MEDIA), None)


_NAMED_MAKER_BONUS = 0.2
"""added to the maker nearest the product word a clause names, over every maker's boost"""


def _product_words(kind: str) -> list[str]:
    """The singular words of :data:`_PRODUCTS` for ``kind`` ("logos?" -> "logo")."""
    return [w.removesuffix("s?").removesuffix("?") for w in _PRODUCTS[kind].split("|")]


def _product_makers(clause: str, kind: str, index: _Index) -> set[str]:
    """The makers of ``kind`` nearest the product words ``clause`` names."""
    out = set()
    for m in _PRODUCT[kind].finditer(clause):
        word = m.group(0).lower()
        out |= {index.product_maker[w] for w in (word, word[:-1], word[:-2])
                if w in index.product_maker}
    return out


def _makers(registry: ToolRegistry, tools: list[str]) -> dict[str, set[str]]:
    """Per media kind, the tools whose main media result is a new one of that kind: not a
    list found or cut from something, not a change of an input of that kind."""
    out: dict[str, set[str]] = {}
    for t in tools:
        kind = main_media(registry, t)
        if kind in _MEDIA and kind not in _needs(registry, t):
            out.setdefault(kind, set()).add(t)
    return out


def _answers(registry: ToolRegistry, tool: str) -> bool:
    """``tool`` answers a question about an image: an image port, a required question port, a
    text answer."""
    from mmagent.toolkit._base import port_type

    ports = registry.tool_class(tool).Input.model_fields
    return takes(registry, tool, "image") and "text" in _makes(registry, tool) and any(
        "question" in name and f.is_required() and port_type(f.annotation) == "text"
        for name, f in ports.items())
