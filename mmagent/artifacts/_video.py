"""Video mechanics shared by the store and the tools: MP4/GIF writing, probing, decoding and
muxing a sound track (audio decoding and resampling are in :mod:`mmagent.artifacts`).

Video goes through the ffmpeg binary that ships inside the ``imageio-ffmpeg`` wheel, so nothing
needs a system ffmpeg. MP4s are H.264 in yuv420p with the index at the front (``+faststart``):
what browsers play. Encoding is bit-exact (no timestamps or encoder version in the file), so
equal frames give equal bytes and therefore equal artifact ids.

>>> import numpy as np, tempfile, pathlib
>>> frames = [np.full((16, 24, 3), 40 * i, np.uint8) for i in range(4)]
>>> path = pathlib.Path(tempfile.mkdtemp()) / "clip.mp4"
>>> _ = path.write_bytes(write_mp4(frames, fps=8))
>>> info = probe_video(path)
>>> (info.width, info.height, info.frames, info.fps, info.duration_s)
(24, 16, 4, 8.0, 0.5)
"""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "VideoInfo",
    "MediaDecodeError",
    "VideoTooLongError",
    "VideoTooLargeError",
    "header_size",
    "ffmpeg_exe",
    "write_mp4",
    "write_gif",
    "probe_video",
    "read_frames",
    "evenly_spaced",
    "mux_audio",
]

_FFMPEG_TIMEOUT_S = 300.0
_MAX_HEADER_SCAN = 64 * 2**20  # an MP4's moov box may follow its media data
# Bit-exact output: no creation time, no "Lavf x.y" tag, no encoder settings string that could
# change between runs, so the same frames always hash to the same artifact.
_BITEXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
             "-flags:a", "+bitexact"]


class MediaDecodeError(ValueError):
    """ffmpeg could not read or write a video; the message holds ffmpeg's first error line."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds: size in pixels, frames per second, frame count and duration, and
    its codecs as ffmpeg names them (``h264``, ``yuv420p``, ``aac``; None: no sound)."""

    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    codec: str = ""
    pix_fmt: str = ""
    audio_codec: str | None = None


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary inside the imageio-ffmpeg wheel (or ``$IMAGEIO_FFMPEG_EXE``)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _as_uint8(frame: Any) -> np.ndarray:
    """An RGB frame as an ``(h, w, 3)`` uint8 array; floats are read as values in [0, 1]."""
    if hasattr(frame, "convert"):  # PIL image
        return np.asarray(frame.convert("RGB"))
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"got a frame of shape {arr.shape}; expected (height, width, 3)")
    return arr


def _frames(frames: Iterable[Any]) -> list[np.ndarray]:
    arrs = [_as_uint8(f) for f in frames]
    if not arrs:
        raise ValueError("got no frames; expected at least one")
    if len({a.shape for a in arrs}) != 1:
        raise ValueError(f"got frames of different sizes {sorted({a.shape for a in arrs})}; "
                         "expected one size")
    return arrs


def _run_ffmpeg(args: list[str], what: str) -> None:
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                           *args], capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MediaDecodeError(f"ffmpeg could not {what}: "
                               f"{err[-1] if err else f'exit status {proc.returncode}'}")


def write_mp4(frames: Sequence[Any], fps: float, *, crf: int = 18) -> bytes:
    """Encode RGB frames (PIL images or arrays) as an H.264/yuv420p MP4 and return its bytes.

    yuv420p needs even sides, so an odd width or height is padded by one black pixel.
    """
    import imageio_ffmpeg

    arrs = _frames(frames)
    h, w = arrs[0].shape[:2]
    with tempfile.TemporaryDirectory(prefix="mmagent-mp4-") as tmp:
        path = os.path.join(tmp, "out.mp4")
        writer = imageio_ffmpeg.write_frames(
            path, (w, h), fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=None, macro_block_size=1, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                           "-movflags", "+faststart", *_BITEXACT])
        writer.send(None)  # start the ffmpeg process
        for a in arrs:
            writer.send(np.ascontiguousarray(a))
        writer.close()
        return Path(path).read_bytes()


def write_gif(frames: Sequence[Any], fps: float) -> bytes:
    """An animated GIF (looping) of the frames; GIF timing is in 10 ms steps."""
    from PIL import Image

    images = [Image.fromarray(a) for a in _frames(frames)]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, round(1000 / fps / 10) * 10), loop=0)
    return buf.getvalue()


def _mp4_track_size(data: bytes) -> tuple[int, int] | None:
    """The largest track size an MP4's ``moov/trak/tkhd`` boxes declare (16.16 fixed point),
    read from the bytes: nothing is decoded. None when there is no such box."""
    best, stack = None, [(0, len(data))]
    while stack:
        pos, end = stack.pop()
        while pos + 8 <= end:
            size, kind = struct.unpack(">I4s", data[pos:pos + 8])
            head = 8
            if size == 1 and pos + 16 <= end:
                size, head = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
            elif size == 0:
                size = end - pos
            if size < head or pos + size > end:
                break
            if kind in (b"moov", b"trak"):
                stack.append((pos + head, pos + size))
            elif kind == b"tkhd" and size >= head + 84:
                w, h = struct.unpack(">II", data[pos + size - 8:pos + size])
                w, h = w >> 16, h >> 16
                if w and h and (best is None or w * h > best[0] * best[1]):
                    best = (w, h)
            pos += size
    return best


def header_size(path: str | os.PathLike[str],
                max_pixels: int | None = None) -> tuple[int, int] | None:
    """The frame size a video's header declares, with no frame decoded: an MP4's track header,
    else the first video stream's line of ``ffmpeg -i`` (None when neither names a size).
    ``ffmpeg -i`` may decode a frame to fill in its stream line; ``max_pixels`` keeps that
    frame from being allocated when it is larger (the line still names its size)."""
    with open(path, "rb") as f:
        data = f.read(_MAX_HEADER_SCAN)
    if data[4:8] == b"ftyp":
        size = _mp4_track_size(data)
        if size is not None:
            return size
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", *_pixel_limit(max_pixels),
                           "-i", str(path)],
                          capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    for line in proc.stderr.decode("utf-8", errors="replace").splitlines():
        if line.lstrip().startswith("Stream ") and " Video: " in line:
            m = re.search(r"[ ,](\d{1,6})x(\d{1,6})[ ,\[]", line.split(" Video: ", 1)[1] + " ")
            if m:
                return int(m.group(1)), int(m.group(2))
    return None


def probe_video(path: str | os.PathLike[str], *, max_seconds: float | None = None,
                max_pixels: int | None = None) -> VideoInfo:
    """Size, fps, frame count and duration of a video file, decoding its first frame.

    Raises :class:`MediaDecodeError` when ffmpeg cannot decode it, :class:`VideoTooLargeError`
    when it holds frames of more than ``max_pixels``, and ``ValueError`` naming the duration
    when it is longer than ``max_seconds`` (checked before frames are counted).

    One huge frame costs gigabytes, so the size is checked before any frame is decoded: first
    as the container header declares it, then as the decoder reads it from the stream. A
    header can lie; then the decoder itself refuses every frame over ``max_pixels`` (ffmpeg's
    ``-max_pixels``) before allocating it.
    """
    import imageio_ffmpeg

    path = str(path)
    if max_pixels is not None:
        size = header_size(path, max_pixels)
        if size is not None and size[0] * size[1] > max_pixels:
            raise VideoTooLargeError(*size)
    try:
        gen = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24",
                                         input_params=_pixel_limit(max_pixels))
        meta = next(gen)
        w, h = (int(x) for x in meta["size"])
        if max_pixels is not None and w * h > max_pixels:
            gen.close()  # before the first frame is read from the pipe
            raise VideoTooLargeError(w, h)
        first = next(gen, None)  # decodes one frame: a broken stream fails here
        gen.close()
    except (OSError, RuntimeError, StopIteration, KeyError) as e:
        _raise_if_refused(str(e))
        raise MediaDecodeError(f"ffmpeg could not decode it ({_first_line(e)})") from e
    if first is None or w <= 0 or h <= 0:
        if max_pixels is not None:
            _count_frames(path, max_pixels)  # refused for its size, if that is why
        raise MediaDecodeError("it holds no decodable video frame")
    fps = float(meta.get("fps") or 0.0)
    duration = float(meta.get("duration") or 0.0)
    if max_seconds is not None and duration > max_seconds:
        raise VideoTooLongError(duration)
    frames, secs = _count_frames(path, max_pixels)
    duration = secs or duration
    if max_seconds is not None and duration > max_seconds:
        raise VideoTooLongError(duration)
    if fps <= 0 and duration > 0:
        fps = frames / duration
    return VideoInfo(width=w, height=h, fps=round(fps, 4), frames=int(frames),
                     duration_s=round(duration, 4), codec=str(meta.get("codec", "")),
                     pix_fmt=str(meta.get("pix_fmt", "")).split("(")[0],
                     audio_codec=meta.get("audio_codec"))


def _pixel_limit(max_pixels: int | None) -> list[str]:
    """ffmpeg input options under which its decoder refuses (does not allocate) a frame of
    more than ``max_pixels``, whatever the container says."""
    return [] if max_pixels is None else ["-max_pixels", str(max_pixels)]


_REFUSED = re.compile(r"Picture size (\d+)x(\d+) exceeds specified max pixel count")
_STATS = re.compile(r"frame=\s*(\d+).*?time=\s*(?:(\d+):(\d+):(\d+(?:\.\d+)?))?")


def _raise_if_refused(ffmpeg_log: str) -> None:
    """:class:`VideoTooLargeError` if ffmpeg's decoder refused a frame under ``-max_pixels``."""
    refused = _REFUSED.search(ffmpeg_log)
    if refused:
        raise VideoTooLargeError(int(refused.group(1)), int(refused.group(2)))


def _count_frames(path: str, max_pixels: int | None) -> tuple[int, float]:
    """Frames and seconds of the first video stream, every frame decoded (as imageio-ffmpeg's
    ``count_frames_and_secs``), none over ``max_pixels``: :class:`VideoTooLargeError` if the
    decoder refused one for its size."""
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", *_pixel_limit(max_pixels),
                           "-i", path, "-map", "0:v:0", "-vf", "null", "-f", "null", "-"],
                          capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    err = proc.stderr.decode("utf-8", errors="replace")
    _raise_if_refused(err)
    stats = _STATS.findall(err)
    if proc.returncode != 0 or not stats:
        lines = [line for line in err.splitlines() if line.strip()]
        raise MediaDecodeError(f"ffmpeg could not count its frames "
                               f"({lines[-1] if lines else f'exit status {proc.returncode}'})")
    frames, hours, minutes, seconds = stats[-1]
    secs = int(hours) * 3600 + int(minutes) * 60 + float(seconds) if hours else 0.0
    return int(frames), secs


class VideoTooLargeError(ValueError):
    """The video's frames have more pixels than the ``max_pixels`` given to
    :func:`probe_video` (by its header)."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(f"{width}x{height}")
        self.width, self.height = width, height


class VideoTooLongError(ValueError):
    """The video lasts longer than the ``max_seconds`` given to :func:`probe_video`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"{seconds:.1f} s")
        self.seconds = seconds


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def evenly_spaced(total: int, count: int) -> list[int]:
    """``count`` frame indices spread over ``total`` frames, first and last included.

    >>> evenly_spaced(10, 3), evenly_spaced(4, 6), evenly_spaced(9, 1)
    ([0, 4, 9], [0, 1, 2, 3], [4])
    """
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    if count == 1:
        return [(total - 1) // 2]
    return [round(i * (total - 1) / (count - 1)) for i in range(count)]


def read_frames(path: str | os.PathLike[str], indices: Sequence[int] | None = None, *,
                max_pixels: int | None = None) -> list:
    """Decode the frames at ``indices`` (all frames when None) as RGB PIL images.

    Frames stream through one at a time, so only the kept ones are held in memory. With
    ``max_pixels``, frames larger than that are :class:`VideoTooLargeError` before any is
    decoded (or, where the stream's size changes on the way, are not decoded at all).
    """
    import imageio_ffmpeg
    from PIL import Image

    wanted = None if indices is None else set(indices)
    out = []
    try:
        gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24",
                                         input_params=_pixel_limit(max_pixels))
        meta = next(gen)
        w, h = (int(x) for x in meta["size"])
        if max_pixels is not None and w * h > max_pixels:
            gen.close()
            raise VideoTooLargeError(w, h)
        for i, buf in enumerate(gen):
            if wanted is None or i in wanted:
                out.append(Image.frombytes("RGB", (w, h), bytes(buf)))
            if wanted is not None and len(out) == len(wanted):
                break
        gen.close()
    except (OSError, RuntimeError, StopIteration, KeyError) as e:
        _raise_if_refused(str(e))
        raise MediaDecodeError(f"ffmpeg could not decode {path} ({_first_line(e)})") from e
    return out


def mux_audio(video: str | os.PathLike[str], audio: str | os.PathLike[str], *,
              copy_video: bool, duration_s: float | None = None) -> bytes:
    """An MP4 with ``video``'s picture and ``audio`` as its (AAC) sound track; returns bytes.

    The result lasts as long as the video: longer audio is cut, shorter audio leaves the end
    silent. ``copy_video`` keeps the H.264 stream as it is (no re-encoding, no quality loss);
    otherwise the picture is re-encoded as H.264/yuv420p. ``duration_s`` is the video's
    duration when known (else it is probed).
    """
    if duration_s is None:
        duration_s = probe_video(video).duration_s
    vcodec = (["-c:v", "copy"] if copy_video else
              ["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
    with tempfile.TemporaryDirectory(prefix="mmagent-mux-") as tmp:
        out = os.path.join(tmp, "out.mp4")
        _run_ffmpeg(["-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
                     *vcodec, "-c:a", "aac", "-b:a", "128k", "-t", f"{duration_s:.4f}",
                     "-movflags", "+faststart", *_BITEXACT, out], "add the audio track")
        return Path(out).read_bytes()
