"""Model tools in smolagents' ``PipelineTool`` shape: load a checkpoint, then per batch
``encode -> forward -> decode``.

A model tool names the classes that read its checkpoint (``model_class``, ``processor_classes``:
dotted names, imported on load, so declaring a tool imports neither torch nor transformers) and
implements the three steps. :class:`PipelineTool` writes once what every such tool repeats:
the checkpoint path (an HF id, a local directory, or the tiny model built in code), device and
dtype, the model moved there in eval mode, the batch split into groups of rows that may share a
forward pass, and ``forward`` under ``torch.inference_mode``.

>>> from pydantic import Field
>>> from mmagent.toolkit._base import Ports
>>> class Lengths(PipelineTool):
...     name = "lengths"
...     description = "Counts the characters of a text."
...     class Input(Ports):
...         text: str = Field(description="a text")
...     class Output(Ports):
...         n: int = Field(description="its length")
...     def load(self):  # no checkpoint to read
...         pass
...     def encode(self, rows, ctx):
...         return [r.text for r in rows]
...     def forward(self, texts, ctx):
...         return [len(t) for t in texts]
...     def decode(self, counts, rows, ctx):
...         return [self.Output(n=n) for n in counts]
>>> Lengths()(text="four").n
4
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from mmagent.toolkit._base import Tool, ToolContext

__all__ = ["PipelineTool", "group_rows", "load_class"]

logger = logging.getLogger(__name__)

# Auto classes that would pick a torchvision image processor where torchvision is installed
# (and fail where it is not); the PIL ones read the same preprocessor config.
_PIL_BACKEND = ("transformers.AutoImageProcessor", "transformers.AutoProcessor")


def load_class(dotted: str) -> Any:
    """``"transformers.BlipForConditionalGeneration"`` -> the class (its module imported)."""
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def group_rows(keys: Sequence[Hashable]) -> list[list[int]]:
    """Row indices grouped by key, groups and rows in first-seen order: rows with equal keys
    share one forward pass.

    >>> group_rows(["a", "b", "a"])
    [[0, 2], [1]]
    """
    groups: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return list(groups.values())


class PipelineTool(Tool):
    """A model tool: ``load`` reads the checkpoint; ``run`` prepares the rows, groups them, and
    runs ``encode -> forward -> decode`` per group.

    Set ``model_class`` (loaded into ``self.model`` with ``from_pretrained(path, dtype=...)``,
    a diffusers pipeline included) and ``processor_classes`` (attribute name -> class, each
    loaded with ``from_pretrained(path)``). Implement:

    - ``prepare(inputs, ctx)``: one row per input (defaults resolved, checks that need the
      loaded model); the inputs themselves by default.
    - ``batches(rows)``: groups of row indices that may share a forward pass (see
      :func:`group_rows`); one group by default.
    - ``encode(rows, ctx)``: the model's inputs for one group (media decoded, text tokenised).
    - ``forward(encoded, ctx)``: the model call, under ``torch.inference_mode``.
    - ``decode(outputs, rows, ctx)``: one ``Output`` per row of the group, in order.
    """

    model_class: ClassVar[str]
    processor_classes: ClassVar[dict[str, str]] = {}
    worker = True  # runs on its own long-lived thread, batching concurrent calls

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> None:
        path = self.checkpoint_path()
        self._device = self.device()
        self._dtype = self.torch_dtype()
        # The model first: an unreachable hub id fails here with a plain OSError.
        self.model = self.load_model(path)
        for attr, dotted in self.processor_classes.items():
            kwargs = {"backend": "pil"} if dotted in _PIL_BACKEND else {}
            setattr(self, attr, load_class(dotted).from_pretrained(path, **kwargs))
        logger.info("%s: loaded %s on %s (%s)", self.name, path, self._device, self._dtype)

    def load_model(self, path: str) -> Any:
        """``model_class`` from ``path`` in the tool's dtype, on its device, ready to run."""
        return self.place(load_class(self.model_class).from_pretrained(path, dtype=self._dtype))

    def place(self, model: Any) -> Any:
        """``model`` on the tool's device: a torch module in eval mode, a diffusers pipeline
        with its progress bars off (steps are reported as events)."""
        if hasattr(model, "set_progress_bar_config"):
            model.set_progress_bar_config(disable=True)
            return model.to(self._device)
        return model.to(self._device).eval()

    # -- running ------------------------------------------------------------------------------

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        import torch

        rows = self.prepare(inputs, ctx)
        outputs: list[BaseModel | None] = [None] * len(rows)
        for group in self.batches(rows):
            batch = [rows[i] for i in group]
            encoded = self.encode(batch, ctx)
            with torch.inference_mode():
                raw = self.forward(encoded, ctx)
            for i, out in zip(group, self.decode(raw, batch, ctx), strict=True):
                outputs[i] = out
        return outputs  # type: ignore[return-value]

    def prepare(self, inputs: list[BaseModel], ctx: ToolContext) -> list[Any]:
        return list(inputs)

    def batches(self, rows: list[Any]) -> list[list[int]]:
        return [list(range(len(rows)))]

    def encode(self, rows: list[Any], ctx: ToolContext) -> Any:
        raise NotImplementedError

    def forward(self, encoded: Any, ctx: ToolContext) -> Any:
        raise NotImplementedError

    def decode(self, outputs: Any, rows: list[Any], ctx: ToolContext) -> list[BaseModel]:
        raise NotImplementedError
