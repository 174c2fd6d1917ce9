"""Text-to-image with diffusers (``AutoPipelineForText2Image``).

The default checkpoint is ``stabilityai/sd-turbo`` (SD 2.1 distilled with adversarial diffusion
distillation: a usable 512x512 picture in 1-4 steps without classifier-free guidance, so an
agent's image step costs one UNet pass per step instead of two passes for each of 25-50 steps).
Any text-to-image checkpoint diffusers' auto pipeline knows loads by id; set
``options: {steps: 30, guidance: 7.5}`` for a non-distilled one such as
``stable-diffusion-v1-5/stable-diffusion-v1-5``.

Deterministic given ``seed``: every row of a batch draws its noise from its own CPU generator,
so a batch gives what single calls give, on any device.

>>> import tempfile
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> tool = ImageGenerate(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> args = {"prompt": "a cat", "width": 32, "height": 24, "steps": 2}
>>> out = tool.run([tool.parse_input(args)], ToolContext(store))
>>> (out[0].image.width, out[0].image.height)
(32, 24)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from mmagent.artifacts import ImageRef
from mmagent.toolkit import Ports, Resources, ToolContext
from mmagent.tools._diffusers import (
    DiffusersTool,
    DiffusionRow,
    check_area,
    check_pixels,
    save_tiny_sd,
    seed_field,
    side_field,
    steps_field,
)

__all__ = ["ImageGenerate"]

MAX_PIXELS = 1024 * 1024
_PROMPT_CHARS = 1000
_DEFAULT_SIZE = "512 for the default checkpoint"


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
    model_class = "diffusers.AutoPipelineForText2Image"
    # ~1.3B parameters (UNet 865M, OpenCLIP-H text encoder 354M, VAE 84M): 2.6 GB in fp16, plus
    # activations for a batch of 512x512 images.
    resources = Resources(num_gpus=0.25, num_cpus=1.0, gpu_memory_gb=4.0)
    defaults = {"width": 512, "height": 512, "steps": 4, "guidance": 0.0}
    tiny_defaults = {"width": 64, "height": 64, "steps": 2}
    setting_keys = ("width", "height", "steps", "guidance")

    class Input(Ports):
        prompt: str = Field(min_length=1, max_length=_PROMPT_CHARS,
                            description="what the image shows")
        negative_prompt: str | None = Field(
            None, max_length=_PROMPT_CHARS,
            description="what the image should not show; used only when guidance > 1")
        width: int | None = side_field("image width", 2048, _DEFAULT_SIZE)
        height: int | None = side_field("image height", 2048, _DEFAULT_SIZE)
        steps: int | None = steps_field("4 for sd-turbo")
        guidance: float | None = Field(
            None, ge=0.0, le=30.0, description="classifier-free guidance scale; 0 or 1 turns it "
            "off (what sd-turbo expects); None for the tool's default")
        seed: int = seed_field("image")

        @field_validator("height")
        @classmethod
        def _area(cls, height: int | None, info: ValidationInfo) -> int | None:
            return check_area(height, info, MAX_PIXELS)

    class Output(Ports):
        image: ImageRef = Field(description="the generated image (PNG)")

    def check_input(self, inp: BaseModel) -> None:
        # the size may come from the configured defaults, which no field declares
        s = self.resolve(inp, ("width", "height"))
        check_pixels(self.name, s["width"], s["height"], MAX_PIXELS)

    def encode(self, rows: list[DiffusionRow], ctx: ToolContext) -> dict[str, Any]:
        s = rows[0].settings
        return {"prompt": [r.inp.prompt for r in rows],
                # "" is what the pipeline uses for a missing negative prompt
                "negative_prompt": [r.inp.negative_prompt or "" for r in rows],
                "width": s["width"], "height": s["height"], "output_type": "pil",
                **self.call_kwargs(rows)}

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight Stable Diffusion (~0.5 MB) with sd-turbo's scheduler settings."""
        from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

        save_tiny_sd(path, StableDiffusionPipeline,
                     EulerDiscreteScheduler(timestep_spacing="trailing", steps_offset=1))
