"""Warm-up before ``mmagent serve`` listens: load what a first request needs, so that it costs
what a later one does (the first request to a cold server spent 35 s planning: the embedding
model, the tool index, the planner's LLM, then the tools themselves).

The server opens its port only after :func:`warm_up` returns, so a readiness probe that
connects (or calls ``/health``) waits for it; each step is logged with its seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mmagent.agent import Agent

__all__ = ["warm_up", "WARM_PROMPT"]

WARM_PROMPT = "What is in this photo? Say it aloud."
"""A typical first request: it plans over an image and loads the tools its plan uses."""

logger = logging.getLogger(__name__)


def warm_up(agent: Agent, echo: Callable[[str], None] = logger.info) -> float:
    """Plan :data:`WARM_PROMPT` over a blank image, load its plan's tools and the planner's
    local LLM; returns the seconds it took. A step that fails is logged and skipped (the first
    request then loads it), never fatal: a server with a broken tool still serves the others."""
    from PIL import Image

    start = time.perf_counter()
    planned: list[str] = []

    def plan() -> None:
        planned.extend(t.tool for t in agent.plan(WARM_PROMPT,
                                                  images=[Image.new("RGB", (64, 64))]).tasks)

    def tools() -> None:
        for name in dict.fromkeys(planned):
            agent.registry.get(name).ensure_loaded()

    def llm() -> None:  # grounded plans skip the LLM; a request that needs it must not wait
        agent.backend().complete([{"role": "user", "content": "ready?"}], max_tokens=1)

    steps: list[tuple[str, Callable[[], object]]] = [
        ("planner (embeddings, tool index)", plan), ("tools of its plan", tools)]
    if agent.config.planner.backend == "local":  # a remote LLM is not ours to warm
        steps.append(("planner LLM", llm))
    for label, step in steps:
        t0 = time.perf_counter()
        try:
            step()
        except Exception as e:  # noqa: BLE001 (any failure: the server still starts)
            echo(f"warm-up: {label} failed ({type(e).__name__}: {e}); the first request "
                 "loads it")
            continue
        extra = f": {', '.join(dict.fromkeys(planned))}" if step is tools and planned else ""
        echo(f"warm-up: {label}{extra} in {time.perf_counter() - t0:.2f} s")
    took = time.perf_counter() - start
    echo(f"warm-up done in {took:.2f} s")
    return took
