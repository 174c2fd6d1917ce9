"""What the media utilities share: failures as tool errors, and audio clips decoded at one rate
with the bound on their total length. No model and no checkpoint: ffmpeg (the binary inside the
``imageio-ffmpeg`` wheel) for video, numpy for audio."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from mmagent.artifacts import AudioRef, load_mono
from mmagent.errors import ToolExecutionError, ToolInputError
from mmagent.toolkit import Ports, ToolContext

__all__ = ["MAX_CLIPS", "Clips", "AudioResult", "failed", "load_clips", "check_total"]

MAX_CLIPS = 16

Clips = Field(min_length=1, max_length=MAX_CLIPS, description=f"the audio clips, 1 to {MAX_CLIPS}")
"""The ``clips`` input of the audio utilities."""


class AudioResult(Ports):
    """The outputs of the audio utilities."""

    audio: AudioRef = Field(description="the result, mono 16-bit WAV")
    sample_rate: int = Field(description="samples per second of the result (the highest rate "
                             "among the clips)")


def failed(tool: str, what: str, e: Exception) -> ToolExecutionError:
    return ToolExecutionError(f"tool {tool!r}: {what}: {e}", tool=tool)


def load_clips(ctx: ToolContext, clips: list[AudioRef]) -> tuple[list[np.ndarray], int]:
    """Every clip as mono float32 at the highest sample rate among them (nothing is lost)."""
    rate = max(c.sample_rate or 0 for c in clips) or ctx.store.load_audio(clips[0])[1]
    return [load_mono(ctx.store, c, rate) for c in clips], rate


def check_total(tool: str, ctx: ToolContext, seconds: float) -> None:
    limit = ctx.store.limits.max_audio_seconds
    if seconds > limit:
        raise ToolInputError(f"tool {tool!r}, argument 'clips': got clips making {seconds:.1f} "
                             f"s of audio; expected at most {limit:g} s "
                             "(limits.max_audio_seconds)", tool=tool, arg="clips")
