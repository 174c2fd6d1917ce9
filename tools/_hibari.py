"""hibari-tts: a neural English voice (distilled from Kokoro-82M) whose weights ship in its wheel.

One voice is bundled (``heart``, American English, 24 kHz; ONNX 7.9 MB, Apache-2.0). hibari's
other voices (``emma``, ``fenrir``, ``fable``, ``kore``) download from a model hub on first use,
which cannot happen offline: :func:`available` checks the bundle and hibari's cache
(``$HIBARI_HOME`` or ``~/.cache/hibari``) without touching the network, and the caller speaks a
voice hibari lacks with espeak-ng (:func:`espeak_voice_for`).
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["DEFAULT_VOICE", "SAMPLE_RATE", "available", "espeak_voice_for", "load", "speak"]

SAMPLE_RATE = 24_000
DEFAULT_VOICE = "heart"


def available(voice: str) -> bool:
    """True when hibari can load ``voice`` with no download: bundled, or already cached."""
    from hibari.voices import VOICES, voice_path

    if voice not in VOICES:
        return False
    try:
        voice_path(voice, download_missing=False)
    except FileNotFoundError:
        return False
    return True


def espeak_voice_for(voice: str | None) -> str | None:
    """The espeak-ng voice for ``voice``: itself, or for a hibari voice that is not downloaded
    espeak-ng's voice of its accent and gender (emma -> en-gb+f3, fenrir -> en-us+m3)."""
    from hibari.voices import VOICES

    entry = VOICES.get(voice) if voice else None
    if entry is None:
        return voice
    return entry["language"].lower() + ("+f3" if entry["gender"] == "female" else "+m3")


def load(voice: str = DEFAULT_VOICE):
    """A loaded ``hibari.Hibari`` for an available ``voice``, warmed up: its pronunciation front
    end (lexicon, tagger) loads lazily on the first call, which the first request should not pay.
    onnxruntime gets the cores this process may use, up to 4."""
    from hibari import Hibari
    from hibari.voices import voice_path

    model = voice_path(voice, download_missing=False)
    tts = Hibari(voice=voice, model=model, threads=min(len(os.sched_getaffinity(0)), 4))
    tts("Warm up.", seed=0)
    return tts


def speak(tts, text: str, speed: float, seed: int) -> np.ndarray:
    """Mono float32 samples at 24 kHz. ``seed`` fixes the vocoder's noise, so the same text
    always gives the same samples. hibari reads numbers, dates, times and units itself."""
    return np.asarray(tts(text, speed=speed, seed=seed), dtype=np.float32).clip(-1.0, 1.0)
