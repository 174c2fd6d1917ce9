"""Zero-shot image classification on a CLIP/SigLIP vision-text encoder.

Scores an image against the given labels: a softmax over the labels for CLIP (contrastive
training), an independent sigmoid per label for SigLIP. With ``image_search`` on the same
checkpoint it shares the loaded weights.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (64, 48), (200, 30, 30)))
>>> tool = ImageClassify(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> out = tool.run([tool.parse_input({"image": ref, "labels": ["cat", "dog"]})], ToolContext(store))
>>> sorted(out[0].labels), round(sum(out[0].scores), 3)
(['cat', 'dog'], 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field, field_validator

from mmagent.artifacts import ImageRef
from mmagent.toolkit import Ports, ToolContext
from mmagent.tools._clip import ClipTool

__all__ = ["ImageClassify", "MAX_LABELS"]

MAX_LABELS = 64
"""Most candidate labels one image is scored against."""


class ImageClassify(ClipTool):
    """Zero-shot classification: which of the given labels fits the image best.

    Each label is embedded as ``label_template.format(label)`` (tool option, default
    ``"a photo of a {}."``, as in CLIP's paper). Scores are probabilities, best first.

    >>> ImageClassify.card()["outputs"]["scores"]["type"]
    'list[number]'
    """

    name = "image_classify"
    description = (
        "Zero-shot image classification: scores an image against a list of candidate text "
        "labels and returns the best label and all labels sorted by score."
    )

    class Input(Ports):
        image: ImageRef = Field(description="the image to classify")
        labels: list[str] = Field(
            min_length=1, max_length=MAX_LABELS,
            description=f"candidate labels, e.g. ['cat', 'dog'] (1 to {MAX_LABELS}, distinct)")

        @field_validator("labels")
        @classmethod
        def _labels_distinct_and_short(cls, labels: list[str]) -> list[str]:
            for i, label in enumerate(labels):
                if not label.strip() or len(label) > 100:
                    raise ValueError(f"got label {i} {label!r}; expected 1 to 100 characters")
            if len(set(labels)) != len(labels):
                raise ValueError(f"got repeated labels in {labels!r}; expected distinct labels")
            return labels

    class Output(Ports):
        label: str = Field(description="the best-scoring label")
        labels: list[str] = Field(description="every label, best first")
        scores: list[float] = Field(description="each label's probability, in the order of "
                                    "labels (best first)")

    def encode(self, rows: list[BaseModel], ctx: ToolContext) -> dict[str, Any]:
        # every image of the batch, and every distinct label once, in the label template
        template = self.options.get("label_template", "a photo of a {}.")
        labels = sorted({label for inp in rows for label in inp.labels})
        return {"images": [ctx.store.load_image(inp.image) for inp in rows], "labels": labels,
                "texts": [template.format(label) for label in labels]}

    def forward(self, encoded: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        # one image pass and one text pass for the whole batch
        images = self.encoder.embed_images(encoded["images"])
        texts = self.encoder.embed_texts(encoded["texts"])
        return {"images": images, "labels": dict(zip(encoded["labels"], texts, strict=True))}

    def decode(self, outputs: dict[str, Any], rows: list[BaseModel],
               ctx: ToolContext) -> list[BaseModel]:
        # per image: logits against its own labels, then softmax (CLIP) or sigmoid (SigLIP)
        results = []
        for emb, inp in zip(outputs["images"], rows, strict=True):
            logits = self.encoder.logits(np.stack([outputs["labels"][t] for t in inp.labels])
                                         @ emb)
            if self.encoder.sigmoid:
                probs = 1.0 / (1.0 + np.exp(-logits))
            else:
                probs = np.exp(logits - logits.max())
                probs /= probs.sum()
            order = np.argsort(-probs, kind="stable")
            results.append(self.Output(label=inp.labels[order[0]],
                                       labels=[inp.labels[i] for i in order],
                                       scores=[round(float(probs[i]), 6) for i in order]))
        return results
