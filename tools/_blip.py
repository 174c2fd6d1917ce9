"""What the BLIP tools (``image_caption``, ``visual_qa``) share: the checkpoint's classes, one
greedy ``generate`` per batch of images with their token ids, the per-row cut of its output,
and the tiny random-weight configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmagent.toolkit import PipelineTool, ToolContext
from mmagent.tools._tiny import trained_tokenizer

__all__ = ["BlipTool", "BlipRow", "build_tiny_blip"]


@dataclass
class BlipRow:
    """One input and the token ids its batch starts from (a prompt, a question; None: none)."""

    inp: Any
    ids: list[int] | None = None


class BlipTool(PipelineTool):
    """A BLIP model with its tokenizer and (PIL) image processor; subclasses set
    ``model_class``, group the rows (``batches``) and name the output (``decode``)."""

    processor_classes = {"tokenizer": "transformers.AutoTokenizer",
                         "image_processor": "transformers.AutoImageProcessor"}
    tokenizer: Any  # set by load, from processor_classes
    image_processor: Any

    def token_ids(self, text: str, max_length: int | None = None) -> list[int]:
        return self.tokenizer(text, truncation=max_length is not None, max_length=max_length,
                              return_token_type_ids=False)["input_ids"]

    def encode(self, rows: list[BlipRow], ctx: ToolContext) -> dict[str, Any]:
        import torch

        # 1. every image of the batch decoded and preprocessed in one call
        images = [ctx.store.load_image(r.inp.image) for r in rows]
        values = self.image_processor(images, return_tensors="pt")["pixel_values"]
        encoded: dict[str, Any] = {"pixel_values": values.to(self._device, self._dtype)}
        # 2. the rows' token ids: of one length within a batch, so nothing is padded
        if rows[0].ids is not None:
            input_ids = torch.tensor([r.ids for r in rows], device=self._device)
            encoded.update(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
        # 3. greedy decoding is causal, so one run to the batch's largest budget and a cut per
        #    row gives what a run at each row's own budget would
        encoded["max_new_tokens"] = max(r.inp.max_new_tokens for r in rows)
        return encoded

    def forward(self, encoded: dict[str, Any], ctx: ToolContext) -> Any:
        return self.model.generate(**encoded, do_sample=False, num_beams=1)

    def texts(self, out: Any, rows: list[BlipRow], start: list[int]) -> list[str]:
        """Row ``i``'s text: its tokens from ``start[i]`` for its own budget, skipping BOS
        (the real checkpoints' [DEC] id is not in their vocabulary)."""
        return [self.tokenizer.decode(out[i, 1:s + r.inp.max_new_tokens],
                                      skip_special_tokens=True).strip()
                for i, (r, s) in enumerate(zip(rows, start, strict=True))]


def build_tiny_blip(path: Path, model_class: str, corpus: list[str], init: float) -> None:
    """A random-weight BLIP model (a few hundred KB) with a WordPiece tokenizer trained on
    ``corpus``. ``init`` is the weight scale: at the default 0.02 the random decoder ignores its
    inputs and every row gets the same text, which would hide batching mistakes."""
    import torch
    import transformers
    from transformers import BertTokenizer, BlipConfig, BlipImageProcessorPil, BlipProcessor

    tokenizer = trained_tokenizer(BertTokenizer, corpus)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})  # as the real checkpoints name it
    image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
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
        model = getattr(transformers, model_class)(config)
    model.save_pretrained(path)
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
