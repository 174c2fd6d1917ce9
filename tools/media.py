"""Media utilities that join model tools in a plan: frames out of a video, a sound track onto a
video, audio clips mixed or joined. No model and no checkpoint: ffmpeg (the binary inside the
``imageio-ffmpeg`` wheel) for video, numpy for audio.

>>> import tempfile, numpy as np
>>> from mmagent.artifacts._store import ArtifactStore
>>> from mmagent.tool._base import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> tone = store.put_audio(0.1 * np.ones(8000, np.float32), 16000)
>>> out = AudioConcat()(ToolContext(store), clips=[tone, tone])
>>> (out.audio.duration_s, out.sample_rate)
(1.0, 16000)
"""

from __future__ import annotations

import logging

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import (
    AudioRef,
    ImageRef,
    MediaDecodeError,
    VideoRef,
    evenly_spaced,
    load_mono,
    mux_audio,
    read_frames,
)
from mmagent.errors import ToolExecutionError, ToolInputError
from mmagent.tool import Resources, Tool, ToolContext

__all__ = ["VideoFrames", "VideoAddAudio", "AudioMix", "AudioConcat"]

logger = logging.getLogger(__name__)

MAX_CLIPS = 16
_UTILITY = Resources(num_gpus=0.0, num_cpus=1.0, gpu_memory_gb=0.0)


class _Utility(Tool):
    """A model-free tool: nothing to load, whatever the checkpoint."""

    category = "utility"
    resources = _UTILITY

    def _failed(self, what: str, e: Exception) -> ToolExecutionError:
        return ToolExecutionError(f"tool {self.name!r}: {what}: {e}", tool=self.name)


class VideoFrames(_Utility):
    """Pick evenly spaced frames (first and last included) out of a video as PNG images.

    >>> VideoFrames.card()["outputs"]["images"]["type"]
    'list[image]'
    """

    name = "video_frames"
    description = (
        "Extracts evenly spaced frames from a video as images (first and last frame included), "
        "e.g. to caption or inspect a video."
    )

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")

        video: VideoRef = Field(description="the video")
        count: int = Field(8, ge=1, le=64, description="how many frames to extract (fewer if "
                           "the video has fewer)")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")

        images: list[ImageRef] = Field(description="the frames, in time order")
        timestamps: list[float] = Field(description="time of each frame in the video, seconds")

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        from mmagent.artifacts import probe_video

        outputs = []
        for inp in inputs:
            path = ctx.store.path(inp.video)
            try:
                # the store counted frames on the way in; older refs may lack the count
                total, fps = inp.video.frames, inp.video.fps
                if not total or not fps:
                    info = probe_video(path)
                    total, fps = info.frames, info.fps
                indices = evenly_spaced(total, inp.count)
                frames = read_frames(path, indices)
            except MediaDecodeError as e:
                raise self._failed("could not read the video", e) from e
            fps = fps or 1.0
            outputs.append(self.Output(images=[ctx.store.put_image(f) for f in frames],
                                       timestamps=[round(i / fps, 4) for i in indices]))
        return outputs


class VideoAddAudio(_Utility):
    """Put an audio track on a video. The result is an MP4 as long as the video.

    >>> VideoAddAudio.card()["outputs"]["video"]["type"]
    'video'
    """

    name = "video_add_audio"
    description = (
        "Adds an audio track (speech, music) to a video and returns the video with sound. "
        "The result lasts as long as the video: longer audio is cut, shorter audio leaves "
        "the end silent."
    )

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")

        video: VideoRef = Field(description="the video (its own sound, if any, is replaced)")
        audio: AudioRef = Field(description="the sound track")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")

        video: VideoRef = Field(description="the video with the audio track, MP4")

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        outputs = []
        for inp in inputs:
            # An MP4's stream is kept as it is; other containers (WebM, GIF, AVI) are re-encoded
            # to H.264 so that the result plays in browsers.
            try:
                data = mux_audio(ctx.store.path(inp.video), ctx.store.path(inp.audio),
                                 copy_video=inp.video.mime == "video/mp4",
                                 duration_s=inp.video.duration_s)
            except MediaDecodeError as e:
                raise self._failed("could not mux", e) from e
            outputs.append(self.Output(video=ctx.store.put_bytes(data, "video")))
        return outputs


class _AudioInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clips: list[AudioRef] = Field(min_length=1, max_length=MAX_CLIPS,
                                  description=f"the audio clips, 1 to {MAX_CLIPS}")


class _AudioOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audio: AudioRef = Field(description="the result, mono 16-bit WAV")
    sample_rate: int = Field(description="samples per second of the result (the highest rate "
                             "among the clips)")


def _load_clips(ctx: ToolContext, clips: list[AudioRef]) -> tuple[list[np.ndarray], int]:
    """Every clip as mono float32 at the highest sample rate among them (nothing is lost)."""
    rate = max(c.sample_rate or 0 for c in clips) or ctx.store.load_audio(clips[0])[1]
    return [load_mono(ctx.store, c, rate) for c in clips], rate


def _check_total(tool: str, ctx: ToolContext, seconds: float) -> None:
    limit = ctx.store.limits.max_audio_seconds
    if seconds > limit:
        raise ToolInputError(f"tool {tool!r}, argument 'clips': got clips making {seconds:.1f} "
                             f"s of audio; expected at most {limit:g} s "
                             "(limits.max_audio_seconds)", tool=tool, arg="clips")


class AudioMix(_Utility):
    """Play clips at the same time (e.g. speech over music): the mix lasts as long as the
    longest clip. Clips are summed; if the sum would clip, the whole mix is scaled down.

    >>> AudioMix.card()["inputs"]["clips"]["type"]
    'list[audio]'
    """

    name = "audio_mix"
    description = (
        "Mixes audio clips so they play at the same time, e.g. a voice over background music. "
        "The result lasts as long as the longest clip."
    )
    Input = _AudioInput
    Output = _AudioOutput

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        for inp in inputs:
            _check_total(self.name, ctx, max(c.duration_s or 0.0 for c in inp.clips))
        outputs = []
        for inp in inputs:
            clips, rate = _load_clips(ctx, inp.clips)
            mix = np.zeros(max(len(c) for c in clips), dtype=np.float32)
            for c in clips:
                mix[: len(c)] += c
            peak = float(np.abs(mix).max(initial=0.0))
            if peak > 1.0:
                mix *= 0.99 / peak
            outputs.append(self.Output(audio=ctx.store.put_audio(mix, rate), sample_rate=rate))
        return outputs


class AudioConcat(_Utility):
    """Play clips one after another, with an optional silence between them.

    >>> AudioConcat.card()["inputs"]["gap"]["default"]
    0.0
    """

    name = "audio_concat"
    description = (
        "Joins audio clips one after another into a single clip, optionally with a pause "
        "between them."
    )

    class Input(_AudioInput):
        gap: float = Field(0.0, ge=0.0, le=10.0, description="seconds of silence between clips")

    Output = _AudioOutput

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        for inp in inputs:
            _check_total(self.name, ctx, sum(c.duration_s or 0.0 for c in inp.clips)
                         + inp.gap * (len(inp.clips) - 1))
        outputs = []
        for inp in inputs:
            clips, rate = _load_clips(ctx, inp.clips)
            silence = np.zeros(round(inp.gap * rate), dtype=np.float32)
            parts = [p for c in clips for p in (c, silence)][:-1]
            out = np.concatenate(parts)
            outputs.append(self.Output(audio=ctx.store.put_audio(out, rate), sample_rate=rate))
        return outputs
