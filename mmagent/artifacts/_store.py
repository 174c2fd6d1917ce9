"""Media artifacts: typed references and a content-addressed local store.

Media never travels as bytes between tools, tasks or services: it is put into an
:class:`ArtifactStore` once (validated on the way in) and passed on as an :class:`ArtifactRef`.

>>> import tempfile, PIL.Image
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (4, 3)))
>>> (ref.kind, ref.mime, ref.width, ref.height)
('image', 'image/png', 4, 3)
>>> store.load_image(ref).size
(4, 3)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Literal, overload

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts._described import (
    CONTAINER_NAMES,
    FORMATS,
    container,
    format_phrase,
    not_kind_error,
    reason,
    undecodable_error,
)
from mmagent.errors import InputNotFoundError, InvalidMediaError, MediaLimitError

__all__ = [
    "REF_TYPES",
    "ArtifactKind",
    "ArtifactRef",
    "ImageRef",
    "AudioRef",
    "VideoRef",
    "MediaLimits",
    "ArtifactStore",
]

ArtifactKind = Literal["image", "audio", "video"]


class ArtifactRef(BaseModel):
    """A reference to media held in an :class:`ArtifactStore`. Small; safe to put in state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="sha256 of the stored bytes, hex")
    kind: ArtifactKind = Field(description="image, audio or video")
    mime: str = Field(description="MIME type of the stored bytes")
    size_bytes: int = Field(0, description="size of the stored bytes")
    width: int | None = Field(None, description="pixels (image, video)")
    height: int | None = Field(None, description="pixels (image, video)")
    sample_rate: int | None = Field(None, description="Hz (audio)")
    duration_s: float | None = Field(None, description="seconds (audio, video)")
    frames: int | None = Field(None, description="frame count (video)")
    fps: float | None = Field(None, description="frames per second (video)")

    @property
    def uri(self) -> str:
        return f"artifact://{self.id}"


class ImageRef(ArtifactRef):
    kind: Literal["image"] = "image"


class AudioRef(ArtifactRef):
    kind: Literal["audio"] = "audio"


class VideoRef(ArtifactRef):
    kind: Literal["video"] = "video"


REF_TYPES: dict[str, type[ImageRef] | type[AudioRef] | type[VideoRef]] = {
    "image": ImageRef, "audio": AudioRef, "video": VideoRef}
"""The reference class of each artifact kind."""
_EXT = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
    "image/bmp": ".bmp", "image/tiff": ".tiff", "audio/wav": ".wav", "audio/flac": ".flac",
    "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "video/mp4": ".mp4", "video/webm": ".webm",
    "video/gif": ".gif", "video/x-msvideo": ".avi",
}


class MediaLimits(BaseModel):
    """Bounds checked when media enters the store, and on the size of plans and workflows
    (config key ``limits``)."""

    model_config = ConfigDict(extra="forbid")

    max_bytes: int = Field(64 * 2**20, gt=0, description="largest accepted file, bytes")
    max_image_pixels: int = Field(36_000_000, gt=0, description="largest accepted width x height")
    max_audio_seconds: float = Field(600.0, gt=0, description="longest accepted audio clip")
    max_video_seconds: float = Field(120.0, gt=0, description="longest accepted video clip")
    max_tasks: int = Field(200, gt=0, description="most tasks in a plan, or nodes in a workflow, "
                           "checked before anything else")
    max_foreach: int = Field(100, gt=0, description="most runs one foreach node may fan out to")


def atomic_write(final: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to ``final`` so that a reader sees the old file or the whole new one
    (written beside it, in ``tmp_dir`` if given, then renamed)."""
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or final.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArtifactStore:
    """A directory of media addressed by the sha256 of their bytes.

    Writes are atomic (temporary file, validation, then rename), so a failed or interrupted
    ``put`` leaves nothing behind under ``objects/``.

    With ``remote`` (an object store such as :class:`mmagent.stores._s3.S3Objects`), bytes and
    metadata are written there first, and the directory is this machine's cache: ``get`` and
    ``path`` materialise an artifact another node stored, so tools always get a local file.
    """

    def __init__(self, root: str | os.PathLike[str], limits: MediaLimits | None = None,
                 remote=None) -> None:
        self.root = Path(root).expanduser()
        self.limits = limits or MediaLimits()
        self.remote = remote
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    # -- writing ------------------------------------------------------------------------------

    @overload
    def put_file(self, path: str | os.PathLike[str], kind: Literal["image"]) -> ImageRef: ...
    @overload
    def put_file(self, path: str | os.PathLike[str], kind: Literal["audio"]) -> AudioRef: ...
    @overload
    def put_file(self, path: str | os.PathLike[str], kind: Literal["video"]) -> VideoRef: ...
    @overload
    def put_file(self, path: str | os.PathLike[str], kind: ArtifactKind) -> ArtifactRef: ...

    def put_file(self, path: str | os.PathLike[str], kind: ArtifactKind) -> ArtifactRef:
        """Validate a user's file as ``kind`` and store a copy of it."""
        p = Path(path).expanduser()
        if not p.is_file():
            raise InputNotFoundError(f"got {str(path)!r} for the {kind} file; expected an "
                                     "existing, readable file", path=str(path))
        size = p.stat().st_size
        self._check_bytes(size, str(path))
        try:
            data = p.read_bytes()
        except OSError as e:
            raise InputNotFoundError(f"could not read {str(path)!r}: {e.strerror}",
                                     path=str(path)) from e
        return self.put_bytes(data, kind, source=str(path))

    @overload
    def put_bytes(self, data: bytes, kind: Literal["image"], *, source: str = ...) -> ImageRef: ...
    @overload
    def put_bytes(self, data: bytes, kind: Literal["audio"], *, source: str = ...) -> AudioRef: ...
    @overload
    def put_bytes(self, data: bytes, kind: Literal["video"], *, source: str = ...) -> VideoRef: ...
    @overload
    def put_bytes(self, data: bytes, kind: ArtifactKind, *,
                  source: str = ...) -> ArtifactRef: ...

    def put_bytes(self, data: bytes, kind: ArtifactKind, *,
                  source: str = "the data") -> ArtifactRef:
        """Validate ``data`` as ``kind`` and store it (a no-op if those bytes are stored)."""
        self._check_bytes(len(data), source)
        meta = _PROBES[kind](data, source, self.limits)
        digest = hashlib.sha256(data).hexdigest()
        ref = REF_TYPES[kind](id=digest, size_bytes=len(data), **meta)
        final = self._data_path(ref)
        if final.exists() and self._meta_path(digest).exists():
            return ref  # with a remote, a local copy means the remote has it
        if self.remote is not None and not self.remote.exists(self._key(self._meta_path(digest))):
            self.remote.put(self._key(final), data)  # metadata last: it marks a complete put
            self.remote.put(self._key(self._meta_path(digest)), ref.model_dump_json().encode())
        final.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(final, data, self.root / "tmp")
        atomic_write(self._meta_path(digest), ref.model_dump_json().encode(),
                     self.root / "tmp")
        return ref

    def put_image(self, image, format: str = "PNG") -> ImageRef:
        """Store a PIL image (encoded losslessly as PNG by default)."""
        buf = io.BytesIO()
        image.save(buf, format=format)
        return self.put_bytes(buf.getvalue(), "image")

    def put_audio(self, samples: np.ndarray, sample_rate: int) -> AudioRef:
        """Store float samples in [-1, 1] (mono ``(n,)`` or ``(n, channels)``) as 16-bit WAV."""
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, np.asarray(samples, dtype=np.float32), int(sample_rate), format="WAV",
                 subtype="PCM_16")
        return self.put_bytes(buf.getvalue(), "audio")

    def put_video(self, frames, fps: float) -> VideoRef:
        """Store RGB frames (PIL images or ``(h, w, 3)`` arrays) as an H.264 MP4 at ``fps``."""
        from mmagent.artifacts._video import write_mp4

        return self.put_bytes(write_mp4(frames, fps), "video")

    # -- reading ------------------------------------------------------------------------------

    def get(self, artifact_id: str) -> ArtifactRef:
        """The ref stored under ``artifact_id``; :class:`InputNotFoundError` if there is none."""
        meta = self._meta_path(artifact_id)
        if _is_hex_id(artifact_id) and not meta.is_file() and self.remote is not None:
            self._materialise(meta)
        if not _is_hex_id(artifact_id) or not meta.is_file():
            raise InputNotFoundError(f"got artifact id {artifact_id[:80]!r}; expected the id of "
                                     f"a stored artifact in {self._where()}",
                                     artifact=artifact_id[:80])
        data = json.loads(meta.read_text())
        return REF_TYPES[data["kind"]].model_validate(data)

    def path(self, ref: ArtifactRef) -> Path:
        """A local file with the artifact's bytes (fetched from the remote store if needed)."""
        p = self._data_path(ref)
        if not p.is_file() and self.remote is not None and _is_hex_id(ref.id):
            self._materialise(p)
        if not p.is_file():
            raise InputNotFoundError(f"artifact {ref.id} is not in the store at "
                                     f"{self._where()}", artifact=ref.id)
        return p

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        return self.path(ref).read_bytes()

    def load_image(self, ref: ArtifactRef):
        """The image as an RGB PIL image."""
        from PIL import Image

        with Image.open(self.path(ref)) as im:
            return im.convert("RGB")

    def load_audio(self, ref: ArtifactRef) -> tuple[np.ndarray, int]:
        """Mono float32 samples and their sample rate."""
        import soundfile as sf

        samples, sr = sf.read(self.path(ref), dtype="float32", always_2d=True)
        return samples.mean(axis=1), int(sr)

    # -- internals ----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.remote!r} (cached in {self.root})" if self.remote is not None \
            else str(self.root)

    def _key(self, local: Path) -> str:
        """The remote key of a file under ``objects/``."""
        return local.relative_to(self.root).as_posix()

    def _materialise(self, local: Path) -> None:
        data = self.remote.get(self._key(local))
        if data is not None and local.suffix != ".json" and \
                hashlib.sha256(data).hexdigest() != local.name.split(".")[0]:
            raise InvalidMediaError(f"got bytes for {local.name} from {self.remote!r} whose "
                                    "sha256 differs from the id; expected the stored artifact",
                                    source=str(self.remote))
        if data is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(local, data, self.root / "tmp")

    def _data_path(self, ref: ArtifactRef) -> Path:
        return self.root / "objects" / ref.id[:2] / (ref.id + _EXT.get(ref.mime, ".bin"))

    def _meta_path(self, artifact_id: str) -> Path:
        return self.root / "objects" / artifact_id[:2] / (artifact_id + ".json")

    def _check_bytes(self, size: int, source: str) -> None:
        if size > self.limits.max_bytes:
            raise MediaLimitError(f"got {size} bytes in {source}; expected at most "
                                  f"{self.limits.max_bytes} (limits.max_bytes)", source=source)
        if size == 0:
            raise InvalidMediaError(f"got an empty file for {source}; expected media bytes",
                                    source=source)


def _is_hex_id(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)


def _probe_image(data: bytes, source: str, limits: MediaLimits) -> dict:
    from PIL import Image

    with warnings.catch_warnings():
        # our own limit applies (below); Pillow's bomb warning would be a second line
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:  # Pillow's own bound, far above ours
            raise _bomb(e, source, limits) from None
        except Exception:  # Pillow raises many types for data that is no image
            raise not_kind_error(data, "image", source) from None
        with im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise MediaLimitError(
                    f"got a {w}x{h} image ({w * h} pixels) in {source}; expected at most "
                    f"{limits.max_image_pixels} pixels (limits.max_image_pixels)", source=source)
            fmt = (im.format or "").upper()
            try:
                im.load()  # decode fully: truncated or corrupt files fail here
            except Image.DecompressionBombError as e:
                raise _bomb(e, source, limits) from None
            except Exception as e:
                raise undecodable_error(fmt or "unknown", data, "image", source,
                                        reason(e)) from e
    mime = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
            "BMP": "image/bmp", "TIFF": "image/tiff"}.get(fmt)
    if mime is None:
        raise InvalidMediaError(f"got {format_phrase(fmt or 'unknown', 'image')} "
                                f"({source}); expected {FORMATS['image']}", source=source)
    return {"mime": mime, "width": w, "height": h}


def _bomb(e: Exception, source: str, limits: MediaLimits) -> MediaLimitError:
    pixels = re.search(r"\((\d+) pixels\)", str(e))
    got = f"an image of {pixels.group(1)} pixels" if pixels else "an image too large to open"
    return MediaLimitError(f"got {got} in {source}; expected at most "
                           f"{limits.max_image_pixels} pixels (limits.max_image_pixels)",
                           source=source)


MAX_AUDIO_CHANNELS = 32
MAX_AUDIO_RATE = 384_000
"""Bounds on an audio header, so that ``limits.max_audio_seconds`` bounds what decoding costs."""


def _probe_audio(data: bytes, source: str, limits: MediaLimits) -> dict:
    import soundfile as sf

    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        _check_wav_layout(data, source)  # libsndfile quietly reads what is there
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except Exception:  # libsndfile's error, or a header soundfile cannot parse
        raise not_kind_error(data, "audio", source) from None
    with f:
        sr, frames, fmt = f.samplerate, f.frames, f.format
        duration = frames / sr if sr else 0.0
        # by the header, before decoding: a compressed file may claim far more samples
        # than its bytes (channels x rate x duration, as float32)
        if f.channels > MAX_AUDIO_CHANNELS or sr > MAX_AUDIO_RATE:
            raise MediaLimitError(
                f"got {f.channels} channels at {sr} Hz in {source}; expected at most "
                f"{MAX_AUDIO_CHANNELS} channels at {MAX_AUDIO_RATE} Hz", source=source)
        if duration > limits.max_audio_seconds:
            raise MediaLimitError(
                f"got {duration:.1f} s of audio in {source}; expected at most "
                f"{limits.max_audio_seconds:g} s (limits.max_audio_seconds)", source=source)
        try:
            f.read(dtype="float32")  # decode fully
        except Exception as e:
            raise undecodable_error(fmt, data, "audio", source, reason(e)) from e
    if frames == 0:
        raise InvalidMediaError(f"got {format_phrase(fmt, 'audio')} ({source}) that holds no "
                                "audio samples; expected a non-empty clip", source=source)
    mime = {"WAV": "audio/wav", "FLAC": "audio/flac", "OGG": "audio/ogg",
            "MP3": "audio/mpeg"}.get(fmt, "audio/wav")
    return {"mime": mime, "sample_rate": sr, "duration_s": round(duration, 4)}


def _check_wav_layout(data: bytes, source: str) -> None:
    """A WAV's header must agree with its bytes: a truncated file, or a header that claims
    more samples than the file holds, is refused rather than read in part."""
    declared = int.from_bytes(data[4:8], "little") + 8
    if declared > len(data):
        raise InvalidMediaError(f"got a WAV in {source} whose header declares {declared} bytes "
                                f"but the file holds {len(data)} (truncated, or the header "
                                "lies); expected a complete WAV file", source=source)
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if pos + 8 + size > len(data):
            raise InvalidMediaError(
                f"got a WAV in {source} whose {chunk.decode('latin-1')!r} chunk declares {size} "
                f"bytes but {len(data) - pos - 8} follow (truncated, or the header lies); "
                "expected a complete WAV file", source=source)
        if chunk == b"data":
            return
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    raise InvalidMediaError(f"got a WAV in {source} without a data chunk; expected audio "
                            "samples", source=source)


def _probe_video(data: bytes, source: str, limits: MediaLimits) -> dict:
    mime = container(data)
    if mime is None:
        raise not_kind_error(data, "video", source)
    meta = _decode_video(data, source, limits, mime)
    return {"mime": mime, **meta}


def _decode_video(data: bytes, source: str, limits: MediaLimits, mime: str) -> dict:
    """Decode the first frame, check the duration, count the frames (ffmpeg, no re-encode)."""
    from mmagent.artifacts._video import (
        MediaDecodeError,
        VideoTooLargeError,
        VideoTooLongError,
        probe_video,
    )

    with tempfile.TemporaryDirectory(prefix="mmagent-probe-") as tmp:
        path = Path(tmp) / ("video" + _EXT[mime])
        path.write_bytes(data)
        try:
            info = probe_video(path, max_seconds=limits.max_video_seconds,
                               max_pixels=limits.max_image_pixels)
        except VideoTooLargeError as e:  # before such a frame is decoded
            raise MediaLimitError(
                f"got {e.width}x{e.height} video frames in {source}; expected at most "
                f"{limits.max_image_pixels} pixels (limits.max_image_pixels)",
                source=source) from e
        except VideoTooLongError as e:
            raise MediaLimitError(
                f"got {e.seconds:.1f} s of video in {source}; expected at most "
                f"{limits.max_video_seconds:g} s (limits.max_video_seconds)", source=source) from e
        except MediaDecodeError as e:
            why = reason(e).replace(str(path), "the file")  # a temporary file of ours
            raise undecodable_error(CONTAINER_NAMES[mime], data, "video", source,
                                    why) from e
    if info.width * info.height > limits.max_image_pixels:
        raise MediaLimitError(
            f"got {info.width}x{info.height} video frames in {source}; expected at most "
            f"{limits.max_image_pixels} pixels (limits.max_image_pixels)", source=source)
    return {"width": info.width, "height": info.height, "frames": info.frames,
            "fps": info.fps, "duration_s": info.duration_s}


_PROBES = {"image": _probe_image, "audio": _probe_audio, "video": _probe_video}
