"""What the CLIP/SigLIP tools (``image_classify``, ``image_search``) share: one loaded vision-text
encoder per checkpoint, device and dtype (:class:`ClipEncoder`), and the tiny random-weight CLIP.

The encoder is ``AutoModel`` plus the checkpoint's tokenizer and PIL image processor, so CLIP,
SigLIP and SigLIP 2 ids all work. In one process the two tools share the loaded weights when
they name the same checkpoint.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from mmagent.toolkit import PipelineTool, Resources
from mmagent.tools._tiny import trained_tokenizer

__all__ = ["ClipEncoder", "ClipTool"]

logger = logging.getLogger(__name__)

# Label-like English for the tiny model's BPE vocabulary (build_tiny).
_TINY_CORPUS = [
    "a photo of a cat", "a photo of a dog", "a photo of a bird", "a red car on the street",
    "a blue boat on a lake", "a bowl of fruit", "a green field", "a city at night",
    "a person riding a bicycle", "a plate of food", "a mountain covered in snow", "a flower",
    "a black and white picture", "a painting of a landscape", "an airplane in the sky",
]


class ClipEncoder:
    """A loaded CLIP/SigLIP checkpoint: L2-normalised image and text embeddings.

    Use :meth:`get` rather than the constructor: tools naming the same checkpoint, device and
    dtype get the same instance, which lives as long as one of them holds it.
    """

    _live: weakref.WeakValueDictionary[tuple[str, str, str], ClipEncoder] = (
        weakref.WeakValueDictionary())
    _live_lock = threading.Lock()

    def __init__(self, path: str, device: str, dtype: Any) -> None:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        self.path, self.device, self.dtype = path, device, dtype
        # The model first: an unreachable hub id fails here with a plain OSError.
        self.model = AutoModel.from_pretrained(path, dtype=dtype).to(device).eval()
        if not hasattr(self.model, "get_image_features"):
            raise ValueError(f"{path} is a {type(self.model).__name__}; expected a CLIP or "
                             "SigLIP dual encoder (with get_image_features)")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        # backend="pil": the torchvision image processors need torchvision; the PIL ones read
        # the same preprocessor config.
        self.image_processor = AutoImageProcessor.from_pretrained(path, backend="pil")
        self.model_type = self.model.config.model_type
        self.sigmoid = self.model_type.startswith("siglip")
        self.key = hashlib.sha256(
            f"{Path(path).resolve() if Path(path).exists() else path}|{dtype}".encode()
        ).hexdigest()[:16]

    @classmethod
    def get(cls, path: str, device: str, dtype: Any) -> ClipEncoder:
        key = (path, device, str(dtype))
        with cls._live_lock:
            enc = cls._live.get(key)
            if enc is None:
                enc = cls(path, device, dtype)
                cls._live[key] = enc
            return enc

    def embed_images(self, images: list) -> np.ndarray:
        """``(n, d)`` float32, unit length."""
        import torch

        pixel_values = self.image_processor(images, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            out = self.model.get_image_features(
                pixel_values=pixel_values.to(self.device, self.dtype))
        return _unit(_pooled(out))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32, unit length."""
        import torch

        # SigLIP was trained on text padded to 64 tokens and has no attention mask: pad alike.
        kw = ({"padding": "max_length", "max_length": 64} if self.sigmoid else {"padding": True})
        enc = self.tokenizer(texts, truncation=True, return_tensors="pt", **kw)
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            out = self.model.get_text_features(**enc)
        return _unit(_pooled(out))

    def logits(self, similarity: np.ndarray) -> np.ndarray:
        """Cosine similarities to the model's logits (its learnt scale, and bias for SigLIP)."""
        scale = float(self.model.logit_scale.detach().exp())
        bias = getattr(self.model, "logit_bias", None)
        bias = 0.0 if bias is None else float(bias.detach())
        return similarity * scale + bias


def _pooled(out: Any):
    # transformers 5 returns a ModelOutput whose pooler_output is the projected embedding.
    return out if hasattr(out, "float") else out.pooler_output


def _unit(t) -> np.ndarray:
    a = t.float().cpu().numpy()
    return a / np.linalg.norm(a, axis=-1, keepdims=True).clip(min=1e-12)


class ClipTool(PipelineTool):
    """A tool on the shared :class:`ClipEncoder` (``self.encoder``) of its checkpoint."""

    default_checkpoint = "openai/clip-vit-base-patch32"
    # 151M parameters: ~0.3 GB of weights in fp16, plus activations for batches of 224x224.
    resources = Resources(num_gpus=0.1, num_cpus=1.0, gpu_memory_gb=1.0)

    def load(self) -> None:
        self.encoder = ClipEncoder.get(self.checkpoint_path(), self.device(), self.torch_dtype())
        logger.info("%s: loaded %s on %s (%s)", self.name, self.encoder.path,
                    self.encoder.device, self.encoder.dtype)

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight CLIP (~0.3 MB) with a BPE tokenizer trained in code."""
        import torch
        from transformers import (
            CLIPConfig,
            CLIPImageProcessorPil,
            CLIPModel,
            CLIPProcessor,
            CLIPTokenizer,
        )

        tokenizer = trained_tokenizer(CLIPTokenizer, _TINY_CORPUS)
        tokenizer.model_max_length = 77
        image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32},
                                                crop_size={"height": 32, "width": 32})
        config = CLIPConfig(
            text_config={
                "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 37,
                "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 77,
                "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.pad_token_id,
            },
            vision_config={
                "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                "num_attention_heads": 4, "image_size": 32, "patch_size": 8,
            },
            projection_dim=16,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = CLIPModel(config)
        model.save_pretrained(path)
        CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
