"""Tools of the planner evaluation that have no demonstration anywhere: two Python tools a user
would write (``sentiment``, ``image_resize``, as in ``new_tools.yaml``), and a card-only
stand-in for ``ocr_read``.

``ocr_read`` (image -> text, lines) is a built-in tool being added on another branch; until it
is merged, ``OcrReadStandIn`` registers a card with exactly those ports so the requests that
need it can be planned. It is replaced by the real tool at merge (and then registers itself).
"""

from __future__ import annotations

import re

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import ImageRef
from mmagent.toolkit import Tool


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


_POSITIVE = {"good", "great", "happy", "love", "excellent", "thanks", "thank", "pleased",
             "amazing", "wonderful", "glad", "perfect", "nice"}
_NEGATIVE = {"bad", "angry", "annoyed", "hate", "terrible", "awful", "upset", "slow", "broken",
             "disappointed", "worst", "never", "refund"}


class Sentiment(Tool):
    name = "sentiment"
    description = ("Sentiment of an English text. Returns 'positive', 'negative' or 'neutral' "
                   "and a score from -1 (very negative) to 1 (very positive).")
    category = "utility"

    class Input(_M):
        text: str = Field(description="the text to rate")

    class Output(_M):
        label: str = Field(description="positive, negative or neutral")
        score: float = Field(description="-1.0 to 1.0")

    def run(self, inputs, ctx):
        out = []
        for i in inputs:
            words = re.findall(r"[a-z']+", i.text.lower())
            s = sum((w in _POSITIVE) - (w in _NEGATIVE) for w in words)
            score = max(-1.0, min(1.0, s / 3))
            label = "positive" if score > 0 else "negative" if score < 0 else "neutral"
            out.append(self.Output(label=label, score=score))
        return out


class ImageResize(Tool):
    name = "image_resize"
    description = ("Resize an image to the given width and height in pixels (the aspect ratio "
                   "is not kept).")
    category = "utility"

    class Input(_M):
        image: ImageRef = Field(description="the image to resize")
        width: int = Field(ge=1, le=8192, description="new width in pixels")
        height: int = Field(ge=1, le=8192, description="new height in pixels")

    class Output(_M):
        image: ImageRef = Field(description="the resized image (PNG)")

    def run(self, inputs, ctx):
        out = []
        for i in inputs:
            with Image.open(ctx.store.path(i.image)) as im:
                resized = im.convert("RGB").resize((i.width, i.height))
            out.append(self.Output(image=ctx.store.put_image(resized)))
        return out


class OcrReadStandIn(Tool):
    """Card-only stand-in for the built-in ``ocr_read`` (see the module docstring)."""

    name = "ocr_read"
    description = ("Reads the printed or handwritten text in an image (OCR: scans, photos of "
                   "signs, pages, whiteboards) and returns it as text and as lines.")

    class Input(_M):
        image: ImageRef = Field(description="the image with text in it")

    class Output(_M):
        text: str = Field(description="all the text read, lines joined by newlines")
        lines: list[str] = Field(description="the lines of text, top to bottom")

    def run(self, inputs, ctx):
        raise NotImplementedError("ocr_read is a card-only stand-in here: planned, never run")


EVAL_TOOLS = (Sentiment, ImageResize)
