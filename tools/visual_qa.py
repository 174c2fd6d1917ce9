"""Visual question answering with BLIP (``BlipForQuestionAnswering``).

The question is encoded against the image, and a decoder writes a short answer greedily. Questions
of equal length in tokens run as one batch; questions of other lengths in separate batches, since
the answer decoder would attend to padding (transformers 5 drops BLIP's cross-attention mask) and
an answer would then depend on what else shares its batch.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (64, 48), (200, 30, 30)))
>>> tool = VisualQA(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> out = tool.run([tool.parse_input({"image": ref, "question": "what colour is it?"})],
...                ToolContext(store))
>>> isinstance(out[0].answer, str)
True
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from mmagent.artifacts import ImageRef
from mmagent.toolkit import Ports, Resources, ToolContext, group_rows
from mmagent.tools._blip import BlipRow, BlipTool, build_tiny_blip

__all__ = ["VisualQA", "MAX_QUESTION_CHARS"]


MAX_QUESTION_CHARS = 300
_TINY_INIT = 0.2

# Question-and-answer English for the tiny model's WordPiece vocabulary (build_tiny).
_TINY_CORPUS = [
    "what is in the picture", "what colour is the car", "how many people are there",
    "is there a dog in the image", "where is the cat sitting", "what is the man holding",
    "yes", "no", "two", "three", "red", "blue", "green", "on the couch", "a dog", "a cat",
    "an umbrella", "in the park", "what is the weather like", "sunny", "is it raining",
]


class VisualQA(BlipTool):
    """Answer a question about an image in a few words (BLIP VQA).

    The BERT tokenizer is uncased, so answers come back in lower case.

    >>> VisualQA.card()["outputs"]["answer"]["type"]
    'text'
    """

    name = "visual_qa"
    description = (
        "Answers a question about an image in a few words (visual question answering), e.g. "
        "'what colour is the car?' or 'how many people are there?'."
    )
    default_checkpoint = "Salesforce/blip-vqa-base"
    model_class = "transformers.BlipForQuestionAnswering"
    # 385M parameters: ~0.8 GB of weights in fp16, plus activations for 384x384 images.
    resources = Resources(num_gpus=0.2, num_cpus=1.0, gpu_memory_gb=2.0)

    class Input(Ports):
        image: ImageRef = Field(description="the image the question is about")
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                              description="a question about the image, in English")
        max_new_tokens: int = Field(10, ge=1, le=64, description="most tokens in the answer")

    class Output(Ports):
        answer: str = Field(description="the answer, a few words")

    def prepare(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BlipRow]:
        return [BlipRow(inp, self.token_ids(inp.question, max_length=128)) for inp in inputs]

    def batches(self, rows: list[BlipRow]) -> list[list[int]]:
        # BLIP's answer decoder attends to every question position (transformers drops its
        # cross-attention mask), so padding would change an answer. Questions of equal length
        # in tokens share one unpadded batch.
        return group_rows([len(r.ids) for r in rows])

    def decode(self, outputs, rows: list[BlipRow], ctx: ToolContext) -> list[BaseModel]:
        return [self.Output(answer=a) for a in self.texts(outputs, rows, [1] * len(rows))]

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight BLIP VQA model (~0.4 MB) with a WordPiece tokenizer trained in code."""
        build_tiny_blip(path, "BlipForQuestionAnswering", _TINY_CORPUS, init=_TINY_INIT)
