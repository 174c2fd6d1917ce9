"""Text-to-image and instruction-based image editing with diffusers.

- ``image_generate``: ``AutoPipelineForText2Image``; default checkpoint ``stabilityai/sd-turbo``
  (SD 2.1 distilled with adversarial diffusion distillation: a usable 512x512 picture in 1-4
  steps without classifier-free guidance, so an agent's image step costs one UNet pass per step
  instead of two passes for each of 25-50 steps). Any text-to-image checkpoint diffusers' auto
  pipeline knows loads by id; set ``options: {steps: 30, guidance: 7.5}`` for a non-distilled
  one such as ``stable-diffusion-v1-5/stable-diffusion-v1-5``.
- ``image_edit``: ``StableDiffusionInstructPix2PixPipeline``; default checkpoint
  ``timbrooks/instruct-pix2pix``. The instruction says what to change ("make it snowy"); the
  picture keeps its layout.

Both are deterministic given ``seed``: every row of a batch draws its noise from its own CPU
generator, so a batch gives what single calls give, on any device.

>>> import tempfile
>>> from mmagent.artifacts._store import ArtifactStore
>>> from mmagent.tool._base import ToolContext
>>> tool = ImageGenerate(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> args = {"prompt": "a cat", "width": 32, "height": 24, "steps": 2}
>>> out = tool.run([tool.parse_input(args)], ToolContext(store))
>>> (out[0].image.width, out[0].image.height)
(32, 24)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mmagent.artifacts import ImageRef
from mmagent.tool import Resources, ToolContext
from mmagent.tools._diffusers import (
    MAX_SEED,
    DiffusersTool,
    StepProgress,
    check_pixels,
    group_rows,
    save_tiny_sd,
    seeded_generators,
)

__all__ = ["ImageGenerate", "ImageEdit"]

logger = logging.getLogger(__name__)

MAX_PIXELS = 1024 * 1024
_PROMPT_CHARS = 1000


def _side(what: str) -> Any:
    return Field(None, ge=16, le=2048, multiple_of=8,
                 description=f"{what} in pixels, a multiple of 8; None for the tool's default "
                 "(512 for the default checkpoint)")


def _check_area(height: int | None, info: ValidationInfo) -> int | None:
    width = info.data.get("width")
    if height is not None and width is not None and width * height > MAX_PIXELS:
        raise ValueError(f"got {width}x{height} ({width * height} pixels); expected at most "
                         f"{MAX_PIXELS} pixels")
    return height


class ImageGenerate(DiffusersTool):
    """Draw an image from a text prompt (diffusers text-to-image).

    >>> ImageGenerate.card()["outputs"]["image"]["type"]
    'image'
    """

    name = "image_generate"
    description = (
        "Generates an image from a text description (prompt). Optional negative prompt (what to "
        "avoid), width and height, number of denoising steps, guidance scale and seed."
    )
    default_checkpoint = "stabilityai/sd-turbo"
    # ~1.3B parameters (UNet 865M, OpenCLIP-H text encoder 354M, VAE 84M): 2.6 GB in fp16, plus
    # activations for a batch of 512x512 images.
    resources = Resources(num_gpus=0.25, num_cpus=1.0, gpu_memory_gb=4.0)
    defaults = {"width": 512, "height": 512, "steps": 4, "guidance": 0.0}
    tiny_defaults = {"width": 64, "height": 64, "steps": 2}

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")

        prompt: str = Field(min_length=1, max_length=_PROMPT_CHARS,
                            description="what the image shows")
        negative_prompt: str | None = Field(
            None, max_length=_PROMPT_CHARS,
            description="what the image should not show; used only when guidance > 1")
        width: int | None = _side("image width")
        height: int | None = _side("image height")
        steps: int | None = Field(None, ge=1, le=100, description="denoising steps; None for "
                                  "the tool's default (4 for sd-turbo)")
        guidance: float | None = Field(
            None, ge=0.0, le=30.0, description="classifier-free guidance scale; 0 or 1 turns it "
            "off (what sd-turbo expects); None for the tool's default")
        seed: int = Field(0, ge=0, le=MAX_SEED, description="random seed; the same seed and "
                          "arguments give the same image")

        @field_validator("height")
        @classmethod
        def _area(cls, height: int | None, info: ValidationInfo) -> int | None:
            return _check_area(height, info)

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")

        image: ImageRef = Field(description="the generated image (PNG)")

    def load(self) -> None:
        from diffusers import AutoPipelineForText2Image

        self.pipe = self.load_pipeline(
            lambda path, dtype: AutoPipelineForText2Image.from_pretrained(path, dtype=dtype))

    def check_input(self, inp: BaseModel) -> None:
        # the size may come from the configured defaults, which no field declares
        s = self.resolve(inp, ("width", "height"))
        check_pixels(self.name, s["width"], s["height"], MAX_PIXELS)

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        import torch

        # 1. the defaults (parse_input checked the bounds)
        settings = [self.resolve(inp, ("width", "height", "steps", "guidance")) for inp in inputs]

        # 2. rows with equal size, steps and guidance share one pipeline call
        groups = group_rows([tuple(s.values()) for s in settings])
        progress = StepProgress(ctx, sum(settings[rows[0]]["steps"] for rows in groups.values()))
        outputs: list[BaseModel | None] = [None] * len(inputs)
        for rows in groups.values():
            s = settings[rows[0]]
            with torch.inference_mode():
                result = self.pipe(
                    prompt=[inputs[i].prompt for i in rows],
                    # "" is what the pipeline uses for a missing negative prompt
                    negative_prompt=[inputs[i].negative_prompt or "" for i in rows],
                    width=s["width"], height=s["height"], num_inference_steps=s["steps"],
                    guidance_scale=s["guidance"],
                    generator=seeded_generators([inputs[i].seed for i in rows]),
                    output_type="pil", callback_on_step_end=progress)
            # 3. one PNG artifact per row
            for row, i in enumerate(rows):
                outputs[i] = self.Output(image=ctx.store.put_image(result.images[row]))
        return outputs  # type: ignore[return-value]

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight Stable Diffusion (~0.5 MB) with sd-turbo's scheduler settings."""
        from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

        save_tiny_sd(path, StableDiffusionPipeline,
                     EulerDiscreteScheduler(timestep_spacing="trailing", steps_offset=1))


class ImageEdit(DiffusersTool):
    """Change an image as an instruction says (InstructPix2Pix).

    The picture is scaled to fit the tool's ``max_pixels`` option (default 768x768) with sides
    rounded down to multiples of 8; the edited image has that size.

    >>> ImageEdit.card()["inputs"]["instruction"]["required"]
    True
    """

    name = "image_edit"
    description = (
        "Edits an image following an instruction such as 'make it snowy' or 'turn the car "
        "blue', keeping the rest of the picture. Optional steps, guidance, image guidance "
        "and seed."
    )
    default_checkpoint = "timbrooks/instruct-pix2pix"
    # SD 1.5 layout (~1.07B parameters: 2.1 GB in fp16); three UNet passes per step (text and
    # image guidance) on 512x512 latents.
    resources = Resources(num_gpus=0.25, num_cpus=1.0, gpu_memory_gb=4.5)
    defaults = {"steps": 20, "guidance": 7.5, "image_guidance": 1.5, "max_pixels": 768 * 768}
    tiny_defaults = {"steps": 2, "max_pixels": 128 * 128}

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")

        image: ImageRef = Field(description="the image to edit")
        instruction: str = Field(min_length=1, max_length=_PROMPT_CHARS,
                                 description="what to change, e.g. 'make it snowy'")
        steps: int | None = Field(None, ge=1, le=100, description="denoising steps; None for "
                                  "the tool's default (20)")
        guidance: float | None = Field(
            None, ge=0.0, le=30.0, description="how strongly to follow the instruction; None "
            "for the tool's default (7.5)")
        image_guidance: float | None = Field(
            None, ge=1.0, le=10.0, description="how closely to keep the original picture "
            "(higher keeps more); None for the tool's default (1.5)")
        seed: int = Field(0, ge=0, le=MAX_SEED, description="random seed; the same seed and "
                          "arguments give the same image")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")

        image: ImageRef = Field(description="the edited image (PNG)")

    def load(self) -> None:
        from diffusers import StableDiffusionInstructPix2PixPipeline as Pipeline

        self.pipe = self.load_pipeline(
            lambda path, dtype: Pipeline.from_pretrained(path, dtype=dtype))

    def _fit(self, image):
        """Scale down to at most ``max_pixels``; sides rounded down to multiples of 8."""
        from PIL import Image

        limit = int(self.default("max_pixels"))
        w, h = image.size
        scale = min(1.0, (limit / (w * h)) ** 0.5)
        size = (max(8, int(w * scale) // 8 * 8), max(8, int(h * scale) // 8 * 8))
        return image if size == (w, h) else image.resize(size, Image.Resampling.LANCZOS)

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        import torch

        # 1. decode and fit every picture; settings with their defaults
        images = [self._fit(ctx.store.load_image(inp.image)) for inp in inputs]
        settings = [self.resolve(inp, ("steps", "guidance", "image_guidance")) for inp in inputs]

        # 2. rows of one size and equal settings share a pipeline call
        groups = group_rows([(images[i].size, *settings[i].values()) for i in range(len(inputs))])
        progress = StepProgress(ctx, sum(settings[rows[0]]["steps"] for rows in groups.values()))
        outputs: list[BaseModel | None] = [None] * len(inputs)
        for rows in groups.values():
            s = settings[rows[0]]
            with torch.inference_mode():
                result = self.pipe(
                    prompt=[inputs[i].instruction for i in rows],
                    image=[images[i] for i in rows], num_inference_steps=s["steps"],
                    guidance_scale=s["guidance"], image_guidance_scale=s["image_guidance"],
                    generator=seeded_generators([inputs[i].seed for i in rows]),
                    output_type="pil", callback_on_step_end=progress)
            for row, i in enumerate(rows):
                outputs[i] = self.Output(image=ctx.store.put_image(result.images[row]))
        return outputs  # type: ignore[return-value]

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight InstructPix2Pix (UNet with 8 input channels: noise + image latents),
        with the real checkpoint's Euler-ancestral scheduler."""
        from diffusers import EulerAncestralDiscreteScheduler
        from diffusers import StableDiffusionInstructPix2PixPipeline as Pipeline

        save_tiny_sd(path, Pipeline, EulerAncestralDiscreteScheduler(steps_offset=1),
                     in_channels=8)
