"""What the BLIP tools (``image_caption``, ``visual_qa``) share: loading a checkpoint with the
PIL image processor (no torchvision), preprocessing a batch of images, and the tiny
random-weight configuration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mmagent.tool import Tool

logger = logging.getLogger(__name__)


def load_blip(tool: Tool, model_class: str) -> None:
    """Load ``tool.checkpoint`` into ``tool.model`` (``transformers.<model_class>``),
    ``tool.tokenizer`` and ``tool.image_processor``, on the tool's device and dtype."""
    import transformers
    from transformers import AutoTokenizer, BlipImageProcessorPil

    path = tool.checkpoint_path()
    tool._device = tool.device()
    tool._dtype = tool.torch_dtype()
    # The model first: an unreachable hub id fails here with a plain OSError.
    tool.model = getattr(transformers, model_class).from_pretrained(path, dtype=tool._dtype)
    tool.model.to(tool._device).eval()
    tool.tokenizer = AutoTokenizer.from_pretrained(path)
    # The PIL image processor needs no torchvision; it reads the same preprocessor config as
    # the torchvision ``BlipImageProcessor`` the checkpoint names.
    tool.image_processor = BlipImageProcessorPil.from_pretrained(path)
    logger.info("%s: loaded %s on %s (%s)", tool.name, path, tool._device, tool._dtype)


def pixel_values(tool: Tool, images: list[Any]):
    """Every image preprocessed in one call, on the tool's device and dtype."""
    values = tool.image_processor(images, return_tensors="pt")["pixel_values"]
    return values.to(tool._device, tool._dtype)


def build_tiny_blip(path: Path, model_class: str, corpus: list[str], init: float) -> None:
    """A random-weight BLIP model (a few hundred KB) with a WordPiece tokenizer trained on
    ``corpus``. ``init`` is the weight scale: at the default 0.02 the random decoder ignores its
    inputs and every row gets the same text, which would hide batching mistakes."""
    import torch
    import transformers
    from transformers import BertTokenizer, BlipConfig, BlipImageProcessorPil, BlipProcessor

    tokenizer = BertTokenizer().train_new_from_iterator(corpus, vocab_size=300,
                                                        show_progress=False)
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
