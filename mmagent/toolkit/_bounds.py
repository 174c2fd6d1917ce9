"""Input bounds: error messages that name the argument, the value given and the limit.

Pydantic checks the bounds a field declares (``ge``/``le``/``max_length``...); :func:`input_error`
turns its first error into a :class:`~mmagent.errors.ToolInputError` that says what was given and
what was expected. Bounds a field cannot declare — the pixels of an input image, the seconds of
an input clip — are checked by the helpers below, which tools call from ``Tool.check_input``
(run by ``parse_input``, so before any model runs).

>>> from mmagent.artifacts._store import ImageRef
>>> ref = ImageRef(id="0" * 64, mime="image/png", width=4000, height=3000)
>>> try:
...     check_image_pixels("image_edit", "image", ref, max_pixels=2048 * 2048)
... except ToolInputError as e:
...     print(e)
tool 'image_edit', argument 'image': got a 4000x3000 image (12000000 pixels); expected at most \
4194304 pixels
"""

from __future__ import annotations

from typing import Any

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import ToolInputError

__all__ = [
    "input_error",
    "check_bound",
    "check_image_pixels",
    "check_audio_seconds",
    "check_video_seconds",
    "check_video_frames",
]

_LIMITS = {  # pydantic error type -> (context key, words before the limit)
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "string_too_long": ("max_length", "at most"),
    "string_too_short": ("min_length", "at least"),
    "too_long": ("max_length", "at most"),
    "too_short": ("min_length", "at least"),
    "bytes_too_long": ("max_length", "at most"),
    "bytes_too_short": ("min_length", "at least"),
}
_UNITS = {"string_too_long": "characters", "string_too_short": "characters",
          "too_long": "items", "too_short": "items", "bytes_too_long": "bytes",
          "bytes_too_short": "bytes"}


def _tool_name(tool: Any) -> str:
    return tool if isinstance(tool, str) else tool.name


def _fail(tool: Any, arg: str, got: str, expected: str, **details: Any) -> ToolInputError:
    name = _tool_name(tool)
    return ToolInputError(f"tool {name!r}, argument {arg!r}: got {got}; expected {expected}",
                          tool=name, arg=arg, **details)


def _num(x: Any) -> str:
    """30.0 -> '30', 7.5 -> '7.5', 4194304 -> '4194304' (never '4.19e+06')."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return repr(x)
    return str(int(x)) if float(x).is_integer() else repr(x)


def _plural(n: Any, unit: str) -> str:
    return f"{n} {unit[:-1] if n == 1 and unit.endswith('s') else unit}"


def input_error(tool: Any, err: dict[str, Any]) -> ToolInputError:
    """A :class:`ToolInputError` from one pydantic error dict (``ValidationError.errors()[i]``).

    Bound violations say the value and the limit ("got 500; expected at most 100"); a string or
    list bound counts characters or items; other errors keep pydantic's wording.
    """
    loc = ".".join(str(p) for p in err.get("loc", ())) or "<input>"
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind in _LIMITS and _LIMITS[kind][0] in ctx:
        key, words = _LIMITS[kind]
        limit = ctx[key]
        unit = _UNITS.get(kind)
        if unit is None:  # a number
            return _fail(tool, loc, repr(value), f"{words} {_num(limit)}", value=value,
                         limit=limit)
        size = ctx.get("actual_length")
        if size is None:
            try:
                size = len(value)
            except TypeError:
                size = None
        noun = {"characters": "a text of", "items": "a list of", "bytes": ""}[unit]
        got = f"{noun} {_plural(size, unit)}".strip() if size is not None else repr(value)
        return _fail(tool, loc, got, f"{words} {_plural(limit, unit)}", value=size, limit=limit)
    if kind == "missing":
        return _fail(tool, loc, "nothing", "a value (the argument is required)")
    if kind == "extra_forbidden":
        return ToolInputError(f"tool {_tool_name(tool)!r}, argument {loc!r}: got an argument "
                              "the tool does not take; expected only its declared inputs",
                              tool=_tool_name(tool), arg=loc)
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ToolInputError(f"tool {_tool_name(tool)!r}, argument {loc!r}: got {shown}; "
                          f"{err.get('msg', 'invalid value')}", tool=_tool_name(tool), arg=loc)


def check_bound(tool: Any, arg: str, value: float, *, ge: float | None = None,
                le: float | None = None, gt: float | None = None, lt: float | None = None,
                unit: str = "") -> None:
    """Raise :class:`ToolInputError` unless ``value`` lies within the given bounds.

    ``tool`` is a tool (or its name); ``arg`` the argument as the user wrote it (``"images.2"``
    for the third image). ``unit`` is appended to both numbers ("s", "frames", "pixels").
    """
    suffix = f" {unit}" if unit else ""
    for limit, words, broken in ((le, "at most", lambda v, x: v > x),
                                 (lt, "less than", lambda v, x: v >= x),
                                 (ge, "at least", lambda v, x: v < x),
                                 (gt, "more than", lambda v, x: v <= x)):
        if limit is not None and broken(value, limit):
            raise _fail(tool, arg, f"{_num(value)}{suffix}", f"{words} {_num(limit)}{suffix}",
                        value=value, limit=limit)


def check_image_pixels(tool: Any, arg: str, ref: ArtifactRef, max_pixels: int) -> None:
    """An input image (or video frame size) must have at most ``max_pixels`` = width x height."""
    if ref.width is None or ref.height is None:
        return
    pixels = ref.width * ref.height
    if pixels > max_pixels:
        raise _fail(tool, arg, f"a {ref.width}x{ref.height} {ref.kind} ({pixels} pixels)",
                    f"at most {max_pixels} pixels", value=pixels, limit=max_pixels)


def check_audio_seconds(tool: Any, arg: str, ref: ArtifactRef, max_seconds: float) -> None:
    """An input audio clip must last at most ``max_seconds``."""
    if ref.duration_s is not None and ref.duration_s > max_seconds:
        raise _fail(tool, arg, f"{ref.duration_s:.1f} s of {ref.kind}",
                    f"at most {max_seconds:g} s", value=ref.duration_s, limit=max_seconds)


def check_video_seconds(tool: Any, arg: str, ref: ArtifactRef, max_seconds: float) -> None:
    """An input video must last at most ``max_seconds``."""
    check_audio_seconds(tool, arg, ref, max_seconds)


def check_video_frames(tool: Any, arg: str, ref: ArtifactRef, max_frames: int) -> None:
    """An input video must have at most ``max_frames`` frames."""
    if ref.frames is not None and ref.frames > max_frames:
        raise _fail(tool, arg, f"a video of {ref.frames} frames", f"at most {max_frames} frames",
                    value=ref.frames, limit=max_frames)
