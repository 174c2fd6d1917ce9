"""Tool retrieval: the few tool cards most similar to the request go into the prompt.

A small planner chooses better among 5 tools than among 40, and its prompt is shorter. Cards are
embedded once per registry (keyed by :func:`registry_fingerprint`) and ranked by cosine
similarity to the request. Two safeguards keep recall where similarity alone misses:

- every media kind the request brings (image, audio, video) gets at least one tool that takes
  it, so the plan can start from the user's inputs;
- a registry no larger than ``k`` is not cut at all (and the embedder is never loaded).

>>> from mmagent.planner._retrieval import ToolRetriever
>>> ToolRetriever(k=5).select(registry, "Say it aloud", {"image0": "image"})  # doctest: +SKIP
['text_to_speech', 'image_caption', ...]
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from mmagent.planner._embed import Embedder, default_embedder, embed_cached
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["ToolRetriever", "registry_fingerprint", "card_text", "consumes"]


def registry_fingerprint(registry: ToolRegistry) -> str:
    """A hash of every tool card (names, descriptions, typed ports): what a plan depends on."""
    cards = json.dumps(registry.cards(), sort_keys=True, default=str)
    return hashlib.sha256(cards.encode()).hexdigest()[:16]


def card_text(card: dict[str, Any]) -> str:
    """What is embedded for a tool: its name in words, description and port types."""
    ins = ", ".join(f"{p['type']} {n}" for n, p in card["inputs"].items())
    outs = ", ".join(f"{p['type']} {n}" for n, p in card["outputs"].items())
    return (f"{card['name'].replace('_', ' ')}: {card['description']} "
            f"Takes {ins or 'nothing'}; gives {outs or 'nothing'}.")


def consumes(registry: ToolRegistry, tool: str, kind: str) -> bool:
    """Whether ``tool`` has a required input of ``kind`` (or a list of it)."""
    return any(f.is_required() and port_type(f.annotation) in (kind, f"list[{kind}]")
               for f in registry.tool_class(tool).Input.model_fields.values())


class ToolRetriever:
    """Picks the ``k`` tools whose cards are most similar to a request.

    ``embedder`` defaults to the shared MiniLM one; tool embeddings are cached per embedder and
    registry fingerprint, so a registry is embedded once however many requests it serves.
    """

    def __init__(self, k: int = 8, embedder: Embedder | None = None) -> None:
        if k < 0:
            raise ValueError(f"got k={k}; expected 0 (retrieval off) or more")
        self.k = k
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def rank(self, registry: ToolRegistry, request: str) -> list[tuple[str, float]]:
        """Every tool with its similarity to ``request``, best first."""
        names, vectors = self._tool_vectors(registry)
        query = self.embedder.embed([request])[0]
        sims = vectors @ query
        order = np.argsort(-sims, kind="stable")
        return [(names[i], float(sims[i])) for i in order]

    def select(self, registry: ToolRegistry, request: str,
               inputs: dict[str, str] | None = None) -> list[str]:
        """The tools to show the planner, best first (all of them when retrieval is off or
        the registry has at most ``k`` tools). ``inputs`` maps input names to kinds."""
        names = registry.names()
        if self.k == 0 or len(names) <= self.k:
            return names
        ranked = [n for n, _s in self.rank(registry, request)]
        chosen = ranked[: self.k]
        for kind in dict.fromkeys((inputs or {}).values()):
            if not any(consumes(registry, t, kind) for t in chosen):
                extra = next((t for t in ranked if consumes(registry, t, kind)), None)
                if extra is not None:
                    chosen.append(extra)
        return chosen

    def _tool_vectors(self, registry: ToolRegistry) -> tuple[list[str], np.ndarray]:
        cards = registry.cards()
        texts = [card_text(c) for c in cards]
        key = "tools:" + registry_fingerprint(registry)
        return [c["name"] for c in cards], embed_cached(self.embedder, key, texts)
