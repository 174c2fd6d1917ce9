"""What the diffusers tools share: a pipeline as the tool's model, checkpoint defaults that
options override, the run's rows (settings resolved, input pictures decoded) grouped into
pipeline calls, seeded generators, step progress across the calls, size checks, the common
input fields and the tiny Stable Diffusion components.

Private to ``mmagent.tools``; the tools are ``image_generate``, ``image_edit`` and
``video_generate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, ValidationInfo

from mmagent.errors import ToolInputError
from mmagent.toolkit import TINY, PipelineTool, ToolContext, group_rows
from mmagent.tools._tiny import trained_tokenizer

__all__ = ["DiffusersTool", "DiffusionRow", "StepProgress", "seeded_generators", "check_pixels",
           "check_area", "seed_field", "side_field", "steps_field", "save_tiny_sd", "MAX_SEED"]

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


@dataclass
class DiffusionRow:
    """One input of a run, ready for its pipeline call."""

    inp: Any
    settings: dict[str, Any]
    """The input's values of ``DiffusersTool.setting_keys``, configured defaults where None."""
    key: tuple
    """Rows with equal keys (settings, picture size, mode) share one pipeline call."""
    steps: int
    """Denoising steps its call runs."""
    image: Any = None
    """The input picture, decoded and fitted (editing, animating)."""
    progress: StepProgress | None = None


class DiffusersTool(PipelineTool):
    """Base of the diffusers tools: ``model_class`` is a pipeline, and per-checkpoint defaults
    that config options override.

    ``defaults`` holds the values an input left as None takes (steps, guidance, size, ...);
    ``tiny_defaults`` replaces some of them on the tiny checkpoint so that an offline run is
    fast. Any key of ``defaults`` may be set as an option in ``mmagent.yaml``. A tool builds
    its rows (:meth:`row`) and the keywords of one pipeline call (``encode``); the base groups
    the rows, reports the steps of all calls as one progress, and calls the pipeline.
    """

    defaults: ClassVar[dict[str, Any]] = {}
    tiny_defaults: ClassVar[dict[str, Any]] = {}
    setting_keys: ClassVar[tuple[str, ...]] = ()

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

    def prepare(self, inputs: list[Any], ctx: ToolContext) -> list[DiffusionRow]:
        # the defaults (parse_input checked the bounds), input pictures decoded
        rows = [self.row(inp, self.resolve(inp, self.setting_keys), ctx) for inp in inputs]
        # one progress spans the run: the steps of one call per distinct key
        calls: dict[tuple, int] = {}
        for r in rows:
            calls.setdefault(r.key, r.steps)
        progress = StepProgress(ctx, sum(calls.values()))
        for r in rows:
            r.progress = progress
        return rows

    def row(self, inp: Any, settings: dict[str, Any], ctx: ToolContext) -> DiffusionRow:
        """No input picture: rows with equal settings share a call."""
        return DiffusionRow(inp, settings, key=tuple(settings.values()), steps=settings["steps"])

    def batches(self, rows: list[DiffusionRow]) -> list[list[int]]:
        return group_rows([r.key for r in rows])

    def call_kwargs(self, rows: list[DiffusionRow]) -> dict[str, Any]:
        """What every pipeline call takes: steps, guidance, progress, and one CPU generator
        per row, so a row's noise depends only on its own seed (not on its batch), and the same
        seed gives the same picture on CPU and GPU."""
        s = rows[0].settings
        return {"num_inference_steps": s["steps"], "guidance_scale": s["guidance"],
                "generator": seeded_generators([r.inp.seed for r in rows]),
                "callback_on_step_end": rows[0].progress}

    def forward(self, encoded: dict[str, Any], ctx: ToolContext) -> Any:
        return self.model(**encoded)

    def decode(self, outputs: Any, rows: list[DiffusionRow],
               ctx: ToolContext) -> Sequence[BaseModel]:
        # one PNG artifact per row
        return [self.Output(image=ctx.store.put_image(im)) for im in outputs.images]


def seeded_generators(seeds: Sequence[int]) -> list:
    """One CPU generator per seed."""
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


def check_area(height: int | None, info: ValidationInfo, max_pixels: int,
               unit: str = "pixels") -> int | None:
    """A ``height`` validator: width x height, when both are given, at most ``max_pixels``."""
    width = info.data.get("width")
    if height is not None and width is not None and width * height > max_pixels:
        raise ValueError(f"got {width}x{height} ({width * height} pixels); expected at most "
                         f"{max_pixels} {unit}")
    return height


def seed_field(made: str) -> Any:
    return Field(0, ge=0, le=MAX_SEED, description="random seed; the same seed and arguments "
                 f"give the same {made}")


def side_field(what: str, le: int, default: str) -> Any:
    return Field(None, ge=16, le=le, multiple_of=8, description=f"{what} in pixels, a multiple "
                 f"of 8; None for the tool's default ({default})")


def steps_field(default: str) -> Any:
    return Field(None, ge=1, le=100, description="denoising steps; None for the tool's default "
                 f"({default})")


# -- tiny random-weight components -------------------------------------------------------------


def tiny_text_encoder():
    """A CLIP tokenizer trained in code and a random 2-layer CLIP text encoder (width 16)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tokenizer = trained_tokenizer(CLIPTokenizer, _TINY_CORPUS)
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
