"""Image captioning with BLIP (``BlipForConditionalGeneration``).

Greedy decoding, so a caption depends only on its image, prompt and token budget — never on
what else shares its batch.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (64, 48), (200, 30, 30)))
>>> tool = ImageCaption(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> out = tool.run([tool.parse_input({"image": ref, "max_new_tokens": 5})], ToolContext(store))
>>> isinstance(out[0].text, str)
True
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from mmagent.artifacts import ImageRef
from mmagent.toolkit import Ports, Resources, ToolContext, group_rows
from mmagent.tools._blip import BlipRow, BlipTool, build_tiny_blip

__all__ = ["ImageCaption"]


# Enough caption-like English for the tiny model's WordPiece vocabulary (build_tiny).
_TINY_CORPUS = [
    "a photograph of a cat sitting on a red couch",
    "a dog running across a green field in the park",
    "two people walking along a sandy beach at sunset",
    "a bowl of fruit on a wooden kitchen table",
    "a man riding a bicycle down a city street",
    "a woman holding an umbrella in the rain",
    "a plate of food with rice and vegetables",
    "a group of children playing soccer on the grass",
    "a red car parked in front of a white house",
    "a close up of a flower with yellow petals",
    "an airplane flying over snowy mountains",
    "a train stopped at a busy station",
    "a bird perched on a branch of a tree",
    "a laptop and a cup of coffee on a desk",
    "a blue boat floating on a calm lake",
    "an old building with a large clock tower",
    "a painting of a landscape with hills and a river",
    "there is a black and white picture of a horse",
]


class ImageCaption(BlipTool):
    """Describe an image in one English sentence (BLIP captioning).

    A ``prompt`` starts the caption ("a painting of") and the model continues it; the returned
    text includes the prompt, as BLIP's own examples do. The BERT tokenizer is uncased, so
    captions come back in lower case.

    >>> ImageCaption.card()["inputs"]["image"]["type"]
    'image'
    """

    name = "image_caption"
    description = (
        "Writes a short English caption describing an image. An optional prompt gives the "
        "first words of the caption, which the model continues."
    )
    default_checkpoint = "Salesforce/blip-image-captioning-base"
    model_class = "transformers.BlipForConditionalGeneration"
    # 247M parameters: ~0.5 GB of weights in fp16, plus activations for a batch of 384x384 images.
    resources = Resources(num_gpus=0.2, num_cpus=1.0, gpu_memory_gb=1.5)

    class Input(Ports):
        image: ImageRef = Field(description="the image to describe")
        prompt: str | None = Field(
            None, min_length=1, max_length=200,
            description="first words of the caption, e.g. 'a photograph of'; None for a free "
            "caption")
        max_new_tokens: int = Field(
            30, ge=1, le=128, description="most tokens generated after the prompt")

    class Output(Ports):
        text: str = Field(description="the caption (starting with the prompt when one was given)")

    def prepare(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BlipRow]:
        # generate continues the prompt's tokens (BOS in place of [CLS], the final [SEP] dropped)
        return [BlipRow(inp, None if inp.prompt is None else self.token_ids(inp.prompt))
                for inp in inputs]

    def batches(self, rows: list[BlipRow]) -> list[list[int]]:
        # BLIP's generate overwrites the first prompt token with BOS and drops the last one
        # ([SEP]), so only prompts of equal length could share a padded batch: one per prompt.
        return group_rows([r.inp.prompt for r in rows])

    def decode(self, outputs, rows: list[BlipRow], ctx: ToolContext) -> list[BaseModel]:
        # the caption starts with the prompt's words: budgets count after them
        start = [1 if r.ids is None else len(r.ids) - 1 for r in rows]
        return [self.Output(text=t) for t in self.texts(outputs, rows, start)]

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight BLIP captioner (~0.3 MB) with a WordPiece tokenizer trained in code."""
        build_tiny_blip(path, "BlipForConditionalGeneration", _TINY_CORPUS, init=0.1)
