"""``video_frames``: evenly spaced frames (first and last included) out of a video as PNG
images, e.g. for a captioner to look at. ffmpeg, no model.

>>> video_frames.card()["outputs"]["images"]["type"]
'list[image]'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mmagent.artifacts import ImageRef, MediaDecodeError, VideoRef, evenly_spaced, read_frames
from mmagent.toolkit import Ports, ToolContext, tool
from mmagent.tools._media import failed

__all__ = ["video_frames", "Frames"]


class Frames(Ports):
    images: list[ImageRef] = Field(description="the frames, in time order")
    timestamps: list[float] = Field(description="time of each frame in the video, seconds")


@tool
def video_frames(ctx: ToolContext, video: VideoRef,
                 count: Annotated[int, Field(ge=1, le=64)] = 8) -> Frames:
    """Extracts evenly spaced frames from a video as images (first and last frame included),
    e.g. to caption or inspect a video.

    Args:
        video: the video
        count: how many frames to extract (fewer if the video has fewer)
    """
    from mmagent.artifacts import probe_video

    path = ctx.store.path(video)
    try:
        # the store counted frames on the way in; older refs may lack the count
        total, fps = video.frames, video.fps
        if not total or not fps:
            info = probe_video(path)
            total, fps = info.frames, info.fps
        indices = evenly_spaced(total, count)
        frames = read_frames(path, indices)
    except MediaDecodeError as e:
        raise failed("video_frames", "could not read the video", e) from e
    fps = fps or 1.0
    return Frames(images=[ctx.store.put_image(f) for f in frames],
                  timestamps=[round(i / fps, 4) for i in indices])
