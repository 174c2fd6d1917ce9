"""``video_add_audio``: an audio track on a video; the result is an MP4 as long as the video.
ffmpeg, no model.

>>> video_add_audio.card()["outputs"]["video"]["type"]
'video'
"""

from __future__ import annotations

from mmagent.artifacts import AudioRef, MediaDecodeError, VideoRef, mux_audio
from mmagent.toolkit import ToolContext, tool
from mmagent.tools._media import failed

__all__ = ["video_add_audio"]


@tool(output="video")
def video_add_audio(ctx: ToolContext, video: VideoRef, audio: AudioRef) -> VideoRef:
    """Adds an audio track (speech, music) to a video and returns the video with sound. The
    result lasts as long as the video: longer audio is cut, shorter audio leaves the end
    silent.

    Args:
        video: the video (its own sound, if any, is replaced)
        audio: the sound track

    Returns:
        the video with the audio track, MP4
    """
    # An MP4's stream is kept as it is; other containers (WebM, GIF, AVI) are re-encoded to
    # H.264 so that the result plays in browsers.
    try:
        data = mux_audio(ctx.store.path(video), ctx.store.path(audio),
                         copy_video=video.mime == "video/mp4", duration_s=video.duration_s)
    except MediaDecodeError as e:
        raise failed("video_add_audio", "could not mux", e) from e
    return ctx.store.put_bytes(data, "video")
