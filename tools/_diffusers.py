"""What the diffusers tools share: checkpoint defaults from options, seeded generators, step
progress, batching groups, size checks and the tiny Stable Diffusion components.

Private to ``mmagent.tools``; the tools are :mod:`mmagent.tools.diffusion` and
:mod:`mmagent.tools.video_generate`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from mmagent.errors import ToolInputError
from mmagent.tool import TINY, Tool, ToolContext

__all__ = ["DiffusersTool", "StepProgress", "group_rows", "seeded_generators", "check_pixels",
           "tiny_text_encoder", "tiny_unet", "tiny_vae"]

logger = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1

# A few prompts and instructions: enough text for the tiny CLIP tokenizer's vocabulary.
_TINY_CORPUS = [
    "a photograph of a cat sitting on a red couch",
    "a dog running across a green field in the park",
    "an astronaut riding a horse on the moon, digital art",
    "a watercolor painting of a lighthouse at sunset",
    "make it snowy", "turn the sky purple", "add fireworks", "make it look like a painting",
    "a red car driving down a city street at night",
    "waves crashing on a rocky beach, slow motion",
    "a bowl of fruit on a wooden kitchen table",
    "blurry, low quality, distorted, watermark",
]


class DiffusersTool(Tool):
    """Base of the diffusers tools: per-checkpoint defaults that config options override.

    ``defaults`` holds the values an input left as None takes (steps, guidance, size, ...);
    ``tiny_defaults`` replaces some of them on the tiny checkpoint so that an offline run is
    fast. Any key of ``defaults`` may be set as an option in ``mmagent.yaml``.
    """

    worker = True  # runs on its own long-lived thread, batching concurrent calls
    defaults: ClassVar[dict[str, Any]] = {}
    tiny_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def allowed_options(cls) -> tuple[str, ...]:
        return (*cls.defaults, *cls.extra_options())

    @classmethod
    def extra_options(cls) -> dict[str, Any]:
        """Options that are not input defaults (e.g. a motion adapter id)."""
        return {}

    def default(self, key: str) -> Any:
        """The option ``key`` if configured, else the checkpoint's default."""
        if key in self.options:
            return self.options[key]
        if self.checkpoint == TINY and key in self.tiny_defaults:
            return self.tiny_defaults[key]
        return self.defaults[key]

    def resolve(self, inp: BaseModel, keys: Sequence[str]) -> dict[str, Any]:
        """``inp``'s values for ``keys``, the configured defaults where it gave None."""
        out = {}
        for k in keys:
            v = getattr(inp, k)
            out[k] = self.default(k) if v is None else v
        return out

    def load_pipeline(self, load: Callable[[str, Any], Any]) -> Any:
        """``load(path, dtype)`` then: progress bars off (we emit events), moved to the device."""
        self._device = self.device()
        self._dtype = self.torch_dtype()
        # (Tool.ensure_loaded holds the process-wide load lock: diffusers' init_empty_weights
        # patches module construction for every thread while it loads.)
        path = self.checkpoint_path()
        pipe = load(path, self._dtype)
        pipe.set_progress_bar_config(disable=True)
        pipe = pipe.to(self._device)
        logger.info("%s: loaded %s on %s (%s)", self.name, path, self._device, self._dtype)
        return pipe


class StepProgress:
    """A ``callback_on_step_end`` that reports each denoising step as ``ctx.progress``.

    One instance spans every pipeline call of a batch: ``total`` counts all of their steps.
    """

    def __init__(self, ctx: ToolContext, total: int) -> None:
        self.ctx = ctx
        self.total = total
        self.done = 0

    def __call__(self, pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict:
        self.done += 1
        self.ctx.progress(min(self.done, self.total), self.total)
        return kwargs


def group_rows(keys: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Row indices by key, in first-seen order: rows with equal settings share a pipeline call."""
    groups: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return groups


def seeded_generators(seeds: Sequence[int]) -> list:
    """One CPU generator per row, so a row's noise depends only on its own seed (not on its
    batch), and the same seed gives the same picture on CPU and GPU."""
    import torch

    return [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]


def check_pixels(tool: str, width: int, height: int, max_pixels: int) -> None:
    """Size rules shared by the generators: sides multiples of 8, at most ``max_pixels``."""
    for arg, v in (("width", width), ("height", height)):
        if v % 8 or v < 16:
            raise ToolInputError(f"tool {tool!r}, argument {arg!r}: got {v}; expected a "
                                 "multiple of 8, at least 16", tool=tool, arg=arg, value=v)
    if width * height > max_pixels:
        raise ToolInputError(f"tool {tool!r}, argument 'width': got {width}x{height} "
                             f"({width * height} pixels); expected at most {max_pixels} pixels",
                             tool=tool, arg="width", value=width * height, limit=max_pixels)


# -- tiny random-weight components -------------------------------------------------------------


def tiny_text_encoder():
    """A CLIP tokenizer trained in code and a random 2-layer CLIP text encoder (width 16)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer().train_new_from_iterator(_TINY_CORPUS, vocab_size=300,
                                                        show_progress=False)
    tokenizer.model_max_length = 32
    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=32, projection_dim=16,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    return tokenizer, CLIPTextModel(config)


def tiny_unet(in_channels: int = 4, layers_per_block: int = 1):
    """A two-level UNet2DConditionModel (8/16 channels) with cross-attention on width 16.

    ``in_channels=8`` is the instruct-pix2pix layout (noise latents + image latents).
    """
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=layers_per_block, sample_size=16,
        in_channels=in_channels, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, norm_num_groups=4, attention_head_dim=2)


def tiny_vae():
    """A two-level AutoencoderKL: latents at half the image size (real SD VAEs: an eighth)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        norm_num_groups=4, sample_size=32)


def save_tiny_sd(path: Path, pipeline_cls: type, scheduler: Any, *, in_channels: int = 4,
                 layers_per_block: int = 1) -> None:
    """Build and save a tiny Stable Diffusion-layout pipeline of ``pipeline_cls``."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        tokenizer, text_encoder = tiny_text_encoder()
        pipe = pipeline_cls(
            unet=tiny_unet(in_channels, layers_per_block), vae=tiny_vae(),
            text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(path)
