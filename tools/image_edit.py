"""Instruction-based image editing with diffusers (``StableDiffusionInstructPix2PixPipeline``).

The default checkpoint is ``timbrooks/instruct-pix2pix``. The instruction says what to change
("make it snowy"); the picture keeps its layout. Deterministic given ``seed``: every row of a
batch draws its noise from its own CPU generator, so a batch gives what single calls give, on
any device.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> tool = ImageEdit(checkpoint="tiny", device="cpu")
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (40, 32), (200, 30, 30)))
>>> out = tool(ToolContext(store), image=ref, instruction="make it snowy", steps=1)
>>> (out.image.width, out.image.height)
(40, 32)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from mmagent.artifacts import ImageRef
from mmagent.toolkit import Ports, Resources, ToolContext
from mmagent.tools._diffusers import (
    DiffusersTool,
    DiffusionRow,
    save_tiny_sd,
    seed_field,
    steps_field,
)

__all__ = ["ImageEdit"]


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
    model_class = "diffusers.StableDiffusionInstructPix2PixPipeline"
    # SD 1.5 layout (~1.07B parameters: 2.1 GB in fp16); three UNet passes per step (text and
    # image guidance) on 512x512 latents.
    resources = Resources(num_gpus=0.25, num_cpus=1.0, gpu_memory_gb=4.5)
    defaults = {"steps": 20, "guidance": 7.5, "image_guidance": 1.5, "max_pixels": 768 * 768}
    tiny_defaults = {"steps": 2, "max_pixels": 128 * 128}
    setting_keys = ("steps", "guidance", "image_guidance")

    class Input(Ports):
        image: ImageRef = Field(description="the image to edit")
        instruction: str = Field(min_length=1, max_length=1000,
                                 description="what to change, e.g. 'make it snowy'")
        steps: int | None = steps_field("20")
        guidance: float | None = Field(
            None, ge=0.0, le=30.0, description="how strongly to follow the instruction; None "
            "for the tool's default (7.5)")
        image_guidance: float | None = Field(
            None, ge=1.0, le=10.0, description="how closely to keep the original picture "
            "(higher keeps more); None for the tool's default (1.5)")
        seed: int = seed_field("image")

    class Output(Ports):
        image: ImageRef = Field(description="the edited image (PNG)")

    def row(self, inp: BaseModel, settings: dict[str, Any], ctx: ToolContext) -> DiffusionRow:
        # pictures of one size and equal settings share a pipeline call
        image = self._fit(ctx.store.load_image(inp.image))
        return DiffusionRow(inp, settings, key=(image.size, *settings.values()),
                            steps=settings["steps"], image=image)

    def _fit(self, image):
        """Scale down to at most ``max_pixels``; sides rounded down to multiples of 8."""
        from PIL import Image

        limit = int(self.default("max_pixels"))
        w, h = image.size
        scale = min(1.0, (limit / (w * h)) ** 0.5)
        size = (max(8, int(w * scale) // 8 * 8), max(8, int(h * scale) // 8 * 8))
        return image if size == (w, h) else image.resize(size, Image.Resampling.LANCZOS)

    def encode(self, rows: list[DiffusionRow], ctx: ToolContext) -> dict[str, Any]:
        return {"prompt": [r.inp.instruction for r in rows], "image": [r.image for r in rows],
                "image_guidance_scale": rows[0].settings["image_guidance"],
                "output_type": "pil", **self.call_kwargs(rows)}

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight InstructPix2Pix (UNet with 8 input channels: noise + image latents),
        with the real checkpoint's Euler-ancestral scheduler."""
        from diffusers import EulerAncestralDiscreteScheduler
        from diffusers import StableDiffusionInstructPix2PixPipeline as Pipeline

        save_tiny_sd(path, Pipeline, EulerAncestralDiscreteScheduler(steps_offset=1),
                     in_channels=8)
