"""Visual question answering with BLIP (``BlipForQuestionAnswering``).

The question is encoded against the image, and a decoder writes a short answer greedily. Questions
of equal length in tokens run as one batch; questions of other lengths in separate batches, since
the answer decoder would attend to padding (transformers 5 drops BLIP's cross-attention mask) and
an answer would then depend on what else shares its batch.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.tool import ToolContext
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

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import ImageRef
from mmagent.tool import Resources, Tool, ToolContext

__all__ = ["VisualQA", "MAX_QUESTION_CHARS"]

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 300
_TINY_INIT = 0.2

# Question-and-answer English for the tiny model's WordPiece vocabulary (build_tiny).
_TINY_CORPUS = [
    "what is in the picture", "what colour is the car", "how many people are there",
    "is there a dog in the image", "where is the cat sitting", "what is the man holding",
    "yes", "no", "two", "three", "red", "blue", "green", "on the couch", "a dog", "a cat",
    "an umbrella", "in the park", "what is the weather like", "sunny", "is it raining",
]


class VisualQA(Tool):
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
    # 385M parameters: ~0.8 GB of weights in fp16, plus activations for 384x384 images.
    resources = Resources(num_gpus=0.2, num_cpus=1.0, gpu_memory_gb=2.0)

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")

        image: ImageRef = Field(description="the image the question is about")
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                              description="a question about the image, in English")
        max_new_tokens: int = Field(10, ge=1, le=64, description="most tokens in the answer")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")

        answer: str = Field(description="the answer, a few words")

    def load(self) -> None:
        from transformers import AutoTokenizer, BlipForQuestionAnswering, BlipImageProcessorPil

        path = self.checkpoint_path()
        self._device = self.device()
        self._dtype = self.torch_dtype()
        # The model first: an unreachable hub id fails here with a plain OSError.
        self.model = BlipForQuestionAnswering.from_pretrained(path, dtype=self._dtype)
        self.model.to(self._device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.image_processor = BlipImageProcessorPil.from_pretrained(path)
        logger.info("visual_qa: loaded %s on %s (%s)", path, self._device, self._dtype)

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        import torch

        # 1. decode every image and preprocess them in one call
        images = [ctx.store.load_image(inp.image) for inp in inputs]
        pixel_values = self.image_processor(images, return_tensors="pt")["pixel_values"]
        pixel_values = pixel_values.to(self._device, self._dtype)

        # 2. group rows by question length in tokens: BLIP's answer decoder attends to every
        #    question position (transformers drops its cross-attention mask), so padding would
        #    change an answer. Questions of equal length share one unpadded batch.
        token_ids = self.tokenizer([inp.question for inp in inputs], truncation=True,
                                   max_length=128)["input_ids"]
        groups: dict[int, list[int]] = {}
        for i, ids in enumerate(token_ids):
            groups.setdefault(len(ids), []).append(i)

        # 3. one greedy generate per group
        answers: list[str] = [""] * len(inputs)
        for rows in groups.values():
            input_ids = torch.tensor([token_ids[i] for i in rows], device=self._device)
            # Greedy decoding is causal, so one run to the group's largest budget and a cut per
            # row gives what a run at each row's own budget would.
            budget = max(inputs[i].max_new_tokens for i in rows)
            with torch.inference_mode():
                out = self.model.generate(input_ids=input_ids, pixel_values=pixel_values[rows],
                                          attention_mask=torch.ones_like(input_ids),
                                          max_new_tokens=budget, do_sample=False, num_beams=1)
            # 4. decode, skipping BOS (the real checkpoint's [DEC] id is not in its vocabulary)
            for row, i in enumerate(rows):
                ids = out[row, 1:1 + inputs[i].max_new_tokens]
                answers[i] = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        return [self.Output(answer=a) for a in answers]

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight BLIP VQA model (~0.4 MB) with a WordPiece tokenizer trained in code."""
        import torch
        from transformers import (
            BertTokenizer,
            BlipConfig,
            BlipForQuestionAnswering,
            BlipImageProcessorPil,
            BlipProcessor,
        )

        tokenizer = BertTokenizer().train_new_from_iterator(_TINY_CORPUS, vocab_size=300,
                                                            show_progress=False)
        tokenizer.add_special_tokens({"bos_token": "[DEC]"})  # as the real checkpoint names it
        image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
        # initializer_range 0.2: at 0.02 (or 0.1) the random decoder ignores its inputs and
        # every question gets the same answer, which would hide batching mistakes.
        init = _TINY_INIT
        config = BlipConfig(
            text_config={
                "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 37,
                "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 512,
                "bos_token_id": tokenizer.bos_token_id, "pad_token_id": tokenizer.pad_token_id,
                "sep_token_id": tokenizer.sep_token_id, "eos_token_id": tokenizer.sep_token_id,
                "initializer_range": init,
            },
            vision_config={
                "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                "num_attention_heads": 4, "image_size": 32, "patch_size": 8,
                "initializer_range": init,
            },
            projection_dim=32,
            initializer_range=init,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = BlipForQuestionAnswering(config)
        model.save_pretrained(path)
        BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
