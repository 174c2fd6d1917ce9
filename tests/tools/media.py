"""Media the utilities' tests share: frames whose index can be read back, tones, and refs that
parse but are never loaded."""

from __future__ import annotations

import numpy as np

V_REF = {"id": "0" * 64, "kind": "video", "mime": "video/mp4"}  # parse as refs; never loaded
A_REF = {"id": "1" * 64, "kind": "audio", "mime": "audio/wav"}
AUDIO_BAD = [({}, "clips"), ({"clips": []}, "clips"), ({"clips": [A_REF] * 17}, "clips"),
             ({"clips": [V_REF]}, "clips")]
"""Bad ``clips`` for the audio utilities, with the argument each error must name."""


def ramp(n=10, size=(24, 16)):
    """Frames whose brightness rises 20 levels per frame: a frame's index can be read back."""
    return [np.full((size[1], size[0], 3), 20 * i, np.uint8) for i in range(n)]


def tone(store, seconds, rate, freq=440.0, amp=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return store.put_audio(amp * np.sin(2 * np.pi * freq * t), rate)
