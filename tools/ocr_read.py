"""``ocr_read``: the text written in an image (signs, receipts, screenshots, pages), with PP-OCRv4.

The weights are real and ship inside the ``rapidocr-onnxruntime`` wheel (PP-OCRv4 detection and
recognition, the PP-OCR v2 direction classifier; ONNX, 16 MB, Apache-2.0), so this tool reads
text offline with nothing downloaded; it has no random-weight tiny model. rapidocr runs the
three networks on onnxruntime and finds one box per run of text; the boxes are then joined into
lines (boxes whose vertical centres lie within half a line height of each other, left to right)
and the lines into the text, top to bottom.

>>> OcrRead.card()["outputs"]["lines"]["type"]
'list[json]'
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from mmagent.artifacts import ImageRef
from mmagent.errors import ConfigError, ToolLoadError
from mmagent.toolkit import Ports, Resources, Tool, ToolContext

__all__ = ["OcrRead", "TextLine"]

logger = logging.getLogger(__name__)

_BUNDLED = "PP-OCRv4"  # the only checkpoint: the ONNX files inside rapidocr-onnxruntime
_OPTIONS = ("box_thresh", "unclip_ratio", "max_side")


class TextLine(Ports):
    """One line of text found in the image."""

    text: str = Field(description="the words of the line, left to right")
    box: list[int] = Field(description="the line's bounding box in pixels: [left, top, right, "
                           "bottom]")
    score: float = Field(description="recognition confidence, 0..1 (the mean over its words)")


class OcrRead(Tool):
    """Read the text in an image (OCR).

    Options (``options`` in ``mmagent.yaml``): ``box_thresh`` (detector confidence a text box
    needs, default 0.5), ``unclip_ratio`` (how far a box is grown around its text, 1.6) and
    ``max_side`` (the detector sees the image scaled so its longer side is at most this, 960:
    PaddleOCR's default; rapidocr's own, every image scaled up to a shorter side of 736, was 5-10x
    slower on small images and read no more here).

    >>> OcrRead.card()["inputs"]["min_score"]["required"]
    False
    """

    name = "ocr_read"
    description = (
        "Reads the text written in an image (a sign, a receipt, a label, a screenshot, a page) "
        "with OCR. Returns the text line by line, with each line's box and confidence."
    )
    default_checkpoint = _BUNDLED
    # ~16 MB of ONNX weights; the CPU build of onnxruntime runs them (a few hundred MB of
    # activations on a large image). Declared small so placement and budgets count it.
    resources = Resources(num_gpus=0.05, num_cpus=1.0, gpu_memory_gb=0.3)
    worker = True  # one engine on its own thread; images run one at a time
    option_names = _OPTIONS

    class Input(Ports):
        image: ImageRef = Field(description="the image to read")
        min_score: float = Field(0.5, ge=0.0, le=1.0,
                                 description="drop words recognised with less confidence")

    class Output(Ports):
        text: str = Field(description="all the text, one line per line of the image, top to "
                          "bottom; empty when the image has none")
        lines: list[TextLine] = Field(
            description="each line of text with its box [left, top, right, bottom] and score")

    def configure(self) -> None:
        for key, low, high in (("box_thresh", 0.0, 1.0), ("unclip_ratio", 1.0, 4.0),
                               ("max_side", 32, 4096)):
            value = self.options.get(key)
            if value is not None and not (isinstance(value, int | float)
                                          and low <= value <= high):
                raise ConfigError(f"got {key} {value!r} for tool {self.name!r}; expected a "
                                  f"number in [{low:g}, {high:g}]", key=key)
        if self.checkpoint != _BUNDLED:
            raise ConfigError(f"got checkpoint {self.checkpoint!r} for tool {self.name!r}; "
                              f"expected {_BUNDLED!r} (the weights inside rapidocr-onnxruntime)",
                              key="checkpoint")

    @classmethod
    def offline_settings(cls) -> dict[str, Any]:
        return {"checkpoint": _BUNDLED}  # real weights, shipped in the wheel

    def load(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:
            raise ToolLoadError(f"tool {self.name!r}: rapidocr-onnxruntime is not installed; "
                                "install it: pip install --no-deps rapidocr-onnxruntime "
                                "(its other dependencies are in mmagent's)", tool=self.name,
                                checkpoint=self.checkpoint) from e
        self.engine = RapidOCR(det_limit_type="max",
                               det_limit_side_len=int(self.options.get("max_side", 960)))
        logger.info("ocr_read: loaded %s", self.checkpoint)

    def run(self, inputs: list[OcrRead.Input], ctx: ToolContext) -> list[BaseModel]:
        kwargs = {k: float(self.options[k]) for k in ("box_thresh", "unclip_ratio")
                  if self.options.get(k) is not None}
        outs: list[BaseModel] = []
        for i, inp in enumerate(inputs):
            # 1. decode: rapidocr takes an RGB array (it converts to BGR itself)
            pixels = np.asarray(ctx.store.load_image(inp.image).convert("RGB"))
            # 2. detect, classify direction, recognise
            found, _ = self.engine(pixels, text_score=inp.min_score, **kwargs)
            # 3. join the boxes into lines
            lines = _lines(found or [])
            outs.append(self.Output(text="\n".join(line.text for line in lines), lines=lines))
            ctx.progress(i + 1, len(inputs), f"read {i + 1}/{len(inputs)} images")
        return outs


def _lines(found: list) -> list[TextLine]:
    """rapidocr's ``[[4 corner points], text, score]`` boxes as lines in reading order."""
    words = []
    for corners, text, score in found:
        text = text.strip()
        if not text:
            continue
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        words.append((min(xs), min(ys), max(xs), max(ys), text, float(score)))
    words.sort(key=lambda w: (w[1] + w[3]) / 2)
    rows: list[list[tuple]] = []
    for word in words:
        centre, height = (word[1] + word[3]) / 2, word[3] - word[1]
        row = rows[-1] if rows else None
        if row is not None:
            top, bottom = min(w[1] for w in row), max(w[3] for w in row)
            if abs(centre - (top + bottom) / 2) <= max(height, bottom - top) / 2:
                row.append(word)
                continue
        rows.append([word])
    lines = []
    for row in rows:
        row.sort(key=lambda w: w[0])
        box = [round(min(w[0] for w in row)), round(min(w[1] for w in row)),
               round(max(w[2] for w in row)), round(max(w[3] for w in row))]
        score = sum(w[5] for w in row) / len(row)
        lines.append(TextLine(text=" ".join(w[4] for w in row), box=box, score=round(score, 4)))
    return lines
