"""The router: answer a plain question about images end to end, or plan a DAG of tools.

A vision-language model answers "what is in this photo?" in one call, better and faster than a
planned chain of captioner and text tools; anything that asks for another kind of output (speech,
a new image, a video), or brings audio or video, needs the planner. In ``auto`` mode the rules,
in order:

1. ``vlm_chat`` is not registered -> plan.
2. no image among the inputs -> plan; audio or video among them -> plan.
3. the request asks for another output kind (speech, music, an image to be drawn or edited, a
   video, a search) -> plan. Matched by phrase patterns, listed in ``_OUTPUT_CUES``.
4. the request reads as a question (a ``?``, or it starts with a question word or with
   describe / explain / tell / compare / ...) -> vlm.
5. otherwise the sentence embedder decides: the request goes where its nearest prototype
   sentence is (``_QUESTION_PROTOTYPES`` vs ``_TASK_PROTOTYPES``).

The vlm route is a one-task plan, ``vlm_chat(images=[every image], question=<the request>)``,
made without an LLM planner call; it is checked by the validator like any plan.

>>> from mmagent.planner._router import Router
>>> Router(registry).decide("What breed is this dog?", inputs)  # doctest: +SKIP
Route(route='vlm', reason='a plain question about 1 image', plan=Plan(...))
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import ConfigError, InputError
from mmagent.plan._ir import Plan, Task
from mmagent.plan._validator import collect_errors
from mmagent.planner._embed import Embedder, default_embedder, embed_cached
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["Router", "Route", "VLM_TOOL"]

logger = logging.getLogger(__name__)

VLM_TOOL = "vlm_chat"
RouteName = Literal["plan", "vlm"]

_OUTPUT_CUES: dict[str, str] = {  # output kind -> pattern of phrases asking for it
    "audio": r"\baloud\b|\bout loud\b|\bsay (it|this|that|them|the \w+)\b|\bspeak|\bspoken\b"
             r"|\bnarrat|\bvoice|\bread (it|this|that|them|the \w+) (out|to me)\b|\baudio\b"
             r"|\bsound\b|\bmusic|\bsong\b|\bsoundtrack|\bpodcast|\.(wav|mp3)\b",
    "image": r"\b(draw|paint|sketch|generate|render|redraw|retouch|recolou?r|colori[sz]e"
             r"|upscale|inpaint)\b|\bcreate (a|an|me|some|the)\b|\bedit\b|\bremove the\b"
             r"|\breplace the\b|\bturn (it|this|that|them|the \w+) into\b|\bmake (it|this|that"
             r"|the \w+|me|a|an) \w+|\bnew (image|picture|photo|version)\b|\bin the style of\b",
    "video": r"\bvideo|\banimat|\bclip\b|\bmovie\b|\bgif\b",
    "search": r"\b(find|search|retrieve|fetch)\b",
}
_QUESTION_START = re.compile(
    r"^\s*(what|what's|whats|who|whom|whose|which|where|when|why|how|is|are|was|were|do|does|"
    r"did|can|could|would|will|should|has|have|describe|explain|tell me|compare|identify|count|"
    r"list|name|caption|summari[sz]e|read|look at|give me a description)\b", re.IGNORECASE)
_QUESTION_PROTOTYPES = [
    "What is in this picture?",
    "Describe the image in detail.",
    "How many people are in the photo?",
    "Compare these two images.",
    "Tell me about this photo.",
    "Identify the objects you see.",
]
_TASK_PROTOTYPES = [
    "Change the background of this photo.",
    "Turn this picture into a short video.",
    "Make the colours of the image warmer.",
    "Produce a new picture from this one.",
    "Add a soundtrack to my photo slideshow.",
    "Upscale and sharpen the picture.",
]


@dataclass(frozen=True)
class Route:
    """The decision: ``route``, ``reason`` in words, and for ``vlm`` the one-task plan."""

    route: RouteName
    reason: str
    plan: Plan | None = None


class Router:
    """Chooses between the end-to-end ``vlm_chat`` path and the planner (see module docs)."""

    def __init__(self, registry: ToolRegistry, mode: str = "auto",
                 embedder: Embedder | None = None) -> None:
        if mode not in ("auto", "plan", "vlm"):
            raise ConfigError(f"router.mode: got {mode!r}; expected auto, plan or vlm",
                              key="router.mode")
        self.registry = registry
        self.mode = mode
        self._embedder = embedder

    def decide(self, prompt: str, inputs: dict[str, ArtifactRef]) -> Route:
        if self.mode == "plan":
            return Route("plan", "router.mode is plan")
        kinds = Counter(ref.kind for ref in inputs.values())
        if self.mode == "vlm":
            return self._forced(prompt, inputs, kinds)
        # 1.-2. can vlm_chat serve it at all?
        if VLM_TOOL not in self.registry:
            return Route("plan", f"{VLM_TOOL} is not registered")
        if not kinds["image"]:
            return Route("plan", "no image was given")
        others = sorted(k for k in kinds if k != "image")
        if others:
            return Route("plan", f"the request brings {' and '.join(others)} besides images")
        # 3. does it ask for anything but an answer in words?
        for kind, pattern in _OUTPUT_CUES.items():
            m = re.search(pattern, prompt, re.IGNORECASE)
            if m:
                what = "a search" if kind == "search" else f"{kind} output"
                return Route("plan", f"the request asks for {what} ({m.group(0).strip()!r})")
        # 4.-5. a question?
        n = kinds["image"]
        images = f"{n} image{'s' if n > 1 else ''}"
        if "?" in prompt or _QUESTION_START.match(prompt):
            return self._vlm(prompt, inputs, f"a plain question about {images}")
        q, t = self._similarities(prompt)
        if q >= t:
            return self._vlm(prompt, inputs, f"closest to a question about {images} "
                                             f"(similarity {q:.2f} against {t:.2f} for a task)")
        return Route("plan", f"closest to a task on the images (similarity {t:.2f} against "
                             f"{q:.2f} for a question)")

    # -- internals ---------------------------------------------------------------------------

    def _vlm(self, prompt: str, inputs: dict[str, ArtifactRef], reason: str) -> Route:
        plan = vlm_plan(prompt, inputs)
        errors = collect_errors(plan, self.registry, {n: r.kind for n, r in inputs.items()})
        if errors:  # a vlm_chat with other fields than the contract's: plan instead
            return Route("plan", f"{VLM_TOOL} cannot take this request ({errors[0].message})")
        return Route("vlm", reason, plan)

    def _forced(self, prompt: str, inputs: dict[str, ArtifactRef], kinds: Counter) -> Route:
        if VLM_TOOL not in self.registry:
            raise ConfigError(f"router.mode: got 'vlm' and no {VLM_TOOL} tool; expected "
                              f"{VLM_TOOL} among the tools {self.registry.names()}",
                              key="router.mode")
        if not kinds["image"]:
            raise InputError("got router.mode 'vlm' and no image; expected at least one image "
                             f"for {VLM_TOOL}")
        route = self._vlm(prompt, inputs, "router.mode is vlm")
        if route.plan is None:
            raise InputError(f"got router.mode 'vlm' but {route.reason}")
        return route

    def _similarities(self, prompt: str) -> tuple[float, float]:
        embedder = self._embedder or default_embedder()
        protos = _QUESTION_PROTOTYPES + _TASK_PROTOTYPES
        vectors = embed_cached(embedder, "router-prototypes", protos)
        sims = vectors @ embedder.embed([prompt])[0]
        n = len(_QUESTION_PROTOTYPES)
        return float(sims[:n].max()), float(sims[n:].max())


def vlm_plan(prompt: str, inputs: dict[str, ArtifactRef]) -> Plan:
    """The one-task plan of the vlm route: every image, the request as the question."""
    images = [f"$input.{name}" for name, ref in inputs.items() if ref.kind == "image"]
    return Plan(deliver=["text"], tasks=[Task(id="t1", tool=VLM_TOOL,
                                              args={"images": images, "question": prompt})])
