"""Media that is not what it should be, said in words: what the bytes are (another kind of
media, a damaged file of the right kind, or nothing readable) and what was expected.

Decoders explain failures in their own terms ("cannot identify image file <_io.BytesIO object
at 0x7f...>"); a user needs to hear that the 512 bytes sent are no image at all, or that they
are a WAV sent where an image belongs.

>>> print(not_kind_error(b"these bytes are no picture", "image", "a.png"))
got a file of 26 bytes (a.png) that is not a readable image (PNG, JPEG, WebP, GIF, BMP or TIFF); \
expected an image
>>> kind_phrase("video")
'a video'
"""

from __future__ import annotations

import io
import re
from typing import Literal

from mmagent._messages import one_line
from mmagent.errors import InputError, InvalidMediaError, WrongKindError

__all__ = ["FORMATS", "CONTAINER_NAMES", "kind_phrase", "format_phrase", "container", "sniff",
           "not_kind_error", "undecodable_error", "reason"]

Kind = Literal["image", "audio", "video"]
FORMATS: dict[str, str] = {"image": "PNG, JPEG, WebP, GIF, BMP or TIFF",
                           "audio": "WAV, FLAC, OGG or MP3",
                           "video": "MP4, WebM, GIF or AVI"}
"""The formats the store reads, by kind, as messages list them."""
_NOUNS = {"image": "image", "audio": "audio file", "video": "video"}
CONTAINER_NAMES = {"video/mp4": "MP4", "video/webm": "WebM", "video/gif": "GIF",
               "video/x-msvideo": "AVI"}
"""The video containers the store reads, by MIME type, as messages name them."""
_REPR = re.compile(r"\s*<[^<>]*>")  # an object repr (<_io.BytesIO object at 0x...>, <BytesIO>)


def kind_phrase(kind: str) -> str:
    """``kind`` with its article: "an image", "an audio file", "a video"."""
    noun = _NOUNS.get(kind, kind)
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def format_phrase(fmt: str, kind: str) -> str:
    """A file format with its article and kind: "a PNG image", "an MP3 audio file"."""
    spoken_vowel = fmt[:1] in "AEIO" or fmt.startswith("MP")  # an OGG, an MP3, an MPEG
    return ("an " if spoken_vowel else "a ") + f"{fmt} {_NOUNS.get(kind, kind)}"


def container(data: bytes) -> str | None:
    """The MIME type of a video container told by its first bytes (None: none known)."""
    head = data[:16]
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "video/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    return None


def not_kind_error(data: bytes, kind: Kind, source: str) -> InputError:
    """The error for ``data`` (from ``source``) that does not open as ``kind``: media of
    another kind (:class:`WrongKindError`), or nothing the store reads
    (:class:`InvalidMediaError`)."""
    other = sniff(data, skip=kind)
    if other is not None:
        return WrongKindError(f"got {format_phrase(other[1], other[0])} of {len(data)} bytes "
                              f"({source}); expected {kind_phrase(kind)} ({FORMATS[kind]})",
                              source=source)
    return InvalidMediaError(f"got a file of {len(data)} bytes ({source}) that is not a "
                             f"readable {_NOUNS[kind]} ({FORMATS[kind]}); expected "
                             f"{kind_phrase(kind)}", source=source)


def undecodable_error(fmt: str, data: bytes, kind: Kind, source: str, why: str
                      ) -> InvalidMediaError:
    """The error for ``data`` that opens as a ``fmt`` file of ``kind`` but does not decode
    (truncated, damaged); ``why`` is the decoder's reason (see :func:`reason`)."""
    return InvalidMediaError(f"got {format_phrase(fmt, kind)} of {len(data)} bytes ({source}) "
                             f"that does not decode ({why}); expected a complete "
                             f"{_NOUNS[kind]} ({FORMATS[kind]})", source=source)


def reason(e: BaseException) -> str:
    """A decoder's reason in words: its message without object reprs or the name of the
    in-memory file it read (libsndfile: "Error opening <BytesIO>: ...")."""
    text = str(getattr(e, "error_string", None) or e)
    text = _REPR.sub("", text).replace("Error opening :", "").strip(" :")
    return one_line(text, 200) or type(e).__name__


def sniff(data: bytes, skip: str | None = None) -> tuple[Kind, str] | None:
    """The kind and format of media ``data`` is by its header (``("audio", "WAV")``), not
    counting kind ``skip``; None when its header is none the store knows."""
    from PIL import Image

    if skip != "image":
        try:
            with Image.open(io.BytesIO(data)) as im:
                return "image", im.format or "unknown"
        except Exception:  # Pillow raises many types for data that is no image
            pass
    if skip != "audio":
        import soundfile as sf

        try:
            return "audio", sf.info(io.BytesIO(data)).format
        except Exception:  # libsndfile's error, or a header soundfile cannot parse
            pass
    mime = container(data)
    if skip != "video" and mime is not None:
        return "video", CONTAINER_NAMES[mime]
    return None
