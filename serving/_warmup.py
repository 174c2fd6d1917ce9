"""Warm-up before ``mmagent serve`` listens: load what a first request needs and run it once,
so that the first request costs what a later one does (the first request to a cold server spent
35 s planning: the embedding model, the tool index, the planner's LLM, then the tools
themselves; and a loaded tool still pays for its first call: the first forward pass, lazy
kernels, tokenizer caches, image decoders).

The warm-up plans :data:`WARM_PROMPT` over :func:`warm_image`, loads the plan's tools, and runs
the plan once through the agent's executor, as a request's plan runs, except that the run
neither reads nor writes the result cache (it computes, and a user who later sends the same
image is not answered from it) and is recorded nowhere (no run to resume or list, nothing under
``/v1/runs``). A tool that asks for approval is not run: nobody approved it.

The server opens its port only after :func:`warm_up` returns, so a readiness probe that
connects (or calls ``/health``) waits for it; each step is logged with its seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from mmagent.agent import Agent
from mmagent.artifacts import ArtifactRef
from mmagent.errors import ToolExecutionError
from mmagent.plan import Plan

__all__ = ["warm_up", "warm_image", "WARM_PROMPT"]

WARM_PROMPT = "What is in this photo? Say it aloud."
"""A typical first request: it plans over an image and runs the tools its plan uses."""

logger = logging.getLogger(__name__)


def warm_image() -> Any:
    """A 256x256 RGB picture with something in it (a sky-to-grass gradient, a sun, a house),
    the same at every start: the tools see what a photo gives them, not a blank frame.

    >>> warm_image().size
    (256, 256)
    """
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (256, 256))
    draw = ImageDraw.Draw(img)
    for y in range(256):
        sky = y < 170
        draw.line([(0, y), (255, y)], fill=(90 + y // 3, 150 + y // 4, 235) if sky
                  else (60, 140 - (y - 170) // 2, 50))
    draw.ellipse((180, 20, 230, 70), fill=(250, 210, 60))
    draw.rectangle((50, 120, 140, 200), fill=(170, 60, 50), outline=(40, 20, 20), width=3)
    draw.polygon([(40, 122), (95, 75), (150, 122)], fill=(110, 40, 35))
    draw.rectangle((85, 160, 105, 200), fill=(70, 45, 30))
    return img


def warm_up(agent: Agent, echo: Callable[[str], None] = logger.info) -> float:
    """Plan :data:`WARM_PROMPT` over :func:`warm_image`, load its plan's tools, run the plan
    once (uncached, unrecorded) and load the planner's local LLM; returns the seconds it took.
    A step that fails is logged and skipped (the first request then pays for it), never fatal:
    a server with a broken tool still serves the others."""
    start = time.perf_counter()
    inputs: dict[str, ArtifactRef] = {}
    plans: list[Plan] = []

    def plan() -> str:
        inputs["image0"] = agent.store.put_image(warm_image())
        plans.append(agent.plan(WARM_PROMPT, images=[inputs["image0"]]))
        return ""

    def tools() -> str:
        names = list(dict.fromkeys(t.tool for t in plans[0].tasks))
        for name in names:
            agent.registry.get(name).ensure_loaded()
        return ", ".join(names)

    def run() -> str:
        return _run_once(agent, plans[0], inputs)

    def llm() -> str:  # grounded plans skip the LLM; a request that needs it must not wait
        agent.backend().complete([{"role": "user", "content": "ready?"}], max_tokens=1)
        return ""

    steps: list[tuple[str, Callable[[], str]]] = [
        ("planner (embeddings, tool index)", plan), ("tools of its plan", tools),
        ("one run of its plan", run)]
    if agent.config.planner.backend == "local":  # a remote LLM is not ours to warm
        steps.append(("planner LLM", llm))
    for label, step in steps:
        if step in (tools, run) and not plans:
            continue  # the planner failed (logged): there is no plan to load or run
        t0 = time.perf_counter()
        try:
            extra = step()
        except Exception as e:  # noqa: BLE001 (any failure: the server still starts)
            echo(f"warm-up: {label} failed ({type(e).__name__}: {e}); the first request "
                 "pays for it")
            continue
        echo(f"warm-up: {label}{': ' + extra if extra else ''} in "
             f"{time.perf_counter() - t0:.2f} s")
    took = time.perf_counter() - start
    echo(f"warm-up done in {took:.2f} s")
    return took


def _run_once(agent: Agent, plan: Plan, inputs: dict[str, ArtifactRef]) -> str:
    """Run ``plan`` on the agent's executor, computing every task and recording nothing; the
    tools that ran (a failed task raises :class:`ToolExecutionError`)."""
    result = agent.executor.run(plan, inputs, use_cache=False, record=False,
                                approve=lambda _request: False)
    if result.failures:
        first = next(iter(result.failures.values()))
        raise ToolExecutionError(first.message, failures={t: f.message for t, f in
                                                          result.failures.items()})
    ran = _tools(plan, set(result.outputs))
    if not result.rejected:
        return ran
    return f"{ran or 'nothing'} (not run, as they ask for approval: " \
        f"{_tools(plan, set(result.rejected))})"


def _tools(plan: Plan, task_ids: set[str]) -> str:
    """The tools of ``plan``'s tasks in ``task_ids``, each once, in plan order."""
    return ", ".join(dict.fromkeys(t.tool for t in plan.tasks if t.id in task_ids))
