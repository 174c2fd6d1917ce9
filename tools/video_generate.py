"""Text-to-video with AnimateDiff (diffusers ``AnimateDiffPipeline`` and a ``MotionAdapter``).

AnimateDiff adds motion modules to a Stable Diffusion 1.5 checkpoint. The tool's checkpoint is
that base model (default ``emilianJR/epiCRealism``, the one diffusers' AnimateDiff guide uses);
the motion adapter is the option ``motion_adapter`` (default
``guoyww/animatediff-motion-adapter-v1-5-2``) or, for a local checkpoint, its
``motion_adapter/`` folder. With a first ``image``, the still is turned into a clip of that
picture and animated by ``AnimateDiffVideoToVideoPipeline`` (the same components): ``strength``
says how far the frames may move away from it.

The video is an H.264/yuv420p MP4 (plays in browsers); ``preview`` is an animated GIF of the
same frames. Deterministic given ``seed`` (one CPU generator per row).

>>> import tempfile
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> tool = VideoGenerate(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> args = {"prompt": "waves on a beach", "width": 32, "height": 32, "frames": 4, "steps": 2}
>>> out = tool.run([tool.parse_input(args)], ToolContext(store))[0]
>>> (out.video.mime, out.video.frames, out.preview.mime, out.frames)
('video/mp4', 4, 'image/gif', 4)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from mmagent.artifacts import ImageRef, VideoRef, write_gif
from mmagent.errors import ToolInputError
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

__all__ = ["VideoGenerate"]

MAX_PIXELS = 768 * 768
MAX_FRAMES = 32  # AnimateDiff's motion modules attend over at most 32 positions
_ADAPTER = "guoyww/animatediff-motion-adapter-v1-5-2"


class VideoGenerate(DiffusersTool):
    """Make a short video clip from a prompt, optionally starting from an image (AnimateDiff).

    >>> VideoGenerate.card()["outputs"]["preview"]["type"]
    'image'
    """

    name = "video_generate"
    description = (
        "Generates a short video clip (MP4, with an animated GIF preview) from a text prompt, "
        "optionally animating a given first image. Optional number of frames, frames per "
        "second, size, steps and seed."
    )
    default_checkpoint = "emilianJR/epiCRealism"
    model_class = "diffusers.AnimateDiffPipeline"
    # SD 1.5 (~1.07B parameters) plus the motion adapter (~0.45B): 3 GB in fp16; two UNet passes
    # per step over 16 frames of 512x512 latents take most of the rest.
    resources = Resources(num_gpus=0.5, num_cpus=1.0, gpu_memory_gb=10.0)
    defaults = {"width": 512, "height": 512, "frames": 16, "fps": 8, "steps": 25,
                "guidance": 7.5}
    tiny_defaults = {"width": 32, "height": 32, "frames": 8, "steps": 2}
    setting_keys = ("width", "height", "frames", "fps", "steps", "guidance")

    class Input(Ports):
        prompt: str = Field(min_length=1, max_length=1000, description="what the video shows")
        negative_prompt: str | None = Field(
            None, max_length=1000, description="what the video should not show")
        image: ImageRef | None = Field(
            None, description="a first image to animate; None to start from the prompt alone")
        frames: int | None = Field(None, ge=2, le=MAX_FRAMES, description="number of frames; "
                                   "None for the tool's default (16)")
        fps: int | None = Field(None, ge=1, le=30, description="frames per second of the "
                                "video; None for the tool's default (8)")
        width: int | None = side_field("frame width", 1024, "512")
        height: int | None = side_field("frame height", 1024, "512")
        steps: int | None = steps_field("25")
        guidance: float | None = Field(None, ge=0.0, le=30.0, description="classifier-free "
                                       "guidance scale; None for the tool's default (7.5)")
        strength: float = Field(0.8, gt=0.0, le=1.0, description="with an image: how far the "
                                "frames may move away from it (1 ignores it)")
        seed: int = seed_field("video")

        @field_validator("height")
        @classmethod
        def _area(cls, height: int | None, info: ValidationInfo) -> int | None:
            return check_area(height, info, MAX_PIXELS, "pixels per frame")

    class Output(Ports):
        video: VideoRef = Field(description="the clip, H.264 MP4")
        preview: ImageRef = Field(description="the same frames as an animated GIF")
        frames: int = Field(description="number of frames in the video")
        fps: int = Field(description="frames per second of the video")

    @classmethod
    def extra_options(cls) -> dict[str, Any]:
        return {"motion_adapter": _ADAPTER}

    def load_model(self, path: str) -> Any:
        from diffusers import (
            AnimateDiffPipeline,
            AnimateDiffVideoToVideoPipeline,
            DDIMScheduler,
            MotionAdapter,
        )

        adapter_id = self.options.get("motion_adapter")
        if adapter_id is None:
            local = Path(path) / "motion_adapter"
            adapter_id = str(local) if local.is_dir() else _ADAPTER
        adapter = MotionAdapter.from_pretrained(adapter_id, dtype=self._dtype)
        # The scheduler AnimateDiff was trained with (linear betas, no sample clipping).
        scheduler = DDIMScheduler.from_pretrained(
            path, subfolder="scheduler", beta_schedule="linear", clip_sample=False,
            timestep_spacing="linspace", steps_offset=1)
        pipe = AnimateDiffPipeline.from_pretrained(path, motion_adapter=adapter,
                                                   scheduler=scheduler, dtype=self._dtype)
        # the same components, for animating a first image. from_pipe casts the components it
        # shares to its own dtype, float32 unless given: without it the whole pipeline went
        # back to fp32 (seen on CUDA with bf16 resolved).
        self.animate_image = AnimateDiffVideoToVideoPipeline.from_pipe(pipe, dtype=self._dtype)
        self.animate_image.set_progress_bar_config(disable=True)
        return self.place(pipe)

    def check_input(self, inp: BaseModel) -> None:
        # size and steps may come from the configured defaults, which no field declares
        s = self.resolve(inp, ("width", "height", "steps"))
        check_pixels(self.name, s["width"], s["height"], MAX_PIXELS)
        if inp.image is not None and int(s["steps"] * inp.strength) < 1:
            raise ToolInputError(
                f"tool {self.name!r}, argument 'strength': got {inp.strength:g} with "
                f"{s['steps']} steps, which leaves no denoising step; expected steps x "
                "strength >= 1", tool=self.name, arg="strength", value=inp.strength)

    def row(self, inp: BaseModel, settings: dict[str, Any], ctx: ToolContext) -> DiffusionRow:
        from PIL import ImageOps

        # a first image is cropped to the frame's aspect and scaled to its size; rows with
        # equal settings (and the same mode) share one pipeline call
        first = None if inp.image is None else ImageOps.fit(
            ctx.store.load_image(inp.image), (settings["width"], settings["height"]))
        # video-to-video skips the first (1 - strength) of the steps
        steps = settings["steps"] if first is None else min(int(settings["steps"] * inp.strength),
                                                            settings["steps"])
        return DiffusionRow(inp, settings, key=(*settings.values(), first is not None and
                                                inp.strength), steps=steps, image=first)

    def encode(self, rows: list[DiffusionRow], ctx: ToolContext) -> dict[str, Any]:
        s = rows[0].settings
        kwargs = {"prompt": [r.inp.prompt for r in rows],
                  "negative_prompt": [r.inp.negative_prompt or "" for r in rows],
                  "output_type": "np", **self.call_kwargs(rows)}
        if rows[0].image is None:
            return {**kwargs, "num_frames": s["frames"], "width": s["width"],
                    "height": s["height"]}
        return {**kwargs, "video": [[r.image] * s["frames"] for r in rows],
                "strength": rows[0].inp.strength}

    def forward(self, encoded: dict[str, Any], ctx: ToolContext) -> Any:
        pipe = self.animate_image if "video" in encoded else self.model
        return pipe(**encoded).frames  # (rows, frames, height, width, 3) in [0, 1]

    def decode(self, outputs: Any, rows: list[DiffusionRow], ctx: ToolContext) -> list[BaseModel]:
        # an MP4 and a GIF preview per row
        results = []
        for video, r in zip(outputs, rows, strict=True):
            frames, fps = list(video), r.settings["fps"]
            results.append(self.Output(
                video=ctx.store.put_video(frames, fps=fps),
                preview=ctx.store.put_bytes(write_gif(frames, fps), "image"),
                frames=len(frames), fps=fps))
        return results

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight SD 1.5-layout base (~0.5 MB) and a motion adapter in
        ``motion_adapter/``, laid out as a base checkpoint plus an adapter checkpoint."""
        import torch
        from diffusers import DDIMScheduler, MotionAdapter, StableDiffusionPipeline

        scheduler = DDIMScheduler(beta_schedule="linear", clip_sample=False, steps_offset=1,
                                  timestep_spacing="linspace")
        save_tiny_sd(path, StableDiffusionPipeline, scheduler, layers_per_block=2)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            adapter = MotionAdapter(block_out_channels=(8, 16), motion_layers_per_block=2,
                                    motion_norm_num_groups=2, motion_num_attention_heads=2,
                                    motion_max_seq_length=MAX_FRAMES)
        adapter.save_pretrained(Path(path) / "motion_adapter")

