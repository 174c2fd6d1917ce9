"""Requests that need no tool, and requests no tool can serve.

A greeting, a thank-you, a question no tool answers or "what can you do?" gets an empty plan
and an answer in words; a request for something outside every tool ("book me a flight") gets
a typed refusal. Three signals, none of them a tool:

1. **Small talk.** A request made only of conversational words ("thanks, bye", "lol ok"), or
   an identity question ("what's your name?"), is ``direct``. Short requests with no media and
   no clause close to any tool are compared with a few conversational prototypes; a question
   or a conversational ask that no tool serves ("tell me a joke", "what is the capital of
   France?") is answered in words too (:func:`conversation`), not refused.
2. **Questions about abilities.** "What kinds of files can I send you?", "Can you work with
   video?", "Is it possible for you to make music? Just asking" ask what the agent can do, not
   for a run: ``capabilities`` — a question about ability whose object is generic (a kind of
   media, "files", "music"), with no media attached and nothing specific to make.
3. **Actions in the world.** Booking, buying, calling, texting a phone, alarms and reminders,
   calendars, posting to social networks, tracking parcels, paying, smart-home switches:
   prototypes of what assistants are asked and media tools never do, and edits of media that
   no built-in tool makes (trimming, removing vocals). A clause closer to one of
   them than to every tool's evidence asks for something no tool serves (a registered tool
   that does it, e.g. an MCP calendar server's, wins by its own card).

The answers are made from the registry's cards (:func:`capabilities_answer`), so a tool that
joined at run time (an MCP server's) is listed too.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np

from mmagent.planner._embed import Embedder, embed_cached
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["Intent", "small_talk", "asks_capabilities", "out_of_scope_similarity",
           "chat_similarity", "conversation", "direct_answer", "capabilities_answer",
           "OUT_OF_SCOPE", "asks_speech"]

Intent = Literal["task", "direct", "capabilities"]

_CHAT_WORDS = set("""
hi hello hey heya hiya yo howdy greetings morning evening afternoon night good day gm
thanks thank thx ty cheers appreciated appreciate much so very a lot you u
bye goodbye later see ya cya talk soon take care farewell
ok okay k kk sure alright fine yes yeah yep no nope nah right cool nice great awesome perfect
lol haha hahaha lmao wow oh ah hmm
job work done well that was exactly what i needed it one last this the on
how are doing today is everything going there and again just
""".split())
_IDENTITY = re.compile(
    r"^\s*(what'?s|what is|whats|tell me) your name\b|^\s*who (are|made|built|created) you\b|"
    r"^\s*are you (a |an )?(bot|robot|human|person|ai|real)\b|^\s*what are you\s*\??\s*$|"
    r"^\s*how are you\b|^\s*how'?s it going\b|^\s*what'?s up\b", re.IGNORECASE)
_ABILITY_START = re.compile(
    r"\b(can|could|do|would) you\b|\bare you (able|capable)\b|\bis it possible (for you )?to\b|"
    r"\bdo you (support|handle|understand|know how to|accept|take|work with)\b|"
    r"\bare you any good at\b", re.IGNORECASE)
_META = re.compile(
    r"\bwhat (can|could|do) you do\b|\bwhat are you (able|capable|good)\b|"
    r"\b(your|the) (capabilities|features|skills|abilities|tools|limits)\b|"
    r"\bwhat (kinds?|types?|sorts?) of (files?|media|formats?|things|tasks|requests|stuff|"
    r"inputs?|content|work)\b|\b(which|what) (file )?(formats?|file types|tools)\b|"
    r"\bwhat else can you\b|\bhow can you help\b|\bjust asking\b|\bjust curious\b|"
    r"\bin general\b|\bdon'?t need (any|one|it|that)\b", re.IGNORECASE)
_GENERIC = set("""
video videos pictures picture images image photos photo music songs song audio sound sounds
speech voice voices files file text documents pdfs clips clip recordings recording media
drawings art movies animations gifs stuff things transcripts translations languages
""".split())
_SPECIFIC = re.compile(r"\b(this|these|that|my|attached|here|of a|of an|of the|about)\b",
                       re.IGNORECASE)

OUT_OF_SCOPE = (
    "book a flight or a hotel room", "reserve a table at a restaurant", "buy tickets online",
    "order food or a taxi ride", "order something from a shop and pay for it",
    "pay a bill or transfer money to someone", "call someone on the phone",
    "send a text message or SMS to a phone number", "set an alarm or a timer",
    "remind me to do something later", "add an event to my calendar",
    "schedule a meeting with someone", "post a photo on Instagram or Facebook",
    "share this on social media", "track my package or delivery",
    "turn on the lights or the heating at home", "check my bank account balance",
    "navigate or give driving directions", "play a song on my speaker",
    "look up today's news or a stock price",
    "cut or trim the start of a video or a song", "remove the vocals or the noise from a song",
    "speed up, slow down or reverse a video",
)
_CHAT_PROTOTYPES = (
    "hello there", "good morning, how are you?", "thank you so much",
    "thanks, that was helpful", "goodbye, see you later", "ok, cool",
    "nice work, well done", "what is your name?", "who are you?", "haha that's funny",
)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower().replace("’", "'"))


def small_talk(request: str) -> bool:
    """Only conversational words, or a question about the agent itself."""
    if _IDENTITY.search(request):
        return True
    words = [w.strip("'") for w in _words(request)]
    return bool(words) and len(words) <= 12 and all(w in _CHAT_WORDS for w in words)


def asks_capabilities(request: str, inputs: dict[str, str]) -> bool:
    """A question about what the agent can do, not a request to do it now."""
    if inputs:
        return False
    if _META.search(request):
        return True
    m = _ABILITY_START.search(request)
    if m is None or "?" not in request:
        return False
    rest = re.split(r"[?,;]", request[m.end():])[0]  # "..., like if I send you one?"
    if _SPECIFIC.search(rest) or re.search(r"['\"“]", rest):
        return False
    content = [w for w in _words(rest) if w not in _FILLER]
    # "work with video, or only pictures": a verb and generic objects, nothing to make
    return 0 < len(content) <= 6 and sum(w in _GENERIC for w in content) >= 1 and \
        all(w in _GENERIC or w in _ABILITY_VERBS for w in content)


_FILLER = set("""
a an any some or and only also just to for me us with the of in at kind kinds type types
sort sorts different other more than even really please too well
""".split())
_ABILITY_VERBS = set("""
work deal handle make create generate produce read understand edit process see hear
listen watch write draw compose open use take accept analyze analyse transcribe translate
speak talk sing play do help change convert
""".split())


_TALK = re.compile(
    r"^\s*(?:(?:so|ok|okay|hey|well|and|but),?\s+)?(?:what|why|how|who|when|where|is|are|does|do|"
    r"tell me (?:a|an|about|something|more)|explain|any (?:idea|thoughts))\b", re.IGNORECASE)


def conversation(request: str) -> bool:
    """A question or a conversational ask ("tell me a joke", "what's the difference between a
    jingle and a theme song?"): with no tool for it and no action in the world, it is
    answered in words.

    >>> conversation("tell me a joke"), conversation("book me a flight to Rome")
    (True, False)
    """
    return _TALK.search(request) is not None


def out_of_scope_similarity(embedder: Embedder, vectors: np.ndarray) -> np.ndarray:
    """Per row of ``vectors`` (clauses), the similarity to the closest out-of-scope action."""
    protos = embed_cached(embedder, "out-of-scope", list(OUT_OF_SCOPE))
    return (vectors @ protos.T).max(axis=1) if len(vectors) else np.zeros(0)


def chat_similarity(embedder: Embedder, vector: np.ndarray) -> float:
    protos = embed_cached(embedder, "chat-prototypes", list(_CHAT_PROTOTYPES))
    return float((protos @ vector).max())


def direct_answer(request: str, registry: ToolRegistry) -> str:
    """A short reply to small talk (offline: a template; a capable LLM writes its own)."""
    words = set(_words(request))
    if words & {"thanks", "thank", "thx", "ty", "cheers", "appreciate", "appreciated"}:
        return "You're welcome! Tell me if there is anything else to do."
    if words & {"bye", "goodbye", "later", "cya", "farewell"}:
        return "Goodbye! Come back any time."
    if conversation(request) and not small_talk(request):
        return ("I can't answer that with my tools: I plan and run work on images, audio and "
                "video. " + _kinds_sentence(registry) + " Ask \"what can you do?\" for the list.")
    if _IDENTITY.search(request) and not re.search(r"\bhow\b", request, re.IGNORECASE):
        return ("I'm mmagent: I plan multimodal work and run it on tools. "
                + _kinds_sentence(registry) + " Ask \"what can you do?\" for the list.")
    if words & {"hi", "hello", "hey", "heya", "hiya", "howdy", "morning", "evening", "how"}:
        return "Hello! " + _kinds_sentence(registry) + " What shall I do?"
    return "Glad to hear it. " + _kinds_sentence(registry) + " What shall I do next?"


def _kinds_sentence(registry: ToolRegistry) -> str:
    cards = registry.cards()
    takes = sorted({_base(p["type"]) for c in cards for p in c["inputs"].values()}
                   & {"image", "audio", "video"})
    makes = sorted({_base(p["type"]) for c in cards for p in c["outputs"].values()}
                   & {"image", "audio", "video"})
    return (f"I work with {_join(takes) or 'text'} and can make {_join(makes) or 'text'} "
            f"with {len(cards)} tools.")


def _base(kind: str) -> str:
    return kind[5:-1] if kind.startswith("list[") else kind


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] \
        if items else ""


def capabilities_answer(registry: ToolRegistry) -> str:
    """What the agent can do, from the registry's cards: one line per tool."""
    lines = [_kinds_sentence(registry), "My tools:"]
    for name in registry.names():
        cls: Any = registry.tool_class(name)
        card = cls.card()
        ins = ", ".join(sorted({_base(port_type(f.annotation)) for f in
                                cls.Input.model_fields.values() if f.is_required()})) or "-"
        outs = ", ".join(dict.fromkeys(p["type"] for p in card["outputs"].values())) or "-"
        first = re.split(r"(?<=[.!?])\s", card["description"].strip())[0]
        lines.append(f"- {name}: {first} (takes {ins}; gives {outs})")
    return "\n".join(lines)


_SPEECH = re.compile(
    r"\baloud\b|\bout loud\b|\bread (it|this|that|them|the \w+)( \w+)?( out)? (to|for) me\b|"
    r"\bread (it|this|that|them) out\b|\bvoice (it|that|this|the \w+)\b|\bnarrat|"
    r"\bsay (it|this|that)\b|\bspoken\b|\bspeak (it|this|that|the \w+)\b|\bas speech\b|"
    r"\b(tell|read) (it to )?me (out loud|aloud)\b|\ba voice (saying|that says|reading)\b|"
    r"\b(that says|say) ['\"“]|\b(into|as) (an? )?(audio|audiobook|mp3|voice-?over)\b",
    re.IGNORECASE)


def asks_speech(request: str) -> bool:
    """The request wants its answer spoken ("aloud", "read it to me", "voice it")."""
    return _SPEECH.search(request) is not None
