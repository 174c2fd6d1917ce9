"""A simulated model tool and a one-step workflow on it, for the serving benchmarks
(``serve.py``, ``chaos.py``): they measure the serving path, with no model and no LLM in it.

Imported as ``bench._forward``, not ``_forward``: Ray workers unpickle a tool class by its
module's name, and they have the checkout on their path, not bench/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from mmagent.toolkit import Ports, Tool

__all__ = ["SimulatedForward", "one_step_workflow"]

_ONE_STEP = """\
version: 1
description: One call of fake_forward.
inputs:
  label: {type: text, description: echoed back}
nodes:
  forward: {tool: fake_forward, args: {label: $input.label}}
outputs:
  text: $forward.text
"""


class SimulatedForward(Tool):
    """A forward pass of ``forward_s`` seconds plus ``per_item_s`` per batch item, slept as a
    GPU kernel leaves the CPU free. A benchmark subclasses it with its own ``forward_s``."""

    name = "fake_forward"
    description = "Simulates one forward pass of a model on a batch."
    forward_s: ClassVar[float]
    per_item_s: ClassVar[float] = 0.001

    class Input(Ports):
        label: str = Field(description="echoed back")

    class Output(Ports):
        text: str = Field(description="the label")

    def run(self, inputs, ctx):
        time.sleep(self.forward_s + self.per_item_s * len(inputs))
        return [self.Output(text=i.label) for i in inputs]


def one_step_workflow(root: Path) -> str:
    """Writes the workflow ``one_step`` (one call of ``fake_forward`` on the input ``label``,
    its output ``text``) into ``root``; its path, for ``workflows.paths``."""
    path = root / "one_step.yaml"
    path.write_text(_ONE_STEP)
    return str(path)
