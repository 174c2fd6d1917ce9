"""Audio decoding for the audio tools: band-limited resampling and the ffmpeg fallback."""

import numpy as np
import pytest

from mmagent.artifacts import load_mono, resample
from mmagent.errors import InvalidMediaError


def sine(hz: float, sr: int, seconds: float = 1.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def dominant_hz(samples: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * sr / len(samples))


@pytest.mark.parametrize("sr_from", [8_000, 22_050, 44_100, 48_000])
def test_resample_keeps_pitch_length_and_level(sr_from):
    out = resample(sine(440, sr_from), sr_from, 16_000)
    assert out.dtype == np.float32 and len(out) == 16_000
    assert abs(dominant_hz(out, 16_000) - 440) <= 1
    assert abs(np.abs(out).max() - 0.5) < 0.02


def test_resample_drops_what_the_new_rate_cannot_hold():
    out = resample(sine(12_000, 44_100), 44_100, 16_000)  # above the 8 kHz Nyquist limit
    assert np.abs(out).max() < 0.01


def test_stored_clip_is_decoded_at_the_asked_rate(store):
    ref = store.put_audio(sine(300, 22_050, 0.5), 22_050)
    out = load_mono(store, ref, 16_000)
    assert len(out) == 8_000 and abs(dominant_hz(out, 16_000) - 300) <= 2


def test_ffmpeg_decodes_what_soundfile_cannot(store, monkeypatch):
    ref = store.put_audio(sine(500, 44_100, 0.5), 44_100)

    def unreadable(_ref):
        raise RuntimeError("Error opening: Format not recognised.")  # as soundfile raises

    monkeypatch.setattr(store, "load_audio", unreadable)
    out = load_mono(store, ref, 16_000)  # through the ffmpeg inside imageio-ffmpeg
    assert abs(len(out) - 8_000) <= 16 and abs(dominant_hz(out, 16_000) - 500) <= 2
    store.path(ref).write_bytes(b"RIFF not really a wav at all")
    with pytest.raises(InvalidMediaError, match="does not decode as audio"):
        load_mono(store, ref, 16_000)
