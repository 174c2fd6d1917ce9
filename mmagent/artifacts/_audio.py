"""Audio decoding and resampling for the audio tools, without an ffmpeg on PATH.

Stored audio is read with soundfile (WAV, FLAC, OGG, MP3); anything soundfile cannot read is
decoded by the ffmpeg binary that ships inside the ``imageio-ffmpeg`` wheel. Resampling is
band-limited (FFT), so it needs neither scipy nor torchaudio.

>>> import numpy as np
>>> resample(np.ones(44_100, dtype=np.float32), 44_100, 16_000).shape
(16000,)
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np

from mmagent.artifacts._store import ArtifactRef, ArtifactStore
from mmagent.errors import InvalidMediaError

__all__ = ["load_mono", "resample"]

logger = logging.getLogger(__name__)

_FFMPEG_TIMEOUT_S = 300.0


def load_mono(store: ArtifactStore, ref: ArtifactRef, sample_rate: int) -> np.ndarray:
    """The clip ``ref`` as mono float32 samples at ``sample_rate`` Hz."""
    try:
        samples, sr = store.load_audio(ref)
    except RuntimeError as e:  # soundfile.LibsndfileError: a format libsndfile cannot read
        logger.info("soundfile could not read artifact %s (%s); trying ffmpeg", ref.id, e)
        return _ffmpeg_decode(store.path(ref), sample_rate)
    return resample(samples, sr, sample_rate)


def resample(samples: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Band-limited resampling of a mono signal (spectrum truncated or zero-padded)."""
    samples = np.asarray(samples, dtype=np.float32)
    if sr_from == sr_to or samples.size == 0:
        return samples
    n_out = max(1, round(samples.size * sr_to / sr_from))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    keep = n_out // 2 + 1
    if spectrum.size >= keep:
        spectrum = spectrum[:keep]
    else:
        spectrum = np.pad(spectrum, (0, keep - spectrum.size))
    out = np.fft.irfft(spectrum, n=n_out) * (n_out / samples.size)
    return out.astype(np.float32)


def _ffmpeg_decode(path: Path, sample_rate: int) -> np.ndarray:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-threads", "0", "-i", str(path),
           "-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le", "-ar", str(sample_rate), "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as e:
        raise InvalidMediaError(f"ffmpeg took over {_FFMPEG_TIMEOUT_S:g} s to decode {path}",
                                source=str(path)) from e
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        why = err[-1] if err else "no output"
        raise InvalidMediaError(f"{path} does not decode as audio ({why}); expected a format "
                                "soundfile or ffmpeg reads", source=str(path))
    return np.frombuffer(proc.stdout, np.int16).astype(np.float32) / 32768.0
