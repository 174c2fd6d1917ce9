"""Sample inputs for any tool, derived from its ports: what ``Tool.example_inputs`` returns by
default (benchmarks and smoke tests run every registered tool on them).

Required ports are filled with small media (a 64x64 picture, a second of tone, a 1 s video) and
short words; optional ports keep their defaults. A tool whose inputs need more (an image set, a
folder) overrides ``example_inputs``.

>>> import tempfile
>>> from mmagent.artifacts._store import ArtifactStore
>>> from mmagent.tools.text_to_speech import TextToSpeech
>>> examples_from_ports(TextToSpeech, ArtifactStore(tempfile.mkdtemp()))[0]
{'text': 'a red apple on a wooden table'}
"""

from __future__ import annotations

import io
import typing
from typing import Any

import numpy as np

from mmagent.artifacts._store import ArtifactStore

__all__ = ["examples_from_ports", "sample_image", "sample_audio", "sample_video", "WORDS"]

WORDS = [
    "a red apple on a wooden table",
    "a dog running on the beach",
    "a city street at night",
    "a bowl of soup",
    "two birds on a branch",
    "a blue car near a house",
    "snow on the mountains",
    "a cup of coffee",
]
_LABELS = ["a cat", "a dog", "a car"]


def sample_image(store: ArtifactStore, i: int = 0, size: tuple[int, int] = (64, 64)):
    """A distinct small RGB picture per ``i`` (seeded noise over a colour)."""
    from PIL import Image

    rng = np.random.default_rng(i)
    base = np.array([(37 * i) % 256, (91 * i + 60) % 256, (53 * i + 120) % 256], np.float32)
    pixels = np.clip(base + rng.normal(0, 40, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    return store.put_image(Image.fromarray(pixels))


def sample_audio(store: ArtifactStore, i: int = 0, seconds: float = 1.0, sample_rate: int = 16000):
    """A tone, a different pitch per ``i``."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return store.put_audio(0.3 * np.sin(2 * np.pi * (220 + 55 * i) * t), sample_rate)


def sample_video(store: ArtifactStore, i: int = 0, frames: int = 8, fps: int = 8,
                 size: tuple[int, int] = (64, 64)):
    """A short MP4 (through the ffmpeg binary of ``imageio-ffmpeg``), else a GIF."""
    rng = np.random.default_rng(100 + i)
    shots = [rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(frames)]
    try:
        import imageio.v2 as imageio

        buf = io.BytesIO()
        with imageio.get_writer(buf, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                extension=".mp4", macro_block_size=1) as w:
            for shot in shots:
                w.append_data(shot)
        data = buf.getvalue()
    except Exception:  # no ffmpeg here: a GIF is a video the store accepts too
        from PIL import Image

        buf = io.BytesIO()
        ims = [Image.fromarray(s) for s in shots]
        ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:],
                    duration=int(1000 / fps), loop=0)
        data = buf.getvalue()
    return store.put_bytes(data, "video")


def _value(annotation: Any, field: Any, store: ArtifactStore, i: int) -> Any:
    from mmagent.toolkit._base import port_type

    kind = port_type(annotation)
    if kind == "image":
        return sample_image(store, i)
    if kind == "audio":
        return sample_audio(store, i)
    if kind == "video":
        return sample_video(store, i)
    if kind == "text":
        return WORDS[i % len(WORDS)]
    if kind in ("integer", "number"):
        low = next((getattr(m, "ge", None) or getattr(m, "gt", None) for m in field.metadata
                    if getattr(m, "ge", None) is not None or getattr(m, "gt", None) is not None),
                   None)
        value = max(1, low or 1)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "list[image]":
        return [sample_image(store, i + k) for k in range(2)]
    if kind == "list[audio]":
        return [sample_audio(store, i + k) for k in range(2)]
    if kind == "list[text]":
        return list(_LABELS)
    if kind.startswith("list["):
        return []
    return None


def examples_from_ports(tool_cls: Any, store: ArtifactStore, n: int = 3) -> list[dict[str, Any]]:
    """``n`` argument dicts filling ``tool_cls.Input``'s required fields; a field whose type
    has no sample (json) is left out, and the tool's ``parse_input`` will say so."""
    out = []
    for i in range(n):
        args: dict[str, Any] = {}
        for name, field in tool_cls.Input.model_fields.items():
            if not field.is_required():
                continue
            ann = field.annotation
            if typing.get_origin(ann) is typing.Literal:
                args[name] = typing.get_args(ann)[0]
                continue
            value = _value(ann, field, store, i)
            if value is not None:
                args[name] = value
        out.append(args)
    return out
