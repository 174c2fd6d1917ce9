"""The plan cache: a request of a shape planned before reuses that plan, with no LLM call.

A request's *shape* is its prompt normalised (case, whitespace, trailing punctuation), the kinds
and counts of its inputs (inputs are named ``image0, image1, ...`` by kind, so a plan written for
one photo works for any one photo), and the fingerprint of the registry's tool cards (a changed
tool invalidates every plan that could use it). Plans are JSON files under
``<cache_dir>/plans/``, written atomically.

Off by default for chat (the same words can mean different things in a conversation); turn it on
(``planner.plan_cache: true``) for repeated API use, where the same request comes back with new
media.

>>> cache = PlanCache(tmp_dir)  # doctest: +SKIP
>>> cache.put("Describe it.", {"image0": "image"}, fingerprint, plan)  # doctest: +SKIP
>>> cache.get("describe it", {"image0": "image"}, fingerprint) == plan  # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from mmagent.plan._ir import Plan

__all__ = ["PlanCache", "normalise_prompt", "shape_key"]

logger = logging.getLogger(__name__)


def normalise_prompt(prompt: str) -> str:
    """Lower case, single spaces, no trailing punctuation: ``" Say it  aloud! "`` ->
    ``"say it aloud"``."""
    return re.sub(r"\s+", " ", prompt).strip().lower().rstrip(" .!?;:,")


def shape_key(prompt: str, inputs: dict[str, str], fingerprint: str) -> str:
    """The cache key of a request: normalised prompt, input kinds with counts, registry."""
    counts = sorted(Counter(inputs.values()).items())
    shape = json.dumps({"prompt": normalise_prompt(prompt), "inputs": counts,
                        "registry": fingerprint}, sort_keys=True)
    return hashlib.sha256(shape.encode()).hexdigest()


class PlanCache:
    """Plans by request shape, one JSON file each under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, prompt: str, inputs: dict[str, str], fingerprint: str) -> Plan | None:
        path = self._path(shape_key(prompt, inputs, fingerprint))
        try:
            return Plan.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as e:  # a damaged entry is a miss, not a failure
            logger.warning("ignoring unreadable cached plan %s: %s", path, e)
            return None

    def put(self, prompt: str, inputs: dict[str, str], fingerprint: str, plan: Plan) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self._path(shape_key(prompt, inputs, fingerprint))
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".plan-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(plan.model_dump_json())
            os.replace(tmp, target)
        except OSError as e:  # a cache that cannot be written only costs the next LLM call
            logger.warning("could not write the plan cache %s: %s", target, e)
            Path(tmp).unlink(missing_ok=True)
