"""Demonstrations: worked (request, plan) examples, the few most similar chosen per request.

The shipped bank (``demos.yaml``) is written in the tool names of the built-in tools. Only
demonstrations whose plan validates against the registry at hand are offered (their tools exist
and take those arguments), so a bank can be larger than any one installation. Among those, the
``k`` most similar to the request (cosine similarity of sentence embeddings, plus a small bonus
when the demonstration has the same kinds of input) go into the prompt, the most similar last,
next to the request.

>>> bank = DemoBank.default()
>>> [d.request for d in bank.select("Describe it", {"image0": "image"}, registry, k=1)
... ]  # doctest: +SKIP
['Describe this picture.']
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from mmagent.errors import ConfigError
from mmagent.plan._ir import Plan
from mmagent.plan._validator import collect_errors
from mmagent.planner._embed import Embedder, default_embedder, embed_cached
from mmagent.planner._retrieval import registry_fingerprint
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["Demo", "DemoBank", "DEFAULT_BANK"]

DEFAULT_BANK = Path(__file__).with_name("demos.yaml")
_SAME_INPUTS_BONUS = 0.1


@dataclass(frozen=True)
class Demo:
    """One worked example. ``inputs`` maps input names (``image0``) to kinds (``image``)."""

    request: str
    plan: Plan
    inputs: dict[str, str] = field(default_factory=dict)
    id: str = ""
    steps: tuple[str, ...] = ()
    """The phrases of the request that asked for the tasks; empty: the request's clauses stand
    in (see :mod:`mmagent.planner`)."""
    ordered_steps: bool = False
    """``steps[i]`` asked for task ``i`` (else the pairing is found by similarity)."""
    learned: bool = False
    """Someone approved or corrected this plan here (``planner.learn``): it says what they
    want even where the request does not (a spoken answer)."""

    def tools(self) -> set[str]:
        return {t.tool for t in self.plan.tasks}


class DemoBank:
    """A list of :class:`Demo`, and the per-request choice among them."""

    def __init__(self, demos: Iterable[Demo], embedder: Embedder | None = None) -> None:
        self.demos = list(demos)
        self._embedder = embedder
        self._valid: dict[str, list[int]] = {}  # registry fingerprint -> usable demo indices

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> DemoBank:
        """Read a YAML list of ``{request, inputs, plan}`` and optional ``steps`` (one phrase
        per task, in task order)."""
        path = Path(path)
        try:
            rows = yaml.safe_load(path.read_text()) or []
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"could not read demonstrations {str(path)!r}: {e}",
                              file=str(path)) from e
        demos = []
        for i, row in enumerate(rows):
            try:
                plan = Plan.model_validate(row["plan"])
                steps = tuple(row.get("steps") or ())
                if steps and len(steps) != len(plan.tasks):
                    raise ValueError(f"{len(steps)} steps for {len(plan.tasks)} tasks; expected "
                                     "one step phrase per task, in task order")
                demos.append(Demo(request=row["request"], inputs=dict(row.get("inputs") or {}),
                                  plan=plan, id=f"{path.stem}-{i}", steps=steps,
                                  ordered_steps=bool(steps)))
            except Exception as e:
                raise ConfigError(f"{path}: demonstration {i}: got {row!r}; expected "
                                  f"{{request, inputs, plan}} with a valid plan ({e})",
                                  file=str(path)) from e
        return cls(demos, embedder)

    @classmethod
    def default(cls, embedder: Embedder | None = None) -> DemoBank:
        """The bank shipped with mmagent (``mmagent/planner/demos.yaml``)."""
        return cls.load(DEFAULT_BANK, embedder)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def usable(self, registry: ToolRegistry) -> list[Demo]:
        """The demonstrations whose plan validates against ``registry``."""
        key = registry_fingerprint(registry)
        if key not in self._valid:
            self._valid[key] = [i for i, d in enumerate(self.demos)
                                if d.tools() <= set(registry.names())
                                and not collect_errors(d.plan, registry, d.inputs)]
        return [self.demos[i] for i in self._valid[key]]

    def select(self, request: str, inputs: dict[str, str], registry: ToolRegistry, k: int,
               exclude: Iterable[str] = (), tools: Iterable[str] | None = None) -> list[Demo]:
        """The ``k`` usable demonstrations most similar to ``request``, least similar first.

        ``exclude`` drops demonstrations by id or by identical request text (an evaluation must
        not show the model the request it is scored on). With ``tools`` given, demonstrations
        using other tools are dropped too (they would teach tools the prompt does not list).
        When no more than ``k`` remain, they are returned in bank order without embedding.
        """
        if k <= 0:
            return []
        excluded = set(exclude)
        allowed = set(tools) if tools is not None else None
        pool = [d for d in self.usable(registry)
                if d.id not in excluded and d.request not in excluded
                and d.request.strip() != request.strip()
                and (allowed is None or d.tools() <= allowed)]
        if len(pool) <= k:
            return pool
        vectors = self._vectors()
        index = {id(d): i for i, d in enumerate(self.demos)}
        query = self.embedder.embed([request])[0]
        wanted = Counter(inputs.values())
        scores = [float(vectors[index[id(d)]] @ query)
                  + (_SAME_INPUTS_BONUS if Counter(d.inputs.values()) == wanted else 0.0)
                  for d in pool]
        best = sorted(np.argsort(-np.asarray(scores), kind="stable")[:k], key=lambda i: scores[i])
        return [pool[i] for i in best]

    def _vectors(self) -> np.ndarray:
        texts = [d.request for d in self.demos]
        key = "demos:" + hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
        return embed_cached(self.embedder, key, texts)

